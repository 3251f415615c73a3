package main

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
)

// TestTrackingWrapsTheAliases checks main's wiring: with
// ORRERY_TRACKING_TABLE set the deployment steps move the registry's
// aliases through the MLflow mirror's queue, without it straight in
// DynamoDB.
func TestTrackingWrapsTheAliases(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	for _, on := range []bool{false, true} {
		env := map[string]string{config.EnvJobsTable: "jobs", config.EnvModelsTable: "models", config.EnvStudiesTable: "studies",
			config.EnvArtifactsBucket: "artifacts", config.EnvDeploymentsTable: "deployments", config.EnvPredictFunction: "orrery-dev-predict"}
		if on {
			env[config.EnvTrackingTable] = "jobs"
		}
		c, err := FromEnv(func(k string) string { return env[k] })
		require.NoError(t, err)
		h, err := newHandler(t.Context(), c, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		svc, ok := h.deployments.(*deploymentjob.Service)
		require.True(t, ok)
		_, mirrored := svc.Aliases.(mlflowmirror.Aliases)
		assert.Equal(t, on, mirrored, "tracking on: %v", on)
	}
}
