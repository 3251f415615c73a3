package training

import (
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
)

// JobKindTraining is the Kind of training job records.
const JobKindTraining = "training"

// JobIDPrefix starts the id NewJob gives a training job
// ("trn-20260301120000-1a2b3c4d", see NewID).
const JobIDPrefix = "trn"

// NewJob returns the record of a new training job for cfg, created at now:
// status QUEUED, Kind JobKindTraining, Config cfg normalised, CreatedAt and
// UpdatedAt now in UTC. id names the job; an empty id gets a new one,
// NewID(JobIDPrefix, now). A configuration that does not normalise, or one
// without dataset_path or target_column, is ErrInvalidConfig naming the
// field. Every path that queues a training job (the API, Submit, retraining
// on upload) makes its record here; storing it is the caller's.
func NewJob(id string, cfg TrainingConfig, now time.Time) (store.Job, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return store.Job{}, err
	}
	if strings.TrimSpace(cfg.DatasetPath) == "" {
		return store.Job{}, fmt.Errorf("%w: dataset_path: required", ErrInvalidConfig)
	}
	if strings.TrimSpace(cfg.TargetColumn) == "" {
		return store.Job{}, fmt.Errorf("%w: target_column: required", ErrInvalidConfig)
	}
	if id == "" {
		id = NewID(JobIDPrefix, now)
	}
	now = now.UTC()
	return store.Job{ID: id, Kind: JobKindTraining, Status: store.Queued, Config: cfg.JSON(),
		CreatedAt: now, UpdatedAt: now}, nil
}
