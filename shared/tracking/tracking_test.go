package tracking

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventJSONWithNonFiniteMetrics(t *testing.T) {
	e := Event{JobID: "j", Kind: Progress, Stage: "train", Step: 3, Total: 10,
		Metrics: map[string]float64{"loss": math.NaN(), "lr": 0.01, "x": math.Inf(1)}, Time: time.Unix(0, 0).UTC()}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, `{"job_id":"j","kind":"progress","stage":"train","step":3,"total":10,
		"metrics":{"loss":null,"lr":0.01,"x":null},"time":"1970-01-01T00:00:00Z"}`, string(b))
	var back Event
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, math.IsNaN(back.Metrics["loss"]))
	assert.Equal(t, 0.01, back.Metrics["lr"])
	assert.Equal(t, "train", back.Stage)
	assert.Equal(t, 3, back.Step)
}

func TestMultiAndMemory(t *testing.T) {
	m1, m2 := &Memory{}, &Memory{}
	boom := errors.New("boom")
	r := Multi(m1, nil, RecorderFunc(func(context.Context, Event) error { return boom }), m2)
	err := r.Record(context.Background(), Event{Kind: Log, Message: "hi"})
	require.ErrorIs(t, err, boom)
	assert.Len(t, m1.Events(), 1)
	assert.Len(t, m2.Events(), 1, "an error does not stop the fan-out")
	require.NoError(t, Discard.Record(context.Background(), Event{}))
}

func TestETA(t *testing.T) {
	assert.Equal(t, 8*time.Second, ETA(2*time.Second, 1, 5))
	assert.Zero(t, ETA(time.Second, 0, 5))
	assert.Zero(t, ETA(time.Second, 5, 5))
}
