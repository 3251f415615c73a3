package report

import (
	"image/color"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot/palette/brewer"

	"github.com/orrery-ml/orrery/shared/ml/figure"
)

// TestPlotsAreReadable draws every plot of the fixture evaluation and checks
// its layout from the text and legend boxes of the drawing: no text clipped
// or running into another, no legend on the data; then compares it with its
// reviewed PNG in testdata/plots (ORRERY_UPDATE_FIXTURES=1 rewrites them).
func TestPlotsAreReadable(t *testing.T) {
	figs, err := Figures(fixture(t))
	require.NoError(t, err)
	withLegend := map[string]bool{PlotROC: true, PlotPR: true, PlotCalibration: true, PlotThresholds: true, PlotScores: true}
	require.Len(t, figs, 7)
	for _, nf := range figs {
		t.Run(nf.Name, func(t *testing.T) {
			lay := nf.Figure.Inspect()
			assert.Empty(t, lay.Problems(), "layout of %s:\n%s", nf.Name, lay)
			if withLegend[nf.Name] {
				assert.Positive(t, lay.Legend.Size().X, "a legend is drawn")
			}
			png, err := nf.Figure.Encode("png")
			require.NoError(t, err)
			diff, err := figure.CheckFixture(filepath.Join("testdata", "plots", nf.Name+".png"), png)
			require.NoError(t, err)
			assert.LessOrEqual(t, diff, figure.MaxFixtureDifference, "%s.png differs from its fixture in %.2f %% of its pixels", nf.Name, 100*diff)
		})
	}
}

func TestConfusionMatrixPrintsCountAndRowRate(t *testing.T) {
	in := fixture(t)
	in.Metrics.ConfusionMatrix = [][]int{{240, 31}, {8, 292}}
	f, err := confusionPlot(in)
	require.NoError(t, err)
	var texts []string
	for _, tx := range f.Inspect().Texts {
		texts = append(texts, tx.String)
	}
	for _, want := range []string{"240", "88.6 %", "31", "11.4 %", "8", "2.7 %", "292", "97.3 %"} {
		assert.Contains(t, texts, want)
	}
	// The cells are coloured by rate: 292 of 300 (97 %) and 240 of 271
	// (89 %) are both dark, 31 (11 %) is pale.
	g := confusionGrid{in.Metrics.ConfusionMatrix}
	assert.InDelta(t, 0.973, g.Z(1, 0), 1e-3)
	assert.InDelta(t, 0.114, g.Z(1, 1), 1e-3)
	// The ink contrasts with the colour each cell is painted in.
	assert.Equal(t, color.White, figure.TextOn(cellColor(blues9.Colors(), 0.973)), "white on the dark cell")
	assert.Equal(t, color.Black, figure.TextOn(cellColor(blues9.Colors(), 0.114)), "black on the pale cell")
}

func TestBluesIsColorBrewersBlues9(t *testing.T) {
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	require.NoError(t, err)
	want := pal.Colors()
	require.Len(t, blues9.Colors(), len(want))
	for i, c := range want {
		r, g, b, a := c.RGBA()
		gr, gg, gb, ga := blues9.Colors()[i].RGBA()
		assert.Equal(t, [4]uint32{r, g, b, a}, [4]uint32{gr, gg, gb, ga}, "colour %d", i)
	}
}

func TestConfusionMatrixOfManyLongClassesIsReadable(t *testing.T) {
	names := []string{"pulsar candidate", "radio frequency interference", "known pulsar", "noise", "fast radio burst", "single pulse"}
	cm := make([][]int, len(names))
	for i := range cm {
		cm[i] = make([]int, len(names))
		for j := range cm[i] {
			cm[i][j] = 3 + 7*((i+2*j)%5)
		}
		cm[i][i] = 250 + 40*i
	}
	in := fixture(t)
	in.Metrics.Classes, in.Metrics.ConfusionMatrix = names, cm
	f, err := confusionPlot(in)
	require.NoError(t, err)
	lay := f.Inspect()
	assert.Empty(t, lay.Problems(), "layout:\n%s", lay)
}
