package deploymentjob

import (
	"context"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
)

// Snapshots is the serving side's traffic statistics on the embedded
// runtime: per (environment, endpoint), a rolling window of each model
// version's requests, errors, schema violations, latency, positive
// predictions and score histogram (the serving contract's
// Traffic.Snapshot, its VersionStats read as deployment.VersionStats).
type Snapshots interface {
	Snapshot(environment, endpoint string, window time.Duration) map[string]deployment.VersionStats
}

// SnapshotTraffic is the Traffic of a Snapshots.
type SnapshotTraffic struct{ Source Snapshots }

// Window returns the snapshot of the endpoint over window.
func (t SnapshotTraffic) Window(ctx context.Context, environment, endpoint string, _ []string, window time.Duration) (map[string]deployment.VersionStats, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.Source.Snapshot(environment, endpoint, window), nil
}
