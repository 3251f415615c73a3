package report

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"math"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/figure"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// fixture is a 40-epoch run that overfits after epoch 25.
func fixture() Input {
	var h []training.EpochStats
	for e := 1; e <= 40; e++ {
		x := float64(e)
		h = append(h, training.EpochStats{Epoch: e, LearningRate: 0.003, TrainLoss: 0.2 + 0.5*math.Exp(-x/8),
			ValLoss:  0.25 + 0.5*math.Exp(-x/8) + 0.0004*math.Max(0, x-25)*math.Max(0, x-25),
			ValAUCPR: 0.9 - 0.3*math.Exp(-x/6), ValAUCROC: 0.97 - 0.2*math.Exp(-x/6)})
	}
	m := evaluation.EvaluationMetrics{Accuracy: 0.97, Precision: 0.88, Recall: 0.83, F1Score: 0.85, AUCROC: 0.97, AUCPR: 0.9,
		Support: 3580, Classes: []string{"0", "1"}, ConfusionMatrix: [][]int{{3208, 36}, {57, 279}}}
	return Input{JobID: "trn-1", Status: "SUCCEEDED", ModelID: "mdl-1", Config: []byte(`{"epochs":40}`),
		Summary: &training.TrainingSummary{EpochsRun: 40, BestEpoch: 25, StopReason: "max_epochs", Seconds: 3.5, History: h},
		Metrics: &m, Artifacts: []string{"history.json", "metrics.json"}}
}

// TestPlotsAreReadable checks each plot's layout from its drawing's boxes
// and compares it with its reviewed PNG in testdata/plots
// (ORRERY_UPDATE_FIXTURES=1 rewrites them).
func TestPlotsAreReadable(t *testing.T) {
	figs, err := Figures(fixture())
	require.NoError(t, err)
	require.Len(t, figs, 3)
	for _, nf := range figs {
		t.Run(nf.Name, func(t *testing.T) {
			lay := nf.Figure.Inspect()
			assert.Empty(t, lay.Problems(), "layout of %s:\n%s", nf.Name, lay)
			b, err := nf.Figure.Encode("png")
			require.NoError(t, err)
			diff, err := figure.CheckFixture(filepath.Join("testdata", "plots", nf.Name+".png"), b)
			require.NoError(t, err)
			assert.LessOrEqual(t, diff, figure.MaxFixtureDifference, "%s.png differs from its fixture in %.2f %%", nf.Name, 100*diff)
		})
	}
}

func TestRenderIsSelfContained(t *testing.T) {
	page, err := Render(fixture())
	require.NoError(t, err)
	text := string(page)
	for _, s := range []string{"Training job trn-1", "SUCCEEDED", "mdl-1", "best epoch 25", "auc_pr", "0.9000", `&#34;epochs&#34;: 40`} {
		assert.Contains(t, text, s)
	}
	srcs := regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(text, -1)
	require.Len(t, srcs, 3)
	for _, m := range srcs {
		b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		require.NoError(t, err)
		_, err = png.Decode(bytes.NewReader(b))
		require.NoError(t, err, "an inlined image decodes")
	}

	// A queued job has no history or metrics yet: a page without plots.
	page, err = Render(Input{JobID: "trn-2", Status: "QUEUED"})
	require.NoError(t, err)
	assert.Contains(t, string(page), "QUEUED")
	assert.NotContains(t, string(page), "<img")
}
