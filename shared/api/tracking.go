package api

import (
	"context"

	"github.com/orrery-ml/orrery/shared/store"
)

// Tracking reports how the mirroring of jobs and models into the user's
// MLflow tracking server stands (Service.Tracking; nil with tracking off).
type Tracking interface {
	// JobTracking returns the job's mirroring state.
	JobTracking(ctx context.Context, jobID string) (*TrackingState, error)
	// ModelTracking returns the model's MLflow run and model version, nil
	// before they exist.
	ModelTracking(ctx context.Context, m store.Model) *ModelTracking
}

// TrackingState is what a job's status says of its MLflow run.
type TrackingState struct {
	// State is synced (everything sent), pending (queued, not yet failed),
	// behind (queued after failed attempts: the server is slow or down)
	// or failed (the server refused a call for good).
	State     string `json:"state"`
	LastError string `json:"last_error,omitempty"`
	// Pending counts the calls still queued.
	Pending int    `json:"pending,omitempty"`
	RunID   string `json:"run_id,omitempty"`
	RunURL  string `json:"run_url,omitempty"`
}

// ModelTracking links a registered model to MLflow.
type ModelTracking struct {
	RunID           string `json:"run_id,omitempty"`
	RunURL          string `json:"run_url,omitempty"`
	RegisteredModel string `json:"registered_model,omitempty"`
	Version         string `json:"version,omitempty"`
	VersionURL      string `json:"version_url,omitempty"`
}

// TrackingSynced is the state of a job whose MLflow run is complete.
const TrackingSynced = "synced"

func (s *Service) addTracking(ctx context.Context, st *JobStatus) {
	if s.Tracking == nil {
		return
	}
	if tr, err := s.Tracking.JobTracking(ctx, st.JobID); err == nil {
		st.Tracking = tr
	}
}

func (s *Service) modelInfo(ctx context.Context, m store.Model) ModelInfo {
	info := modelInfo(m)
	if s.Tracking != nil {
		info.MLflow = s.Tracking.ModelTracking(ctx, m)
	}
	return info
}
