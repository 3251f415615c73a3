package optimization

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/orrery-ml/orrery/shared/ml/figure"
	"github.com/orrery-ml/orrery/shared/store"
)

// Plot names of a study report; each is drawn as <name>.png and <name>.svg.
const (
	PlotHistory      = "optimization_history"
	PlotIntermediate = "intermediate_values"
	PlotParallel     = "parallel_coordinates"
	PlotSlice        = "slice"
	PlotContour      = "contour"
	PlotImportance   = "importance"
)

// Figures are a study's plots, each as PNG and SVG.
type Figures struct {
	// Names lists the plots drawn, in report order (a plot the study has no
	// data for is left out: intermediate values without reported steps,
	// contour and importance without two numeric dimensions or enough
	// completed trials).
	Names []string
	// Files maps "<name>.png" and "<name>.svg" to their content.
	Files map[string][]byte
}

const (
	plotWidth  = 6 * vg.Inch
	plotHeight = 4 * vg.Inch
	// contourSide is the number of grid points per axis of the contour plot.
	contourSide = 32
)

// Colours: the Okabe–Ito palette.
var (
	blue = figure.Blue
	red  = figure.Vermillion
	grey = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

// Drawing is one plot of a study laid out, ready to draw: its draw
// function and size, and for a plot with a legend the figure that placed it.
type Drawing struct {
	Name          string
	Draw          func(draw.Canvas)
	Width, Height vg.Length
	// Figure is set for plots with a legend (history, intermediate values).
	Figure *figure.Figure
}

// Inspect draws the plot on a recording canvas and returns its layout
// (figure.Layout: text boxes, the legend's box, Problems).
func (d Drawing) Inspect() figure.Layout {
	if d.Figure != nil {
		return d.Figure.Inspect()
	}
	return figure.Inspect(d.Draw, d.Width, d.Height)
}

// Drawings lays out the study's plots in report order, leaving out those it
// has no data for (Analysis.Omitted says why).
func Drawings(s *Study, a *Analysis) ([]Drawing, error) {
	type builder struct {
		name string
		draw func(*Study, *Analysis) (Drawing, error)
	}
	var out []Drawing
	for _, b := range []builder{
		{PlotHistory, historyPlot}, {PlotIntermediate, intermediatePlot}, {PlotParallel, parallelPlot},
		{PlotSlice, slicePlot}, {PlotContour, contourPlot}, {PlotImportance, importancePlot},
	} {
		d, err := b.draw(s, a)
		if err != nil {
			return nil, fmt.Errorf("plot %s of study %s: %w", b.name, s.ID, err)
		}
		if d.Draw == nil {
			continue
		}
		d.Name = b.name
		if d.Figure == nil {
			d.Draw = figure.Padded(d.Draw) // a Figure keeps its own margin
		}
		out = append(out, d)
	}
	return out, nil
}

// figureDrawing is the Drawing of a figure with a legend.
func figureDrawing(f *figure.Figure) Drawing {
	f.Place()
	return Drawing{Draw: f.Draw, Width: f.Width, Height: f.Height, Figure: f}
}

// plotDrawing is the Drawing of a plot without a legend.
func plotDrawing(p *plot.Plot, w, h vg.Length) Drawing {
	return Drawing{Draw: p.Draw, Width: w, Height: h}
}

// Plots draws the study's plots with gonum/plot: optimization history,
// intermediate values, parallel coordinates, slice, contour and parameter
// importance. Studies with several objectives are plotted on the first.
func Plots(s *Study, a *Analysis) (*Figures, error) {
	ds, err := Drawings(s, a)
	if err != nil {
		return nil, err
	}
	f := &Figures{Files: map[string][]byte{}}
	for _, d := range ds {
		for _, format := range []string{"png", "svg"} {
			data, err := figure.Encode(d.Draw, d.Width, d.Height, format)
			if err != nil {
				return nil, fmt.Errorf("plot %s.%s of study %s: %w", d.Name, format, s.ID, err)
			}
			f.Files[d.Name+"."+format] = data
		}
		f.Names = append(f.Names, d.Name)
	}
	return f, nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return p
}

// objectiveName is the label of the first objective.
func objectiveName(s *Study) string {
	if len(s.Objectives) > 0 && s.Objectives[0] != "" {
		return s.Objectives[0]
	}
	return "objective"
}

// finite reports whether a trial is complete with a finite first value.
func finite(t Trial) bool {
	return t.State == store.TrialComplete && len(t.Values) > 0 && !math.IsNaN(t.Values[0]) && !math.IsInf(t.Values[0], 0)
}

// historyPlot shows each completed trial's value and the best so far.
func historyPlot(s *Study, _ *Analysis) (Drawing, error) {
	p := newPlot("Optimization history", "trial", objectiveName(s))
	var pts, bestLine plotter.XYs
	best := math.NaN()
	for _, t := range s.Trials {
		if !finite(t) {
			continue
		}
		v := t.Values[0]
		pts = append(pts, plotter.XY{X: float64(t.Number), Y: v})
		if s.better(v, best) {
			best = v
		}
		bestLine = append(bestLine, plotter.XY{X: float64(t.Number), Y: best})
	}
	if len(pts) == 0 {
		return Drawing{}, nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return Drawing{}, err
	}
	sc.Color = blue
	l, err := plotter.NewLine(bestLine)
	if err != nil {
		return Drawing{}, err
	}
	l.Color, l.Width, l.StepStyle = red, vg.Points(1.5), plotter.PostStep
	p.Add(sc, l)
	p.X.Tick.Marker = integerTicks{}
	padRange(&p.Y, pts)
	f := figure.New(p, plotWidth, plotHeight)
	f.AddLegend("trial", sc)
	f.AddLegend("best so far", l)
	f.AvoidPoints(pts)
	// The best-so-far line is drawn as steps: avoid its corners too.
	var steps plotter.XYs
	for i, xy := range bestLine {
		if i > 0 {
			steps = append(steps, plotter.XY{X: xy.X, Y: bestLine[i-1].Y})
		}
		steps = append(steps, xy)
	}
	f.AvoidLine(steps)
	return figureDrawing(f), nil
}

// intermediatePlot draws each trial's reported values by step, pruned trials
// in red.
func intermediatePlot(s *Study, _ *Analysis) (Drawing, error) {
	p := newPlot("Intermediate values", "step", objectiveName(s))
	f := figure.New(p, plotWidth, plotHeight)
	any := false
	var complete, pruned *plotter.Line
	for _, t := range s.Trials {
		var pts plotter.XYs
		for _, iv := range t.Intermediate {
			if len(iv.Values) > 0 && !math.IsNaN(iv.Values[0]) && !math.IsInf(iv.Values[0], 0) {
				pts = append(pts, plotter.XY{X: float64(iv.Step), Y: iv.Values[0]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return Drawing{}, err
		}
		c := color.Color(blue)
		switch t.State {
		case store.TrialPruned:
			c, pruned = red, l
		case store.TrialComplete:
			complete = l
		default:
			c = grey
		}
		l.Color, sc.Color, sc.Radius = c, c, vg.Points(1.5)
		p.Add(l, sc)
		f.AvoidLine(pts)
		any = true
	}
	if !any {
		return Drawing{}, nil
	}
	p.X.Tick.Marker = integerTicks{}
	if complete != nil {
		f.AddLegend("complete", complete)
	}
	if pruned != nil {
		f.AddLegend("pruned", pruned)
	}
	return figureDrawing(f), nil
}

// unit is a parameter's position in [0, 1] on its axis: the unit-cube
// coordinate for numeric dimensions, the middle of its slot for a choice.
func unit(d Dimension, v any) (float64, bool) {
	if d.Kind == Categorical {
		i := slices.IndexFunc(d.Choices, func(c any) bool { return sameValue(c, v) })
		if i < 0 {
			return 0, false
		}
		return (float64(i) + 0.5) / float64(len(d.Choices)), true
	}
	x, ok := number(v)
	if !ok {
		return 0, false
	}
	return d.toUnit(x), true
}

// valueColor maps a trial's rank among the completed ones to a colour, the
// best dark red.
func valueColors(s *Study, trials []Trial) []color.Color {
	order := make([]int, len(trials))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		la, lb := s.loss(0, trials[a].Values[0]), s.loss(0, trials[b].Values[0])
		switch {
		case la < lb:
			return -1
		case la > lb:
			return 1
		}
		return 0
	})
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	out := make([]color.Color, len(trials))
	for rank, i := range order {
		u := 1.0
		if len(trials) > 1 {
			u = 1 - float64(rank)/float64(len(trials)-1)
		}
		c, err := cm.At(u)
		if err != nil {
			c = grey
		}
		out[i] = c
	}
	return out
}

// parallelPlot draws one polyline per completed trial across an axis per
// dimension and one for the objective (Inselberg 1985), coloured by rank.
func parallelPlot(s *Study, _ *Analysis) (Drawing, error) {
	var trials []Trial
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, t := range s.Trials {
		if finite(t) {
			trials = append(trials, t)
			lo, hi = math.Min(lo, t.Values[0]), math.Max(hi, t.Values[0])
		}
	}
	if len(trials) == 0 {
		return Drawing{}, nil
	}
	dims := s.Space.Dimensions
	p := newPlot("Parallel coordinates (red: best)", "", "position on the axis's range")
	colors := valueColors(s, trials)
	for i, t := range trials {
		var pts plotter.XYs
		for j, d := range dims {
			v, ok := t.Params[d.Name]
			if !ok {
				continue
			}
			if u, ok := unit(d, v); ok {
				pts = append(pts, plotter.XY{X: float64(j), Y: u})
			}
		}
		y := 0.5
		if hi > lo {
			y = (t.Values[0] - lo) / (hi - lo)
		}
		pts = append(pts, plotter.XY{X: float64(len(dims)), Y: y})
		l, err := plotter.NewLine(pts)
		if err != nil {
			return Drawing{}, err
		}
		l.Color = colors[i]
		p.Add(l)
	}
	ticks := make([]plot.Tick, 0, len(dims)+1)
	for j, d := range dims {
		ticks = append(ticks, plot.Tick{Value: float64(j), Label: d.Name})
	}
	ticks = append(ticks, plot.Tick{Value: float64(len(dims)), Label: objectiveName(s)})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	// Half an axis' spacing each side, so the first and last names fit.
	p.X.Min, p.X.Max = -0.5, float64(len(dims))+0.5
	p.Y.Min, p.Y.Max = 0, 1
	w := max(plotWidth, vg.Length(len(dims)+1)*1.1*vg.Inch)
	return plotDrawing(p, w, plotHeight), nil
}

// slicePlot draws, for each dimension, the completed trials' values against
// that parameter, in a grid of panels.
func slicePlot(s *Study, _ *Analysis) (Drawing, error) {
	dims := s.Space.Dimensions
	var trials []Trial
	for _, t := range s.Trials {
		if finite(t) {
			trials = append(trials, t)
		}
	}
	if len(trials) == 0 || len(dims) == 0 {
		return Drawing{}, nil
	}
	// One value axis for every panel, so panels compare at a glance (and a
	// panel with one point does not scale to it alone).
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, t := range trials {
		ylo, yhi = math.Min(ylo, t.Values[0]), math.Max(yhi, t.Values[0])
	}
	pad := 0.05 * (yhi - ylo)
	if pad == 0 {
		pad = math.Max(0.01*math.Abs(ylo), 1e-3)
	}
	ylo, yhi = ylo-pad, yhi+pad
	cols := min(3, len(dims))
	rows := (len(dims) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for r := range grid {
		grid[r] = make([]*plot.Plot, cols)
	}
	for j, d := range dims {
		p := newPlot(d.Name, "", "")
		if j%cols == 0 {
			p.Y.Label.Text = objectiveName(s)
		}
		var pts plotter.XYs
		for _, t := range trials {
			v, ok := t.Params[d.Name]
			if !ok {
				continue
			}
			if u, ok := unit(d, v); ok {
				pts = append(pts, plotter.XY{X: u, Y: t.Values[0]})
			}
		}
		if len(pts) > 0 {
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return Drawing{}, err
			}
			sc.Color, sc.Radius = blue, vg.Points(2)
			p.Add(sc)
		}
		p.X.Min, p.X.Max = 0, 1
		p.Y.Min, p.Y.Max = ylo, yhi
		p.X.Tick.Marker = unitTicks(d)
		figure.UprightIfCrowded(p, slicePanelData)
		grid[j/cols][j%cols] = p
	}
	w, h := vg.Length(cols)*2.6*vg.Inch, vg.Length(rows)*2.2*vg.Inch
	fn := func(c draw.Canvas) {
		tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 2, PadY: vg.Millimeter * 2,
			PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
		canvases := plot.Align(grid, tiles, c)
		for r := range grid {
			for k, p := range grid[r] {
				if p != nil {
					p.Draw(canvases[r][k])
				}
			}
		}
	}
	return Drawing{Draw: fn, Width: w, Height: h}, nil
}

// slicePanelData is about the width of a slice panel's data area.
const slicePanelData = 1.9 * vg.Inch

// unitTicks labels a unit axis with the dimension's values: each choice of
// a categorical dimension; on a log axis the powers of ten in range (with
// 2× and 5× when it spans less than two decades); on a linear axis up to
// four round values (whole numbers for an int dimension). Labels are short
// (tickLabel) so that neighbours do not run together.
func unitTicks(d Dimension) plot.Ticker {
	var ticks []plot.Tick
	if d.Kind == Categorical {
		for i, c := range d.Choices {
			ticks = append(ticks, plot.Tick{Value: (float64(i) + 0.5) / float64(len(d.Choices)), Label: valueText(c)})
		}
		return plot.ConstantTicks(ticks)
	}
	add := func(v float64) {
		if v < d.Low-1e-12*math.Abs(d.Low) || v > d.High+1e-12*math.Abs(d.High) {
			return
		}
		ticks = append(ticks, plot.Tick{Value: d.toUnit(v), Label: tickLabel(v)})
	}
	if d.Log && d.Low > 0 {
		lo, hi := math.Floor(math.Log10(d.Low)), math.Ceil(math.Log10(d.High))
		mults := []float64{1}
		if hi-lo <= 2 {
			mults = []float64{1, 2, 5}
		}
		for e := lo; e <= hi; e++ {
			for _, m := range mults {
				v := m * math.Pow(10, e)
				if d.Kind == Int && v != math.Round(v) {
					continue
				}
				add(v)
			}
		}
		if len(ticks) >= 2 {
			return plot.ConstantTicks(ticks)
		}
		ticks = nil
		add(d.Low)
		add(d.High)
		return plot.ConstantTicks(ticks)
	}
	step := niceStep((d.High - d.Low) / 3)
	if d.Kind == Int {
		step = math.Max(1, math.Round(step))
	}
	for v := math.Ceil(d.Low/step) * step; v <= d.High+step*1e-9; v += step {
		add(math.Round(v/step) * step)
	}
	return plot.ConstantTicks(ticks)
}

// padRange sets the axis' range to the points' values and 5 % more each
// side, so the best value is not drawn on the frame.
func padRange(a *plot.Axis, pts plotter.XYs) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
	}
	if math.IsInf(lo, 0) {
		return
	}
	pad := 0.05 * (hi - lo)
	if pad == 0 {
		pad = math.Max(0.01*math.Abs(lo), 1e-3)
	}
	a.Min, a.Max = lo-pad, hi+pad
}

// integerTicks labels an axis of counts (trial numbers, steps) with whole
// numbers, at most six.
type integerTicks struct{}

// Ticks implements plot.Ticker.
func (integerTicks) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, niceStep((hi-lo)/5))
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+1e-9; v += step {
		out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(int(math.Round(v)))})
	}
	return out
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel writes v in at most three significant digits, small and large
// magnitudes as 1e-4 rather than 0.0001.
func tickLabel(v float64) string {
	a := math.Abs(v)
	if v != 0 && (a < 1e-2 || a >= 1e5) {
		e := math.Floor(math.Log10(a))
		m := v / math.Pow(10, e)
		return strconv.FormatFloat(m, 'g', 2, 64) + "e" + strconv.Itoa(int(e))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// inkPalette draws every contour level in one colour.
type inkPalette []color.Color

func (p inkPalette) Colors() []color.Color { return p }

// surfaceGrid is the GP surrogate's mean on a contourSide² grid of two
// dimensions' unit coordinates.
type surfaceGrid struct {
	z [][]float64 // z[row][col], row along y
}

func (g surfaceGrid) Dims() (c, r int)   { return contourSide, contourSide }
func (g surfaceGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g surfaceGrid) X(c int) float64    { return (float64(c) + 0.5) / contourSide }
func (g surfaceGrid) Y(r int) float64    { return (float64(r) + 0.5) / contourSide }

// contourPair picks the contour's two dimensions: the most important
// numeric ones without a condition, then the first such in the space.
func contourPair(s *Study, a *Analysis) []int {
	var pair []int
	numeric := func(name string) int {
		i := s.Space.index(name)
		if i >= 0 && s.Space.Dimensions[i].Kind != Categorical && s.Space.Dimensions[i].Condition == nil {
			return i
		}
		return -1
	}
	if a != nil {
		for _, im := range a.Importance {
			if i := numeric(im.Name); i >= 0 && len(pair) < 2 {
				pair = append(pair, i)
			}
		}
	}
	for _, d := range s.Space.Dimensions {
		if i := numeric(d.Name); i >= 0 && len(pair) < 2 && !slices.Contains(pair, i) {
			pair = append(pair, i)
		}
	}
	return pair
}

// contourPlot draws the GP surrogate's posterior mean of the loss over the
// two most important numeric dimensions, the others held at the best
// trial's values, with the completed trials on top (single objective).
func contourPlot(s *Study, a *Analysis) (Drawing, error) {
	if len(s.Directions) != 1 {
		return Drawing{}, nil
	}
	pair := contourPair(s, a)
	best, ok := s.Best()
	if len(pair) < 2 || !ok {
		return Drawing{}, nil
	}
	g, done := surrogate(s)
	if g == nil {
		return Drawing{}, nil
	}
	dx, dy := s.Space.Dimensions[pair[0]], s.Space.Dimensions[pair[1]]
	row := make([]float64, s.Space.features())
	buf := make([]float64, 2*g.n)
	grid := surfaceGrid{z: make([][]float64, contourSide)}
	for r := range contourSide {
		grid.z[r] = make([]float64, contourSide)
		for c := range contourSide {
			p := make(Params, len(best.Params))
			for k, v := range best.Params {
				p[k] = v
			}
			p[dx.Name] = dx.fromUnit(grid.X(c))
			p[dy.Name] = dy.fromUnit(grid.Y(r))
			s.Space.encode(p, row)
			grid.z[r][c], _ = g.predict(row, buf, nil)
		}
	}
	pal := moreland.SmoothBlueRed().Palette(64)
	p := newPlot("GP surrogate of the loss (standardised, lower is better)", dx.Name, dy.Name)
	p.Add(plotter.NewHeatMap(grid, pal))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range grid.z {
		for _, v := range r {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi > lo {
		levels := make([]float64, 8)
		for i := range levels {
			levels[i] = lo + (hi-lo)*(float64(i)+0.5)/float64(len(levels))
		}
		ct := plotter.NewContour(grid, levels, inkPalette{color.Gray{Y: 40}})
		ct.LineStyles = []draw.LineStyle{{Color: color.Black, Width: vg.Points(0.6)}}
		p.Add(ct)
	}
	var pts plotter.XYs
	for _, t := range done {
		ux, okx := unit(dx, t.Params[dx.Name])
		uy, oky := unit(dy, t.Params[dy.Name])
		if okx && oky {
			pts = append(pts, plotter.XY{X: ux, Y: uy})
		}
	}
	if len(pts) > 0 {
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return Drawing{}, err
		}
		sc.Color, sc.Radius = color.White, vg.Points(2.5)
		p.Add(sc)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.X.Tick.Marker, p.Y.Tick.Marker = unitTicks(dx), unitTicks(dy)
	return plotDrawing(p, plotWidth, plotHeight), nil
}

// importancePlot draws the parameter importances as horizontal bars.
func importancePlot(_ *Study, a *Analysis) (Drawing, error) {
	if a == nil || len(a.Importance) == 0 {
		return Drawing{}, nil
	}
	n := len(a.Importance)
	vals := make(plotter.Values, n)
	ticks := make([]plot.Tick, n)
	for i, im := range a.Importance {
		// Largest at the top.
		vals[n-1-i] = im.Importance
		ticks[n-1-i] = plot.Tick{Value: float64(n - 1 - i), Label: im.Name}
	}
	p := newPlot("Parameter importance (functional ANOVA on the GP)", "share of variance", "")
	bars, err := plotter.NewBarChart(vals, vg.Points(14))
	if err != nil {
		return Drawing{}, err
	}
	bars.Horizontal, bars.Color, bars.LineStyle.Width = true, blue, 0
	p.Add(bars)
	p.X.Max = 1.08 * a.Importance[0].Importance // room right of the longest bar
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min = 0
	h := max(2.5*vg.Inch, vg.Length(n)*0.3*vg.Inch+vg.Inch)
	return plotDrawing(p, plotWidth, h), nil
}
