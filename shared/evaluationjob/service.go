package evaluationjob

import (
	"context"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Service evaluates registered models and runs evaluation jobs. Jobs,
// Models and Artifacts are required; the other fields have working
// defaults.
type Service struct {
	Jobs      store.JobStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	// ReadTable reads a dataset_path (default: dataset.Read for local files;
	// s3:// paths are refused). The AWS runtime sets one that reads S3.
	ReadTable func(ctx context.Context, path string) (*dataset.Table, error)
	// Metrics holds the custom metrics requests may name
	// (EvaluateRequest.Metrics); nil: none.
	Metrics *evaluation.Registry
	// Offload decides which evaluation jobs are heavy: their
	// cross-validation folds run as separate fold jobs (the evaluation
	// machine's RunFolds Map) instead of inside the evaluate step. Its zero
	// value applies the defaults documented on it.
	Offload Offload
	// Recorder receives the progress of Evaluate and Compare (stages,
	// bootstrap resamples, cross-validation folds, models); nil: none.
	Recorder tracking.Recorder
}
