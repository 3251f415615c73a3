package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

func TestDeploymentStore(t *testing.T) {
	storetest.TestDeploymentStore(t, func(t *testing.T) storetest.DeploymentRecords { return openTemp(t) })
}

func TestEndpointSuite(t *testing.T) {
	storetest.TestEndpointStore(t, func(t *testing.T) store.EndpointStore { return openTemp(t) })
}

func TestModelAliases(t *testing.T) {
	storetest.TestModelAliases(t, func(t *testing.T) store.ModelAliases { return openTemp(t) })
}

// TestDeploymentsSharedFile checks that two handles on one file, as the
// deployment workflow and a late alarm handler in another process have,
// still let exactly one terminal transition win.
func TestDeploymentsSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orrery.db")
	a, err := sqlitestore.Open(t.Context(), path)
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	b, err := sqlitestore.Open(t.Context(), path)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()

	require.NoError(t, a.CreateDeployment(t.Context(), store.Deployment{ID: "dep-1", ModelID: "model-1",
		Alias: store.LiveAlias, Environment: "dev", Endpoint: "pulsars", Strategy: store.StrategyCanary, Status: store.DeploymentInProgress,
		TrafficPercent: 10}))
	_, err = b.UpdateDeployment(t.Context(), "dep-1", store.DeploymentUpdate{Status: store.DeploymentSucceeded})
	require.NoError(t, err)
	_, err = a.UpdateDeployment(t.Context(), "dep-1", store.DeploymentUpdate{Status: store.DeploymentRollingBack, Error: "late alarm"})
	require.ErrorIs(t, err, store.ErrConflict)
	live, err := a.LiveDeployment(t.Context(), "dev", "pulsars")
	require.NoError(t, err)
	assert.Equal(t, "dep-1", live.ID)
	assert.Equal(t, 100, live.TrafficPercent)
	assert.Empty(t, live.Error)
}
