package deployment

import (
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrNoRollback is wrapped when a deployment cannot be rolled back: it did
// not promote, it is not what the endpoint serves, or there is nothing to
// return to.
var ErrNoRollback = fault.New(fault.Conflict, "deployment: nothing to roll back")

// RollbackKind is how a manual rollback is carried out.
type RollbackKind string

const (
	// RollbackRunning asks the running deployment to roll back: its next
	// alarm check returns all traffic to the previous version.
	RollbackRunning RollbackKind = "running"
	// RollbackRedeploy deploys the previous model again, all at once: a
	// promoted deployment is undone by a new one, never by moving its
	// record.
	RollbackRedeploy RollbackKind = "redeploy"
)

// RollbackPlan is what the RollbackManager decided.
type RollbackPlan struct {
	Kind RollbackKind
	// ModelID is the model a redeploy returns to.
	ModelID string
}

// RollbackManager holds the rules of manual rollbacks; automatic rollbacks
// are the deployment state machine's Rollback branch.
type RollbackManager struct{}

// Plan decides how to roll d back, live being the endpoint's live
// deployment (nil when none succeeded). A PENDING or IN_PROGRESS deployment
// is asked to roll back; the live deployment is undone by redeploying its
// previous model; anything else is ErrNoRollback saying why.
func (RollbackManager) Plan(d store.Deployment, live *store.Deployment) (RollbackPlan, error) {
	switch d.Status {
	case store.DeploymentPending, store.DeploymentInProgress:
		return RollbackPlan{Kind: RollbackRunning, ModelID: d.PreviousModelID}, nil
	case store.DeploymentRollingBack:
		return RollbackPlan{}, fmt.Errorf("deployment %s is rolling back already: %w", d.ID, ErrNoRollback)
	case store.DeploymentFailed, store.DeploymentRolledBack:
		return RollbackPlan{}, fmt.Errorf("deployment %s is %s: it never promoted, and the endpoint serves what it served before: %w",
			d.ID, d.Status, ErrNoRollback)
	}
	if live == nil || live.ID != d.ID {
		liveID := "none"
		if live != nil {
			liveID = live.ID
		}
		return RollbackPlan{}, fmt.Errorf("deployment %s is not what endpoint %s serves now (its live deployment is %s): %w",
			d.ID, d.Endpoint, liveID, ErrNoRollback)
	}
	if d.PreviousModelID == "" {
		return RollbackPlan{}, fmt.Errorf("deployment %s was the first of endpoint %s: no previous model to return to: %w",
			d.ID, d.Endpoint, ErrNoRollback)
	}
	return RollbackPlan{Kind: RollbackRedeploy, ModelID: d.PreviousModelID}, nil
}

// RedeploySpec is the deployment that returns the endpoint of d to
// modelID: all at once, without a bake, alarms or the champion comparison
// (the model served before; its files and schema are still checked).
func RedeploySpec(d store.Deployment, modelID string) Spec {
	r := Defaults()
	r.ModelID, r.Endpoint, r.Environment = modelID, d.Endpoint, d.Environment
	r.Strategy, r.BakeSeconds = string(store.StrategyAllAtOnce), 0
	off := false
	r.Gates.CompareToLive = &off
	r.Gates.MinAUCROC = nil
	spec, _ := r.Normalize() // the defaults and stored ids are valid
	return spec
}
