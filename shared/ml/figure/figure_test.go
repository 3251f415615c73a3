package figure

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// curveFigure is a rising curve over [0, 1]² with a two-entry legend: the
// top left and bottom right corners are taken by the curve's ends.
func curveFigure(t *testing.T) *Figure {
	p := plot.New()
	p.Title.Text = "a curve"
	p.X.Label.Text, p.Y.Label.Text = "x", "y"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	f := New(p, 4*vg.Inch, 3*vg.Inch)
	var xys plotter.XYs
	for i := range 21 {
		x := float64(i) / 20
		xys = append(xys, plotter.XY{X: x, Y: x * x})
	}
	l, err := plotter.NewLine(xys)
	require.NoError(t, err)
	p.Add(l)
	f.AddLegend("model", l)
	f.AddLegend("a second, longer entry", l)
	f.AvoidLine(xys)
	return f
}

func TestPlaceFindsTheEmptyCorner(t *testing.T) {
	f := curveFigure(t)
	assert.Equal(t, TopLeft, f.Place(), "y = x² leaves the top left empty")
	lay := f.Inspect()
	assert.Empty(t, lay.Problems(), lay.String())
	assert.Greater(t, lay.Legend.Size().X, vg.Length(0), "the legend box is measured")
}

func TestPlaceGoesOutsideWhenEveryCornerIsTaken(t *testing.T) {
	f := curveFigure(t)
	// Points in every corner.
	f.AvoidPoints(plotter.XYs{{X: 0, Y: 1}, {X: 0.02, Y: 0.98}, {X: 0.1, Y: 0.9}, {X: 0.95, Y: 0.05}, {X: 0.9, Y: 0.1}, {X: 0.8, Y: 0.12}, {X: 0.9, Y: 0.9}})
	assert.Equal(t, Outside, f.Place())
	lay := f.Inspect()
	assert.Empty(t, lay.Problems(), lay.String())
	assert.Greater(t, lay.Legend.Min.X, lay.data.data.Max.X, "right of the data area")
}

func TestProblemsCatchesALegendOnTheData(t *testing.T) {
	f := curveFigure(t)
	f.Corner, f.Force = TopRight, true
	assert.Contains(t, f.Inspect().Problems()[0], "covers plotted data")
}

func TestProblemsCatchesClippedAndOverlappingText(t *testing.T) {
	p := plot.New()
	p.X.Min, p.X.Max = 0, 1
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0.5, Label: "0.000416"}, {Value: 0.52, Label: "0.000417"}, {Value: 1, Label: "1"}})
	p.Title.Text = "a title much wider than its three-inch canvas can hold"
	f := New(p, 3*vg.Inch, 2*vg.Inch)
	probs := f.Inspect().Problems()
	require.Len(t, probs, 2, "%v", probs)
	assert.Contains(t, probs[0], `"a title much wider than its three-inch canvas can hold" is clipped`)
	assert.Contains(t, probs[1], `"0.000416" and "0.000417" overlap`)
}

func TestTextOnPicksTheContrastingColour(t *testing.T) {
	assert.Equal(t, "black", name(TextOn(Yellow)))
	assert.Equal(t, "white", name(TextOn(Blue)))
	assert.Equal(t, "white", name(TextOn(Black)))
}

func name(c interface{ RGBA() (r, g, b, a uint32) }) string {
	if r, _, _, _ := c.RGBA(); r == 0 {
		return "black"
	}
	return "white"
}

func TestAFlushLabelCountsAsClippedUntilPadded(t *testing.T) {
	p := plot.New()
	p.X.Min, p.X.Max = 0, 5
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "accuracy"}, {Value: 5, Label: "auc_pr"}})
	w, h := 4*vg.Inch, 3*vg.Inch
	probs := Inspect(p.Draw, w, h).Problems()
	require.NotEmpty(t, probs, "gonum fits the outermost labels flush with the edges")
	assert.Contains(t, strings.Join(probs, "\n"), `"auc_pr" is clipped`)
	assert.Empty(t, Inspect(Padded(p.Draw), w, h).Problems())
}
