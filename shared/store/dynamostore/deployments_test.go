package dynamostore_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/storetest"
)

func TestDeploymentStore(t *testing.T) {
	client := newClient(t)
	storetest.TestDeploymentStore(t, func(t *testing.T) storetest.DeploymentRecords { return newStore(t, client) })
}

func TestEndpointStore(t *testing.T) {
	client := newClient(t)
	storetest.TestEndpointStore(t, func(t *testing.T) store.EndpointStore { return newStore(t, client) })
}

func TestModelAliases(t *testing.T) {
	client := newClient(t)
	storetest.TestModelAliases(t, func(t *testing.T) store.ModelAliases { return newStore(t, client) })
}

// TestDeploymentsNeedTheirTable checks that a store without a deployments
// table says so instead of calling DynamoDB.
func TestDeploymentsNeedTheirTable(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "us-east-1"})
	s, err := dynamostore.New(client, dynamostore.Tables{Jobs: "jobs"})
	require.NoError(t, err)
	ctx := t.Context()
	err = s.CreateDeployment(ctx, store.Deployment{ID: "dep-1", ModelID: "model-1", Alias: store.LiveAlias,
		Environment: "dev", Endpoint: "pulsars", Strategy: store.StrategyCanary, Status: store.DeploymentPending})
	require.ErrorIs(t, err, store.ErrInvalid)
	require.ErrorContains(t, err, "deployments table")
	_, err = s.GetDeployment(ctx, "dep-1")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.UpdateDeployment(ctx, "dep-1", store.DeploymentUpdate{Stage: "bake"})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.ListDeployments(ctx, store.DeploymentFilter{})
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.LiveDeployment(ctx, "dev", "pulsars")
	require.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetEndpoint(ctx, "dev", "pulsars")
	require.ErrorIs(t, err, store.ErrInvalid)
}
