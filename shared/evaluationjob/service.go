package evaluationjob

import (
	"context"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/store"
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
}
