package deploymentjob

import (
	"context"
	"encoding/json"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/store"
)

// StatusURL is the path of a deployment's status.
func StatusURL(id string) string { return "/ml/deployment/" + id + "/status" }

// RollbackURL is the path that rolls a deployment back.
func RollbackURL(id string) string { return "/ml/deployment/" + id + "/rollback" }

// Status is what GET /ml/deployment/{deployment_id}/status answers.
type Status struct {
	DeploymentID    string                 `json:"deployment_id"`
	Status          store.DeploymentStatus `json:"status"`
	Stage           string                 `json:"stage"`
	ModelID         string                 `json:"model_id"`
	PreviousModelID string                 `json:"previous_model_id,omitempty"`
	Endpoint        string                 `json:"endpoint"`
	Environment     string                 `json:"environment"`
	Strategy        string                 `json:"strategy"`
	// Traffic is each model's share of the endpoint's traffic, as the
	// deployment moved it.
	Traffic map[string]int `json:"traffic"`
	// Version and PreviousVersion are the predict function's versions of
	// the model and of the previous one.
	Version         string `json:"version,omitempty"`
	PreviousVersion string `json:"previous_version,omitempty"`
	// Plan is the traffic plan; Bake the bake's progress once it began.
	Plan deployment.Plan `json:"plan"`
	Bake *BakeProgress   `json:"bake,omitempty"`
	// Gates are the model validator's results with their figures, Alarms
	// the latest reading of each alarm with its value and threshold.
	Gates  []deployment.GateResult `json:"gates"`
	Alarms []deployment.Reading    `json:"alarms"`
	// Events is the timeline, oldest first.
	Events []store.DeploymentEvent `json:"events"`
	// Reason says why a FAILED or ROLLED_BACK deployment did not promote.
	Reason    string          `json:"reason,omitempty"`
	Spec      json.RawMessage `json:"request"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Links     StatusLinks     `json:"links"`
}

// BakeProgress is how far the bake has come.
type BakeProgress struct {
	Percent   int       `json:"traffic_percent"`
	Seconds   int       `json:"seconds"`
	StartedAt time.Time `json:"started_at"`
	// RemainingSeconds counts down to the end of the bake (0 once over).
	RemainingSeconds int `json:"remaining_seconds"`
}

// StatusLinks are where to go next.
type StatusLinks struct {
	Self     string `json:"self"`
	Rollback string `json:"rollback,omitempty"`
	Model    string `json:"model"`
}

// Status returns the deployment's status; store.ErrNotFound naming it when
// there is none.
func (s *Service) Status(ctx context.Context, id string) (Status, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return Status{}, err
	}
	return s.StatusOf(d), nil
}

// StatusOf is the status view of a deployment record.
func (s *Service) StatusOf(d store.Deployment) Status {
	st := Status{DeploymentID: d.ID, Status: d.Status, Stage: d.Stage, ModelID: d.ModelID, PreviousModelID: d.PreviousModelID,
		Endpoint: d.Endpoint, Environment: d.Environment, Strategy: string(d.Strategy), Version: d.Version,
		PreviousVersion: d.PreviousVersion, Gates: []deployment.GateResult{}, Alarms: []deployment.Reading{},
		Events: d.Events, Reason: d.Error, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		Links: StatusLinks{Self: StatusURL(d.ID), Model: "/ml/models/" + d.ModelID}}
	if st.Events == nil {
		st.Events = []store.DeploymentEvent{}
	}
	if cfg, err := configOf(d); err == nil {
		st.Plan = cfg.Plan
		st.Spec, _ = json.Marshal(cfg.Spec)
	}
	if len(d.Gates) > 0 {
		_ = json.Unmarshal(d.Gates, &st.Gates)
	}
	if len(d.Alarms) > 0 {
		_ = json.Unmarshal(d.Alarms, &st.Alarms)
	}
	st.Traffic = map[string]int{}
	if d.TrafficPercent > 0 {
		st.Traffic[d.ModelID] = d.TrafficPercent
	}
	if d.PreviousModelID != "" && d.TrafficPercent < 100 {
		st.Traffic[d.PreviousModelID] = 100 - d.TrafficPercent
	}
	if d.Status == store.DeploymentSucceeded || !d.Status.Terminal() || d.Status == store.DeploymentRollingBack {
		st.Links.Rollback = RollbackURL(d.ID)
	}
	for i := len(d.Events) - 1; i >= 0; i-- {
		e := d.Events[i]
		if e.Kind != "shifted" || e.Traffic == nil {
			continue
		}
		secs := bakeSeconds(st.Plan, *e.Traffic)
		for _, step := range st.Plan.Steps {
			if step.Percent == *e.Traffic && step.Stage == deployment.StageBake && secs > 0 {
				left := secs - int(s.now().Sub(e.Time).Seconds())
				if d.Status.Terminal() || left < 0 {
					left = 0
				}
				st.Bake = &BakeProgress{Percent: *e.Traffic, Seconds: secs, StartedAt: e.Time, RemainingSeconds: left}
			}
		}
		break
	}
	return st
}
