package main

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/orrery-ml/orrery/shared/serving"
)

// TestHandlerPredictsWithTreeModels: the function loads a boosted and a
// forest model from the store and answers the sample event with the
// probabilities the in-memory model gives.
func TestHandlerPredictsWithTreeModels(t *testing.T) {
	path, err := events.WriteSample(t.TempDir())
	require.NoError(t, err)
	table, err := dataset.Read(context.Background(), path)
	require.NoError(t, err)
	ds, err := table.Select(dataset.SelectOptions{Target: events.SampleTarget, Positive: events.SamplePositive})
	require.NoError(t, err)
	n := min(ds.Rows, 3000)
	d := trees.Data{X: ds.X[:n*ds.Features()], Y: ds.Y[:n], Features: ds.Features(), Classes: 2}
	o := trees.DefaultBoostOptions()
	o.MaxIter = 20
	gb, err := trees.Boost(t.Context(), d, trees.Data{}, o)
	require.NoError(t, err)
	fo := trees.DefaultForestOptions()
	fo.NEstimators = 10
	rf, err := trees.Forest(t.Context(), d, fo)
	require.NoError(t, err)
	for _, tm := range []*trees.Model{gb, rf.Model} {
		m := htru2Model(t, "mdl-"+tm.Kind, 1)
		m.Net, m.Trees = nil, tm
		m.Manifest.Preprocessing.Impute = []float64{0, 0, 0, 0, 0, 0, 0, 0}
		m.Manifest.Preprocessing.Mean = []float64{0, 0, 0, 0, 0, 0, 0, 0}
		m.Manifest.Preprocessing.Scale = []float64{1, 1, 1, 1, 1, 1, 1, 1}
		h, _ := localHandler(t, m.Manifest.ModelID, m)
		resp, err := h.Handle(t.Context(), sampleEvent(t))
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode, resp.Body)
		var got serving.PredictResponse
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
		p, err := serving.NewPredictor(m.Manifest.ModelID, m, serving.Limits{})
		require.NoError(t, err)
		var ev struct {
			Body string `json:"body"`
		}
		require.NoError(t, json.Unmarshal(fixture(t, "apigw-predict.json"), &ev))
		want, err := p.PredictBody(t.Context(), []byte(ev.Body))
		require.NoError(t, err)
		require.Len(t, got.Predictions, 2)
		assert.Equal(t, want.Predictions, got.Predictions, tm.Kind)
		for _, pr := range got.Predictions {
			require.NotNil(t, pr.Probability)
			assert.False(t, math.IsNaN(*pr.Probability), tm.Kind)
		}
	}
}
