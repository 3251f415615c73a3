package optimization_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/store"
)

var allPlots = []string{
	optimization.PlotHistory, optimization.PlotIntermediate, optimization.PlotParallel,
	optimization.PlotSlice, optimization.PlotContour, optimization.PlotImportance,
}

// prunedStudy runs 24 trials of the curve objective with median pruning, so
// the study has complete and pruned trials with intermediate values.
func prunedStudy(t *testing.T) *optimization.Study {
	o := &optimization.HyperparameterOptimizer{Sampler: optimization.RandomSearchOptimizer{},
		Pruner: optimization.MedianPruner(), Budget: optimization.Budget{Trials: 24}}
	res, err := o.Optimize(t.Context(), newStudy("plots"), curveObjective(6, nil))
	require.NoError(t, err)
	return res.Study
}

func TestReportEmbedsEveryPlot(t *testing.T) {
	st := prunedStudy(t)
	a := optimization.Analyze(st)
	require.Positive(t, a.Pruned, "some trials pruned")
	require.NotEmpty(t, a.Importance)
	dir := t.TempDir()
	path, err := optimization.WriteReport(dir, st, a)
	require.NoError(t, err)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	html := string(page)
	for _, name := range allPlots {
		t.Run(name, func(t *testing.T) {
			png, err := os.ReadFile(filepath.Join(dir, name+".png"))
			require.NoError(t, err)
			assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "PNG signature")
			svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
			require.NoError(t, err)
			assert.Contains(t, string(svg), "<svg")
			assert.Contains(t, html, `<img alt="`+name+`" src="data:image/png;base64,`)
		})
	}
	assert.Equal(t, len(allPlots), strings.Count(html, "<img "), "one image per plot, nothing else")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2*len(allPlots)+1, "no temporary files left behind")
}

func TestPlotsLeaveOutWhatHasNoData(t *testing.T) {
	tests := []struct {
		name  string
		study *optimization.Study
		want  []string
	}{
		{"no trials", newStudy("empty"), nil},
		{"three completed trials without steps", func() *optimization.Study {
			st := newStudy("few")
			for i, x := range []float64{-1, 0, 1} {
				p := optimization.Params{"x": x, "lr": 0.01, "n": 2, "act": "relu"}
				st.Trials = append(st.Trials, optimization.Trial{Number: i, Params: p, State: store.TrialComplete,
					Values: []float64{-mixedLoss(p)}})
			}
			return st
		}(), []string{optimization.PlotHistory, optimization.PlotParallel, optimization.PlotSlice}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			figs, err := optimization.Plots(tc.study, optimization.Analyze(tc.study))
			require.NoError(t, err)
			assert.Equal(t, tc.want, figs.Names)
			assert.Len(t, figs.Files, 2*len(tc.want))
		})
	}
}
