package embedded

import (
	"log/slog"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
)

// DeploymentService returns the deployment service over the runtime's
// database and artifact directory, the flows started through starter (nil:
// the service can run steps and report, not start deployments) and the
// alarms read from traffic (nil: the runtime's own serving traffic, what
// its endpoints answered). The validator's smoke and latency gates predict
// through the serving Predictor. The `stages` and `api` Lambdas run the
// same service over DynamoDB, S3 and CloudWatch.
func (r *Runtime) DeploymentService(starter deploymentjob.Starter, traffic deploymentjob.Traffic, log *slog.Logger) *deploymentjob.Service {
	if traffic == nil {
		traffic = r.Serving().DeploymentTraffic()
	}
	return &deploymentjob.Service{
		Records: r.DB, Endpoints: r.DB, Models: r.DB, Artifacts: r.Artifacts, Aliases: r.aliases(),
		Samples: deploymentjob.PredictSamples(), Starter: starter, Traffic: traffic, Log: log, Scorers: servingScorer,
	}
}
