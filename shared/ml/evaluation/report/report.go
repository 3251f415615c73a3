package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/figure"
)

// ErrNothingToPlot means the input has neither labels nor metrics.
var ErrNothingToPlot = fault.New(fault.Invalid, "report: nothing to plot")

// Input is what one evaluation report shows. Only Metrics is required; each
// plot is drawn when its data is present.
type Input struct {
	// Title heads the HTML page; ModelID and TestSetHash identify what was
	// evaluated on what.
	Title       string
	ModelID     string
	TestSetHash string
	// Y and Score are the true classes and the positive-class probability
	// of a binary task (ROC, precision-recall, threshold and score plots).
	Y     []int
	Score []float64
	// Metrics and Intervals are the headline figures.
	Metrics   evaluation.EvaluationMetrics
	Intervals map[string]evaluation.Interval
	// ThresholdSource says where Metrics.Threshold came from
	// (evaluation.ThresholdFromModel or ThresholdFromRequest; empty: not
	// said) and ModelThreshold is the model's own threshold, shown beside
	// a requested one.
	ThresholdSource string
	ModelThreshold  float64
	// Thresholds, Calibration, CV, Slices and Latency are optional analyses.
	Thresholds  *evaluation.ThresholdAnalysis
	Calibration *evaluation.Calibration
	CV          *evaluation.CVResult
	Slices      []evaluation.SliceResult
	Latency     *evaluation.Latency
	// Importance is the features' permutation (and gain) importance.
	Importance *evaluation.FeatureImportance
}

// Report is a rendered report: every plot as PNG and SVG, and one
// self-contained HTML page (plots inlined as data URIs).
type Report struct {
	// Files maps file names ("roc.png", "roc.svg", ..., "report.html") to
	// their content.
	Files map[string][]byte
	// Plots lists the plot names drawn, in page order.
	Plots []string
}

// Plot names.
const (
	PlotROC          = "roc"
	PlotPR           = "precision_recall"
	PlotConfusion    = "confusion_matrix"
	PlotCalibration  = "calibration"
	PlotThresholds   = "thresholds"
	PlotScores       = "score_distributions"
	PlotFoldSpread   = "fold_spread"
	PlotImportance   = "feature_importance"
	HTMLFile         = "report.html"
	plotWidth        = 5 * vg.Inch
	plotHeight       = 3.6 * vg.Inch
	confusionMaxSide = 12
)

// Render draws every plot the input supports and the HTML page. Errors wrap
// ErrNothingToPlot or name the plot that failed.
func Render(in Input) (*Report, error) {
	if in.Metrics.Support == 0 {
		return nil, fmt.Errorf("render report for %s: %w", in.ModelID, ErrNothingToPlot)
	}
	figs, err := Figures(in)
	if err != nil {
		return nil, fmt.Errorf("render report for %s: %w", in.ModelID, err)
	}
	r := &Report{Files: map[string][]byte{}}
	for _, nf := range figs {
		for _, format := range []string{"png", "svg"} {
			b, err := nf.Figure.Encode(format)
			if err != nil {
				return nil, fmt.Errorf("render report for %s: %s.%s: %w", in.ModelID, nf.Name, format, err)
			}
			r.Files[nf.Name+"."+format] = b
		}
		r.Plots = append(r.Plots, nf.Name)
	}
	page, err := r.html(in)
	if err != nil {
		return nil, fmt.Errorf("render report for %s: html: %w", in.ModelID, err)
	}
	r.Files[HTMLFile] = page
	return r, nil
}

// NamedFigure is one plot of the report, laid out but not yet drawn.
type NamedFigure struct {
	Name   string
	Figure *figure.Figure
}

// Figures lays out every plot the input supports, in page order; tests
// inspect their layout (figure.Figure.Inspect).
func Figures(in Input) ([]NamedFigure, error) {
	type builder struct {
		name string
		fn   func(Input) (*figure.Figure, error)
	}
	builders := []builder{
		{PlotROC, rocPlot}, {PlotPR, prPlot}, {PlotConfusion, confusionPlot},
		{PlotCalibration, calibrationPlot}, {PlotThresholds, thresholdPlot},
		{PlotScores, scorePlot}, {PlotFoldSpread, foldPlot}, {PlotImportance, importancePlot},
	}
	var out []NamedFigure
	for _, b := range builders {
		f, err := b.fn(in)
		if err != nil {
			return nil, fmt.Errorf("%s plot: %w", b.name, err)
		}
		if f != nil {
			out = append(out, NamedFigure{b.name, f})
		}
	}
	return out, nil
}

func binaryScores(in Input) bool {
	return len(in.Y) > 0 && len(in.Y) == len(in.Score) && len(in.Metrics.Classes) == 2
}

func newFigure(title, x, y string) *figure.Figure {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return figure.New(p, plotWidth, plotHeight)
}

// line draws xys on f, registers it as data the legend must not cover and,
// with a name, gives it a legend entry.
func line(f *figure.Figure, xys plotter.XYs, c color.Color, dashed bool, legend string) error {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Width = vg.Points(1)
	}
	f.Plot.Add(l)
	f.AvoidLine(xys)
	if legend != "" {
		f.AddLegend(legend, l)
	}
	return nil
}

// Colours: the Okabe–Ito palette, grey for references.
var (
	blue    = figure.Blue
	orange  = figure.Orange
	green   = figure.BluishGreen
	red     = figure.Vermillion
	grey    = figure.Grey
	unitBox = func(p *plot.Plot) { p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1 }
)

func rocPlot(in Input) (*figure.Figure, error) {
	pts := curve(in)
	if pts == nil {
		return nil, nil
	}
	f := newFigure(fmt.Sprintf("ROC (AUC %.4f)", in.Metrics.AUCROC), "false-positive rate", "true-positive rate (completeness)")
	xys := make(plotter.XYs, len(pts))
	for i, c := range pts {
		xys[i] = plotter.XY{X: c.FPR, Y: c.TPR}
	}
	if err := line(f, plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, grey, true, "chance"); err != nil {
		return nil, err
	}
	if err := line(f, xys, blue, false, "model"); err != nil {
		return nil, err
	}
	unitBox(f.Plot)
	// Where an ROC curve leaves room.
	f.Prefer = []figure.Corner{figure.BottomRight, figure.TopLeft, figure.BottomLeft, figure.TopRight}
	return f, nil
}

func curve(in Input) []evaluation.CurvePoint {
	if !binaryScores(in) {
		return nil
	}
	return evaluation.Curve(in.Y, in.Score)
}

func prPlot(in Input) (*figure.Figure, error) {
	pts := curve(in)
	if pts == nil {
		return nil, nil
	}
	f := newFigure(fmt.Sprintf("Precision-recall (AP %.4f)", in.Metrics.AUCPR), "recall (completeness)", "precision (purity)")
	xys := make(plotter.XYs, 0, len(pts))
	for _, c := range pts[1:] {
		xys = append(xys, plotter.XY{X: c.TPR, Y: c.Precision})
	}
	var pos int
	for _, v := range in.Y {
		pos += v
	}
	base := float64(pos) / float64(len(in.Y))
	if err := line(f, plotter.XYs{{X: 0, Y: base}, {X: 1, Y: base}}, grey, true, "prevalence"); err != nil {
		return nil, err
	}
	if err := line(f, xys, blue, false, "model"); err != nil {
		return nil, err
	}
	unitBox(f.Plot)
	return f, nil
}

// confusionGrid adapts a confusion matrix to plotter.GridXYZ (row 0 at the
// top), each cell its row-normalised rate: the share of the true class
// predicted as the column's class.
type confusionGrid struct{ cm [][]int }

func (g confusionGrid) Dims() (c, r int) { return len(g.cm), len(g.cm) }
func (g confusionGrid) Z(c, r int) float64 {
	return rowRate(g.cm, len(g.cm)-1-r, c)
}
func (g confusionGrid) X(c int) float64 { return float64(c) }
func (g confusionGrid) Y(r int) float64 { return float64(r) }

// rowRate is cm[i][j] over row i's total (0 for an empty row).
func rowRate(cm [][]int, i, j int) float64 {
	var n int
	for _, v := range cm[i] {
		n += v
	}
	if n == 0 {
		return 0
	}
	return float64(cm[i][j]) / float64(n)
}

func confusionPlot(in Input) (*figure.Figure, error) { return ConfusionFigure(in.Metrics) }

// ConfusionFigure lays out the confusion matrix of m coloured by each true
// class's rate, each cell printing its count and rate in black or white by
// its colour; nil for no matrix or more than 12 classes.
func ConfusionFigure(m evaluation.EvaluationMetrics) (*figure.Figure, error) {
	cm := m.ConfusionMatrix
	k := len(cm)
	if k == 0 || k > confusionMaxSide {
		return nil, nil
	}
	colors := blues9.Colors()
	h := plotter.NewHeatMap(confusionGrid{cm}, blues9)
	h.Min, h.Max = 0, 1
	f := newFigure("Confusion matrix (colour: share of the true class)", "predicted class", "true class")
	f.Plot.Add(h)
	// Each cell prints its count over its row-normalised rate, in black or
	// white by the cell's colour.
	size := vg.Points(max(7, 12-float64(k)/2))
	for i := range k {
		for j := range k {
			rate := rowRate(cm, i, j)
			ink := figure.TextOn(cellColor(colors, rate))
			y := float64(k - 1 - i)
			for _, lab := range []struct {
				text string
				dy   vg.Length
			}{{strconv.Itoa(cm[i][j]), size * 0.6}, {strconv.FormatFloat(100*rate, 'f', 1, 64) + " %", -size * 0.6}} {
				l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(j), Y: y}}, Labels: []string{lab.text}})
				if err != nil {
					return nil, err
				}
				l.TextStyle[0].Color = ink
				l.TextStyle[0].Font.Size = size
				l.TextStyle[0].XAlign, l.TextStyle[0].YAlign = draw.XCenter, draw.YCenter
				l.Offset = vg.Point{Y: lab.dy}
				f.Plot.Add(l)
			}
		}
	}
	names := m.Classes
	xt, yt := make([]plot.Tick, k), make([]plot.Tick, k)
	for i := range k {
		name := strconv.Itoa(i)
		if i < len(names) {
			name = names[i]
		}
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[k-1-i] = plot.Tick{Value: float64(k - 1 - i), Label: name}
	}
	f.Plot.X.Tick.Marker = plot.ConstantTicks(xt)
	f.Plot.Y.Tick.Marker = plot.ConstantTicks(yt)
	f.Plot.X.Min, f.Plot.X.Max = -0.5, float64(k)-0.5
	f.Plot.Y.Min, f.Plot.Y.Max = -0.5, float64(k)-0.5
	side := max(plotHeight, vg.Length(k)*0.55*vg.Inch+1.2*vg.Inch)
	f.Width, f.Height = side+0.6*vg.Inch, side
	figure.UprightIfCrowded(f.Plot, side-1.2*vg.Inch)
	return f, nil
}

// cellColor is the palette colour plotter.HeatMap paints a rate in (its
// scaling over [0, 1]), so each cell's ink is chosen against its own colour.
// sequential is a palette.Palette of fixed colours.
type sequential []color.Color

// Colors returns the palette's colours, lightest first.
func (p sequential) Colors() []color.Color { return p }

// blues9 is ColorBrewer's sequential Blues of 9 classes (colorbrewer2.org;
// gonum's palette/brewer.GetPalette(brewer.TypeSequential, "Blues", 9),
// which a test compares it with). It is written out so that the report
// does not link palette/brewer, whose package init builds every ColorBrewer
// palette in every program that links it — the api function's cold start
// among them (issue 16 item 7).
var blues9 = sequential{
	color.RGBA{0xf7, 0xfb, 0xff, 0xff}, color.RGBA{0xde, 0xeb, 0xf7, 0xff}, color.RGBA{0xc6, 0xdb, 0xef, 0xff},
	color.RGBA{0x9e, 0xca, 0xe1, 0xff}, color.RGBA{0x6b, 0xae, 0xd6, 0xff}, color.RGBA{0x42, 0x92, 0xc6, 0xff},
	color.RGBA{0x21, 0x71, 0xb5, 0xff}, color.RGBA{0x08, 0x51, 0x9c, 0xff}, color.RGBA{0x08, 0x30, 0x6b, 0xff},
}

func cellColor(colors []color.Color, rate float64) color.Color {
	return colors[int(rate*float64(len(colors)-1)+0.5)]
}

func calibrationPlot(in Input) (*figure.Figure, error) {
	if in.Calibration == nil || len(in.Calibration.Bins) == 0 {
		return nil, nil
	}
	c := in.Calibration
	f := newFigure(fmt.Sprintf("Calibration (ECE %.4f)", c.ECE), "mean predicted probability", "fraction of positives")
	xys := make(plotter.XYs, len(c.Bins))
	for i, b := range c.Bins {
		xys[i] = plotter.XY{X: b.MeanPredicted, Y: b.FractionPositive}
	}
	if err := line(f, plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, grey, true, "perfect"); err != nil {
		return nil, err
	}
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, err
	}
	l.Color, s.Color = blue, blue
	f.Plot.Add(l, s)
	f.AvoidLine(xys)
	f.AddLegend("model", l, s)
	unitBox(f.Plot)
	return f, nil
}

func thresholdPlot(in Input) (*figure.Figure, error) {
	if in.Thresholds == nil || len(in.Thresholds.Curve) < 2 {
		return nil, nil
	}
	pts := slices.Clone(in.Thresholds.Curve)
	sort.Slice(pts, func(i, j int) bool { return pts[i].Threshold < pts[j].Threshold })
	f := newFigure("Threshold curves", "decision threshold", "")
	series := []struct {
		name string
		c    color.Color
		get  func(evaluation.ThresholdPoint) float64
	}{
		{"precision (purity)", blue, func(t evaluation.ThresholdPoint) float64 { return t.Precision }},
		{"recall (completeness)", orange, func(t evaluation.ThresholdPoint) float64 { return t.Recall }},
		{"F1", green, func(t evaluation.ThresholdPoint) float64 { return t.F1 }},
		{"false-positive rate", red, func(t evaluation.ThresholdPoint) float64 { return t.FPR }},
	}
	for _, s := range series {
		xys := make(plotter.XYs, len(pts))
		for i, t := range pts {
			xys[i] = plotter.XY{X: t.Threshold, Y: s.get(t)}
		}
		if err := line(f, xys, s.c, false, s.name); err != nil {
			return nil, err
		}
	}
	if t := in.Metrics.Threshold; t > 0 {
		if err := line(f, plotter.XYs{{X: t, Y: 0}, {X: t, Y: 1}}, grey, true, fmt.Sprintf("threshold %.3f", t)); err != nil {
			return nil, err
		}
	}
	unitBox(f.Plot)
	return f, nil
}

// scoreBins is the number of histogram bins over [0, 1].
const scoreBins = 40

func scorePlot(in Input) (*figure.Figure, error) {
	if !binaryScores(in) {
		return nil, nil
	}
	f := newFigure("Score distribution per class", "p("+in.Metrics.Classes[1]+")", "density")
	// Translucent fills with solid outlines, so where the classes overlap
	// both stay visible (blue and orange mix to grey, not to a third hue).
	for c, col := range []color.RGBA{blue, orange} {
		var v plotter.Values
		for i, y := range in.Y {
			if y == c {
				v = append(v, in.Score[i])
			}
		}
		if len(v) == 0 {
			continue
		}
		h, err := plotter.NewHist(v, scoreBins)
		if err != nil {
			return nil, err
		}
		h.Normalize(1)
		h.FillColor = figure.Translucent(col, 90)
		h.LineStyle.Color = col
		h.LineStyle.Width = vg.Points(1.2)
		f.Plot.Add(h)
		for _, b := range h.Bins {
			if b.Weight > 0 {
				f.AvoidRect(b.Min, 0, b.Max, b.Weight)
			}
		}
		f.AddLegend(in.Metrics.Classes[c], h)
	}
	f.Plot.Y.Min = 0
	return f, nil
}

func foldPlot(in Input) (*figure.Figure, error) {
	if in.CV == nil || len(in.CV.Folds) < 2 {
		return nil, nil
	}
	metrics := []string{"accuracy", "precision", "recall", "f1_score", "auc_roc", "auc_pr"}
	f := newFigure("Spread over "+strconv.Itoa(len(in.CV.Folds))+" folds", "", "value")
	var ticks []plot.Tick
	for i, name := range metrics {
		var v plotter.Values
		for _, fold := range in.CV.Folds {
			if x, ok := evaluation.MetricValue(fold.Metrics, name); ok && !math.IsNaN(x) {
				v = append(v, x)
			}
		}
		if len(v) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(vg.Points(20), float64(i), v)
		if err != nil {
			return nil, err
		}
		b.FillColor = figure.Translucent(blue, 60)
		f.Plot.Add(b)
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: name})
	}
	f.Plot.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Half a slot each side, so the first and last labels fit.
	f.Plot.X.Min, f.Plot.X.Max = -0.6, float64(len(metrics))-0.4
	return f, nil
}

// importancePlot draws the permutation importance of every feature (mean
// drop of the metric) as bars, largest first.
func importancePlot(in Input) (*figure.Figure, error) {
	fi := in.Importance
	if fi == nil || len(fi.Features) == 0 {
		return nil, nil
	}
	f := newFigure("Permutation importance", "", "drop in "+fi.Metric)
	var v plotter.Values
	var ticks []plot.Tick
	for i, feat := range fi.Features {
		m := feat.PermutationMean
		if math.IsNaN(m) {
			m = 0
		}
		v = append(v, m)
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: feat.Feature})
	}
	b, err := plotter.NewBarChart(v, vg.Points(14))
	if err != nil {
		return nil, err
	}
	b.Color = figure.Translucent(blue, 160)
	f.Plot.Add(b)
	f.Plot.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Half a slot each side, so the first and last labels fit.
	f.Plot.X.Min, f.Plot.X.Max = -0.6, float64(len(v))-0.4
	return f, nil
}

// metricRow is one line of the HTML metrics table.
type metricRow struct {
	Name, Value, Lower, Upper string
}

func format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "undefined"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

func (r *Report) html(in Input) ([]byte, error) {
	var rows []metricRow
	seen := map[string]bool{}
	add := func(name string) {
		v, ok := evaluation.MetricValue(in.Metrics, name)
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		row := metricRow{Name: name, Value: format(v)}
		if iv, ok := in.Intervals[name]; ok {
			row.Lower, row.Upper = format(iv.Lower), format(iv.Upper)
		}
		rows = append(rows, row)
	}
	for _, name := range evaluation.HeadlineMetrics {
		add(name)
	}
	var rest []string
	for name := range in.Metrics.CustomMetrics {
		rest = append(rest, name)
	}
	slices.Sort(rest)
	for _, name := range rest {
		add(name)
	}
	type figure struct {
		Name string
		Src  template.URL
	}
	var figs []figure
	for _, name := range r.Plots {
		src := "data:image/png;base64," + base64.StdEncoding.EncodeToString(r.Files[name+".png"])
		figs = append(figs, figure{Name: name, Src: template.URL(src)})
	}
	title := in.Title
	if title == "" {
		title = "Evaluation of " + in.ModelID
	}
	var buf bytes.Buffer
	err := page().Execute(&buf, map[string]any{
		"Title": title, "ModelID": in.ModelID, "Hash": in.TestSetHash, "Rows": in.Metrics.Support,
		"Threshold": format(in.Metrics.Threshold), "ThresholdNote": thresholdNote(in), "Metrics": rows, "Figures": figs,
		"Thresholds": in.Thresholds, "Calibration": in.Calibration, "CV": in.CV, "Slices": in.Slices,
		"Latency": in.Latency, "Confidence": confidence(in.Intervals), "Importance": in.Importance,
	})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// thresholdNote says where the decision threshold came from.
func thresholdNote(in Input) string {
	switch in.ThresholdSource {
	case evaluation.ThresholdFromModel:
		return "the model's own"
	case evaluation.ThresholdFromRequest:
		if in.ModelThreshold > 0 {
			return "requested for this evaluation; the model's own is " + format(in.ModelThreshold)
		}
		return "requested for this evaluation"
	}
	return ""
}

func confidence(iv map[string]evaluation.Interval) string {
	for _, v := range iv {
		return strconv.FormatFloat(100*v.Confidence, 'g', -1, 64) + " %"
	}
	return ""
}

// page is parsed on first use rather than at package init, which every
// cold start of a binary linking this package (the api Lambda) paid.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{"f": format}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5em}img{max-width:34em}code{font-size:.9em}
</style></head><body>
<h1>{{.Title}}</h1>
<p>Model <code>{{.ModelID}}</code> on {{.Rows}} rows{{if .Hash}} (test set SHA-256 <code>{{.Hash}}</code>){{end}};
decision threshold {{.Threshold}}{{with .ThresholdNote}} ({{.}}){{end}}.</p>
<h2>Metrics</h2>
<table><tr><th>metric</th><th>value</th><th>lower {{.Confidence}}</th><th>upper</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td>{{.Value}}</td><td>{{.Lower}}</td><td>{{.Upper}}</td></tr>
{{end}}</table>
{{with .Thresholds}}<h2>Thresholds</h2>
<table><tr><th>method</th><th>target</th><th>threshold</th><th>precision</th><th>recall</th><th>FPR</th><th>F1</th></tr>
<tr><td>F1-optimal</td><td></td><td>{{f .F1.Threshold}}</td><td>{{f .F1.Precision}}</td><td>{{f .F1.Recall}}</td><td>{{f .F1.FPR}}</td><td>{{f .F1.F1}}</td></tr>
<tr><td>Youden</td><td></td><td>{{f .Youden.Threshold}}</td><td>{{f .Youden.Precision}}</td><td>{{f .Youden.Recall}}</td><td>{{f .Youden.FPR}}</td><td>{{f .Youden.F1}}</td></tr>
{{range .AtFPR}}<tr><td>fixed FPR{{if not .Reachable}} (unreachable){{end}}</td><td>{{f .Target}}</td><td>{{f .Threshold}}</td><td>{{f .Precision}}</td><td>{{f .Recall}}</td><td>{{f .FPR}}</td><td>{{f .F1}}</td></tr>
{{end}}{{range .AtRecall}}<tr><td>fixed recall</td><td>{{f .Target}}</td><td>{{f .Threshold}}</td><td>{{f .Precision}}</td><td>{{f .Recall}}</td><td>{{f .FPR}}</td><td>{{f .F1}}</td></tr>
{{end}}</table>{{end}}
{{with .Calibration}}<h2>Calibration</h2><p>ECE {{f .ECE}}, MCE {{f .MCE}}, Brier score {{f .BrierScore}}.</p>{{end}}
{{with .CV}}<h2>Cross-validation</h2><p>{{.Splitter}}, {{len .Folds}} folds on {{.Workers}} workers, {{printf "%.1f" .Seconds}} s.</p>
<table><tr><th>metric</th><th>mean</th><th>std</th><th>min</th><th>max</th></tr>
{{range $k, $v := .Summary}}<tr><td>{{$k}}</td><td>{{f $v.Mean}}</td><td>{{f $v.Std}}</td><td>{{f $v.Min}}</td><td>{{f $v.Max}}</td></tr>
{{end}}</table>{{end}}
{{with .Slices}}<h2>Slices</h2><table><tr><th>slice</th><th>rows</th><th>positives</th><th>accuracy</th><th>precision</th><th>recall</th><th>AUC ROC</th></tr>
{{range .}}<tr><td>{{.Slice}}</td><td>{{.Rows}}</td><td>{{.Positives}}</td><td>{{f .Accuracy}}</td><td>{{f .Precision}}</td><td>{{f .Recall}}</td><td>{{f .AUCROC}}</td></tr>
{{end}}</table>{{end}}
{{with .Importance}}<h2>Feature importance</h2><p>Drop in {{.Metric}} (baseline {{f .Baseline}}) when a feature is shuffled, {{.Repeats}} shuffles on {{.Rows}} rows.</p>
<table><tr><th>feature</th><th>permutation mean</th><th>std</th><th>gain share</th></tr>
{{range .Features}}<tr><td>{{.Feature}}</td><td>{{f .PermutationMean}}</td><td>{{f .PermutationStd}}</td><td>{{with .Gain}}{{f .}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .Latency}}<h2>Latency</h2><p>per row p50 {{f .RowP50Ms}} ms, p95 {{f .RowP95Ms}} ms, p99 {{f .RowP99Ms}} ms;
per batch of {{.BatchSize}} p50 {{f .BatchP50Ms}} ms, p95 {{f .BatchP95Ms}} ms, p99 {{f .BatchP99Ms}} ms;
{{printf "%.0f" .RowsPerSecond}} rows/s{{if .ModelBytes}}; model {{.ModelBytes}} bytes, {{.Parameters}} parameters{{end}}.</p>{{end}}
<h2>Plots</h2>
{{range .Figures}}<figure><img alt="{{.Name}}" src="{{.Src}}"><figcaption>{{.Name}}</figcaption></figure>
{{end}}
</body></html>
`))
})
