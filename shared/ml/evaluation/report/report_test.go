package report

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
)

// fixture scores a noisy synthetic binary task and runs every analysis.
func fixture(t *testing.T) Input {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	n := 400
	d := &dataset.Dataset{FeatureNames: []string{"snr"}, Classes: []string{"noise", "pulsar"}, Positive: 1, Target: "class", Rows: n}
	var proba []float64
	for range n {
		y := 0
		if rng.Float64() < 0.25 {
			y = 1
		}
		x := float64(y) + 0.7*rng.NormFloat64()
		d.Y = append(d.Y, y)
		d.X = append(d.X, x)
		p := 1 / (1 + math.Exp(-3*(x-0.5)))
		proba = append(proba, 1-p, p)
	}
	score := make([]float64, n)
	for i := range score {
		score[i] = proba[2*i+1]
	}
	in := evaluation.Input{Y: d.Y, Proba: proba, Classes: d.Classes, Positive: 1, Threshold: 0.5}
	m, err := evaluation.MetricsCalculator{}.Calculate(in)
	require.NoError(t, err)
	an := evaluation.PerformanceAnalyzer{}
	th, err := an.Thresholds(d.Y, score)
	require.NoError(t, err)
	cal, err := an.Calibration(d.Y, score)
	require.NoError(t, err)
	ci, err := evaluation.Bootstrap{Resamples: 50}.ConfidenceIntervals(context.Background(), evaluation.MetricsCalculator{}, in)
	require.NoError(t, err)
	fitter := evaluation.FitterFunc(func(context.Context, *dataset.Dataset) (evaluation.Predictor, error) { return sigmoid{}, nil })
	cv, err := evaluation.CrossValidator{Splitter: evaluation.StratifiedKFold{K: 4}, Fitter: fitter}.Validate(context.Background(), d, nil)
	require.NoError(t, err)
	return Input{ModelID: "mdl-test", TestSetHash: evaluation.DatasetHash(d), Y: d.Y, Score: score, Metrics: m,
		Intervals: ci, Thresholds: &th, Calibration: &cal, CV: cv}
}

type sigmoid struct{}

func (sigmoid) PredictProba(_ context.Context, x []float64, rows int) ([]float64, error) {
	out := make([]float64, 0, 2*rows)
	for _, v := range x {
		p := 1 / (1 + math.Exp(-3*(v-0.5)))
		out = append(out, 1-p, p)
	}
	return out, nil
}

func TestRenderDrawsEveryPlot(t *testing.T) {
	in := fixture(t)
	r, err := Render(in)
	require.NoError(t, err)
	want := []string{PlotROC, PlotPR, PlotConfusion, PlotCalibration, PlotThresholds, PlotScores, PlotFoldSpread}
	assert.Equal(t, want, r.Plots)
	for _, name := range want {
		png := r.Files[name+".png"]
		require.NotEmpty(t, png, name)
		assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "%s.png is a PNG", name)
		assert.Contains(t, string(r.Files[name+".svg"]), "<svg", "%s.svg is an SVG", name)
	}
	page := string(r.Files[HTMLFile])
	assert.Equal(t, len(want), strings.Count(page, `src="data:image/png;base64,`), "plots inlined")
	for _, s := range []string{"mdl-test", in.TestSetHash, "completeness", "purity", "fpr_at_95_completeness", "Cross-validation", "ECE"} {
		assert.Contains(t, page, s)
	}
	assert.NotContains(t, page, "src=\"http", "self-contained")
	if dir := os.Getenv("ORRERY_REPORT_DIR"); dir != "" {
		for name, b := range r.Files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
}

func TestRenderSkipsWhatIsMissing(t *testing.T) {
	in := fixture(t)
	// Metrics only (a multi-class task has no binary score plots).
	r, err := Render(Input{ModelID: "m", Metrics: in.Metrics})
	require.NoError(t, err)
	assert.Equal(t, []string{PlotConfusion}, r.Plots)
	assert.Contains(t, string(r.Files[HTMLFile]), "accuracy")

	_, err = Render(Input{ModelID: "m"})
	require.ErrorIs(t, err, ErrNothingToPlot)
}
