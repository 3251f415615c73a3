package optimization

import (
	"bytes"
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
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

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

var (
	blue = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	grey = color.RGBA{R: 150, G: 150, B: 150, A: 255}
)

// Plots draws the study's plots with gonum/plot: optimization history,
// intermediate values, parallel coordinates, slice, contour and parameter
// importance. Studies with several objectives are plotted on the first.
func Plots(s *Study, a *Analysis) (*Figures, error) {
	f := &Figures{Files: map[string][]byte{}}
	type builder struct {
		name string
		draw func(*Study, *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error)
	}
	for _, b := range []builder{
		{PlotHistory, historyPlot}, {PlotIntermediate, intermediatePlot}, {PlotParallel, parallelPlot},
		{PlotSlice, slicePlot}, {PlotContour, contourPlot}, {PlotImportance, importancePlot},
	} {
		fn, w, h, err := b.draw(s, a)
		if err != nil {
			return nil, fmt.Errorf("plot %s of study %s: %w", b.name, s.ID, err)
		}
		if fn == nil {
			continue
		}
		for _, format := range []string{"png", "svg"} {
			data, err := render(fn, w, h, format)
			if err != nil {
				return nil, fmt.Errorf("plot %s.%s of study %s: %w", b.name, format, s.ID, err)
			}
			f.Files[b.name+"."+format] = data
		}
		f.Names = append(f.Names, b.name)
	}
	return f, nil
}

// render draws fn on a w × h canvas of the format (png or svg).
func render(fn func(draw.Canvas), w, h vg.Length, format string) ([]byte, error) {
	var buf bytes.Buffer
	switch format {
	case "png":
		img := vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
		fn(draw.New(img))
		if _, err := img.WriteTo(&buf); err != nil {
			return nil, err
		}
	case "svg":
		svg := vgsvg.New(w, h)
		fn(draw.New(svg))
		if _, err := svg.WriteTo(&buf); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown image format %q", format)
	}
	return buf.Bytes(), nil
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
func historyPlot(s *Study, _ *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
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
		return nil, 0, 0, nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, 0, 0, err
	}
	sc.Color = blue
	l, err := plotter.NewLine(bestLine)
	if err != nil {
		return nil, 0, 0, err
	}
	l.Color, l.Width, l.StepStyle = red, vg.Points(1.5), plotter.PostStep
	p.Add(sc, l)
	p.Legend.Add("trial", sc)
	p.Legend.Add("best so far", l)
	p.Legend.Top = s.Directions[0] == Maximize
	return p.Draw, plotWidth, plotHeight, nil
}

// intermediatePlot draws each trial's reported values by step, pruned trials
// in red.
func intermediatePlot(s *Study, _ *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
	p := newPlot("Intermediate values", "step", objectiveName(s))
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
			return nil, 0, 0, err
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
		any = true
	}
	if !any {
		return nil, 0, 0, nil
	}
	if complete != nil {
		p.Legend.Add("complete", complete)
	}
	if pruned != nil {
		p.Legend.Add("pruned", pruned)
	}
	return p.Draw, plotWidth, plotHeight, nil
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

// valueLabel formats a dimension's value at unit position u.
func valueLabel(d Dimension, u float64) string {
	switch v := d.fromUnit(u).(type) {
	case float64:
		return strconv.FormatFloat(v, 'g', 3, 64)
	default:
		return valueText(v)
	}
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
func parallelPlot(s *Study, _ *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
	var trials []Trial
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, t := range s.Trials {
		if finite(t) {
			trials = append(trials, t)
			lo, hi = math.Min(lo, t.Values[0]), math.Max(hi, t.Values[0])
		}
	}
	if len(trials) == 0 {
		return nil, 0, 0, nil
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
			return nil, 0, 0, err
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
	p.X.Min, p.X.Max = -0.2, float64(len(dims))+0.2
	p.Y.Min, p.Y.Max = 0, 1
	w := max(plotWidth, vg.Length(len(dims)+1)*0.9*vg.Inch)
	return p.Draw, w, plotHeight, nil
}

// slicePlot draws, for each dimension, the completed trials' values against
// that parameter, in a grid of panels.
func slicePlot(s *Study, _ *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
	dims := s.Space.Dimensions
	var trials []Trial
	for _, t := range s.Trials {
		if finite(t) {
			trials = append(trials, t)
		}
	}
	if len(trials) == 0 || len(dims) == 0 {
		return nil, 0, 0, nil
	}
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
				return nil, 0, 0, err
			}
			sc.Color, sc.Radius = blue, vg.Points(2)
			p.Add(sc)
		}
		p.X.Min, p.X.Max = 0, 1
		p.X.Tick.Marker = unitTicks(d)
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
	return fn, w, h, nil
}

// unitTicks labels a unit axis with the dimension's values: each choice of
// a categorical dimension, up to seven integers of an int one, five levels
// of a float one.
func unitTicks(d Dimension) plot.Ticker {
	var ticks []plot.Tick
	if d.Kind == Categorical {
		for i, c := range d.Choices {
			ticks = append(ticks, plot.Tick{Value: (float64(i) + 0.5) / float64(len(d.Choices)), Label: valueText(c)})
		}
		return plot.ConstantTicks(ticks)
	}
	if d.Kind == Int {
		step := max(1, int(math.Ceil((d.High-d.Low+1)/6)))
		for v := int(d.Low); v <= int(d.High); v += step {
			ticks = append(ticks, plot.Tick{Value: d.toUnit(float64(v)), Label: strconv.Itoa(v)})
		}
		return plot.ConstantTicks(ticks)
	}
	for _, u := range []float64{0, 0.25, 0.5, 0.75, 1} {
		ticks = append(ticks, plot.Tick{Value: u, Label: valueLabel(d, u)})
	}
	return plot.ConstantTicks(ticks)
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

// contourPlot draws the GP surrogate's posterior mean of the loss over the
// two most important numeric dimensions, the others held at the best
// trial's values, with the completed trials on top (single objective).
func contourPlot(s *Study, a *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
	if len(s.Directions) != 1 {
		return nil, 0, 0, nil
	}
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
	best, ok := s.Best()
	if len(pair) < 2 || !ok {
		return nil, 0, 0, nil
	}
	g, done := surrogate(s)
	if g == nil {
		return nil, 0, 0, nil
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
			return nil, 0, 0, err
		}
		sc.Color, sc.Radius = color.White, vg.Points(2.5)
		p.Add(sc)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.X.Tick.Marker, p.Y.Tick.Marker = unitTicks(dx), unitTicks(dy)
	return p.Draw, plotWidth, plotHeight, nil
}

// importancePlot draws the parameter importances as horizontal bars.
func importancePlot(_ *Study, a *Analysis) (func(draw.Canvas), vg.Length, vg.Length, error) {
	if a == nil || len(a.Importance) == 0 {
		return nil, 0, 0, nil
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
		return nil, 0, 0, err
	}
	bars.Horizontal, bars.Color, bars.LineStyle.Width = true, blue, 0
	p.Add(bars)
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min = 0
	h := max(2.5*vg.Inch, vg.Length(n)*0.3*vg.Inch+vg.Inch)
	return p.Draw, plotWidth, h, nil
}
