package deploymentapi

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/store"
)

// Deployments implements api.Deployments.
type Deployments struct {
	Service *deploymentjob.Service
}

var _ api.Deployments = (*Deployments)(nil)

// Deploy starts the deployment req asks for.
func (d *Deployments) Deploy(ctx context.Context, req api.DeploymentRequest) (api.DeploymentAccepted, error) {
	dep, err := d.Service.Deploy(ctx, req.Request)
	if err != nil {
		return api.DeploymentAccepted{}, err
	}
	return accepted(dep), nil
}

func accepted(dep store.Deployment) api.DeploymentAccepted {
	return api.DeploymentAccepted{DeploymentID: dep.ID, Status: dep.Status, StatusURL: deploymentjob.StatusURL(dep.ID),
		ModelID: dep.ModelID, Endpoint: dep.Endpoint, Environment: dep.Environment, Strategy: string(dep.Strategy),
		CreatedAt: dep.CreatedAt}
}

// DeploymentStatus returns the deployment's status as JSON.
func (d *Deployments) DeploymentStatus(ctx context.Context, id string) (json.RawMessage, error) {
	st, err := d.Service.Status(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode the status of deployment %s: %w", id, err)
	}
	return b, nil
}

// RollbackDeployment rolls the deployment back by hand.
func (d *Deployments) RollbackDeployment(ctx context.Context, id string, req api.RollbackRequest) (api.DeploymentRollback, error) {
	res, err := d.Service.Rollback(ctx, id, req.Reason)
	if err != nil {
		return api.DeploymentRollback{}, err
	}
	out := api.DeploymentRollback{DeploymentID: res.Deployment.ID, Status: res.Deployment.Status,
		StatusURL: deploymentjob.StatusURL(res.Deployment.ID), Kind: string(res.Kind)}
	if res.Redeploy != nil {
		a := accepted(*res.Redeploy)
		out.Redeploy = &a
		out.StatusURL = a.StatusURL
	}
	return out, nil
}
