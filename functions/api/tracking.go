package main

import (
	"context"

	"github.com/orrery-ml/orrery/shared/api"
	"github.com/orrery-ml/orrery/shared/mlflowmirror"
	"github.com/orrery-ml/orrery/shared/store"
)

// apiTracking is the API's view of the MLflow mirror's outbox (api.Tracking).
type apiTracking struct{ m *mlflowmirror.Mirror }

var _ api.Tracking = apiTracking{}

// JobTracking returns the job's mirroring state.
func (a apiTracking) JobTracking(ctx context.Context, jobID string) (*api.TrackingState, error) {
	st, err := a.m.Status(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return &api.TrackingState{State: st.State, LastError: st.LastError, Pending: st.Pending, RunID: st.RunID, RunURL: st.RunURL}, nil
}

// ModelTracking returns the model's MLflow links, nil before they exist.
func (a apiTracking) ModelTracking(ctx context.Context, m store.Model) *api.ModelTracking {
	l, ok := a.m.ModelLink(ctx, m)
	if !ok {
		return nil
	}
	return &api.ModelTracking{RunID: l.RunID, RunURL: l.RunURL, RegisteredModel: l.Name, Version: l.Version, VersionURL: l.VersionURL}
}
