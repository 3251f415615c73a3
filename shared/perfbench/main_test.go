package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRatioDirection pins the table's convention: above 1 means ours is
// faster, for times (lower is better) and rates (higher is better) alike.
func TestRatioDirection(t *testing.T) {
	assert.InDelta(t, 3.0, speed("s", 1, 3), 1e-12, "we take 1 s, the peer 3 s")
	assert.InDelta(t, 0.5, speed("s", 2, 1), 1e-12)
	assert.InDelta(t, 2.0, speed("samples/s", 200, 100), 1e-12, "we train 200 samples/s, the peer 100")
	r := newRow("g", "c", "s", 1, 4, 3, "p", "")
	assert.GreaterOrEqual(t, r.Ratio, r.Goal)
}

func TestCountLabel(t *testing.T) {
	assert.Equal(t, "10M", countLabel(10_000_000))
	assert.Equal(t, "200k", countLabel(200_000))
	assert.Equal(t, "1234", countLabel(1234))
}

// TestLoadMedians: a load row keeps the read of median wall time with its
// own RSS, and the median CPU time of the reads on its own.
func TestLoadMedians(t *testing.T) {
	ms := []loadMeas{{seconds: 3, cpu: 0.5, rss: 30}, {seconds: 1, cpu: 0.7, rss: 10}, {seconds: 2, cpu: 0.6, rss: 20}}
	m := medianMeas(ms)
	assert.Equal(t, 2.0, m.seconds)
	assert.Equal(t, 20.0, m.rss)
	assert.Equal(t, 0.6, medianCPU(ms))
	assert.Equal(t, 3.0, ms[0].seconds, "the reads are not reordered")
	assert.Equal(t, "1.000–3.000 s", spread(ms))
}

// TestPrebuiltCases: -coldstart-also takes the env and event of the case it
// names and keeps its label; a malformed item is an error.
func TestPrebuiltCases(t *testing.T) {
	cases := coldStartCases()
	also, bins, err := prebuiltCases(cases, "api@main=/tmp/api-main, hello@x=/tmp/h")
	require.NoError(t, err)
	require.Len(t, also, 2)
	assert.Equal(t, []string{"/tmp/api-main", "/tmp/h"}, bins)
	assert.Equal(t, "api@main", also[0].name)
	assert.Equal(t, cases[1].env, also[0].env)
	assert.Equal(t, cases[1].event, also[0].event)
	for _, bad := range []string{"api=/tmp/a", "api@main", "nope@x=/tmp/a", "api@main="} {
		_, _, err := prebuiltCases(cases, bad)
		assert.Error(t, err, bad)
	}
	also, _, err = prebuiltCases(cases, "")
	require.NoError(t, err)
	assert.Empty(t, also)
}
