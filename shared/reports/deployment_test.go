package reports_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/ml/figure"
	"github.com/orrery-ml/orrery/shared/reports"
	"github.com/orrery-ml/orrery/shared/store"
)

// TestTrafficPlotIsReadable checks the deployment's traffic plot like
// every report plot: no clipped or overlapping text, and its reviewed PNG
// in testdata/plots (ORRERY_UPDATE_FIXTURES=1 rewrites it).
func TestTrafficPlotIsReadable(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pct := func(v int) *int { return &v }
	st := deploymentjob.Status{DeploymentID: "dep-1", ModelID: "mdl-20260301120000-1a2b3c4d", CreatedAt: start,
		UpdatedAt: start.Add(340 * time.Second), Events: []store.DeploymentEvent{
			{Time: start.Add(4 * time.Second), Kind: "validated"},
			{Time: start.Add(10 * time.Second), Kind: "shifted", Traffic: pct(10)},
			{Time: start.Add(310 * time.Second), Kind: "shifted", Traffic: pct(100)},
			{Time: start.Add(340 * time.Second), Kind: "promoted"},
		}}
	f, err := reports.TrafficFigure(st)
	require.NoError(t, err)
	require.NotNil(t, f)
	lay := f.Inspect()
	assert.Empty(t, lay.Problems(), "layout:\n%s", lay)
	png, err := f.Encode("png")
	require.NoError(t, err)
	diff, err := figure.CheckFixture(filepath.Join("testdata", "plots", "traffic.png"), png)
	require.NoError(t, err)
	assert.LessOrEqual(t, diff, figure.MaxFixtureDifference)

	none, err := reports.TrafficFigure(deploymentjob.Status{DeploymentID: "dep-2"})
	require.NoError(t, err)
	assert.Nil(t, none, "no traffic moved, no plot")
}
