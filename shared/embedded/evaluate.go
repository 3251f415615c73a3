package embedded

import (
	"context"
	"encoding/json"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
)

// Metrics holds the custom metrics requests may name (EvaluateRequest.Metrics).
var Metrics evaluation.Registry

// EvaluationService returns the evaluation service (shared/evaluationjob)
// over the runtime's database and artifact directory: the code the `stages`
// Lambda runs over DynamoDB and S3. Its progress goes to the Recorder the
// runtime was opened with.
func (r *Runtime) EvaluationService() *evaluationjob.Service {
	return &evaluationjob.Service{Jobs: r.DB, Models: r.DB, Artifacts: r.Artifacts, Metrics: &Metrics, Recorder: r.Pipeline.Recorder}
}

// Evaluate runs the evaluation service on one request (`orrery evaluate`):
// see evaluationjob.Service.Evaluate.
func (r *Runtime) Evaluate(ctx context.Context, req evaluation.EvaluateRequest) (*evaluation.EvaluationResult, error) {
	return r.EvaluationService().Evaluate(ctx, req)
}

// EvaluationMetrics returns the JSON of the latest evaluation of a model:
// see evaluationjob.Service.EvaluationMetrics.
func (r *Runtime) EvaluationMetrics(ctx context.Context, modelID string) (json.RawMessage, error) {
	return r.EvaluationService().EvaluationMetrics(ctx, modelID)
}

// Compare ranks registered models on one data file (`orrery compare`): see
// evaluationjob.Service.Compare.
func (r *Runtime) Compare(ctx context.Context, req evaluation.CompareRequest) (*evaluation.ComparisonResult, error) {
	return r.EvaluationService().Compare(ctx, req)
}

// ConfigFitter trains a TrainingConfig on one cross-validation fold as the
// training pipeline does (evaluationjob.ConfigFitter).
type ConfigFitter = evaluationjob.ConfigFitter
