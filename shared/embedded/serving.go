package embedded

import (
	"context"
	"time"

	"github.com/orrery-ml/orrery/shared/deploymentjob"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/serving"
)

// Serving is the runtime's request path, one per Runtime: the model cache,
// the endpoint router and the per-version traffic statistics. The endpoint
// routes of the HTTP API (Endpoints) use it, and so does the deployment
// flow, whose bake step reads Traffic and whose smoke and latency gates
// predict through Models.
type Serving struct {
	Traffic   *serving.Traffic
	Models    *serving.Models
	Router    *serving.Router
	Endpoints *serving.Endpoints
}

// Serving returns the runtime's request path, made on first use: models
// found through the registry and read from the artifact directory, routes
// read from the endpoints in orrery.db.
func (r *Runtime) Serving() *Serving {
	r.servingOnce.Do(func() {
		traffic := &serving.Traffic{}
		models := &serving.Models{Store: modelstore.Store{Artifacts: r.Artifacts}, Record: serving.RegistryRecord(r.DB)}
		router := &serving.Router{Endpoints: r.DB, Traffic: traffic, Models: models}
		r.serving = &Serving{Traffic: traffic, Models: models, Router: router,
			Endpoints: &serving.Endpoints{Router: router, Models: models, Traffic: traffic}}
	})
	return r.serving
}

// DeploymentTraffic is what the deployments' alarms read on this runtime:
// the serving Traffic's windows, in the deployment package's terms.
func (s *Serving) DeploymentTraffic() deploymentjob.Traffic {
	return deploymentjob.SnapshotTraffic{Source: trafficSnapshots{s.Traffic}}
}

type trafficSnapshots struct{ t *serving.Traffic }

// Snapshot converts the serving statistics of each version.
func (s trafficSnapshots) Snapshot(environment, endpoint string, window time.Duration) map[string]deployment.VersionStats {
	in := s.t.Snapshot(environment, endpoint, window)
	out := make(map[string]deployment.VersionStats, len(in))
	for id, v := range in {
		out[id] = deployment.VersionStats{Requests: v.Requests, Errors: v.Errors, SchemaViolations: v.SchemaViolations,
			P99LatencyMS: v.LatencyP99Ms, Positives: v.Positive, ScoreHistogram: [deployment.ScoreBins]int64(v.ScoreBins)}
	}
	return out
}

// servingScorer is the deployment validator's scorer of a model: the
// serving Predictor that answers the endpoint's requests, so the smoke and
// latency gates measure the request path users get.
func servingScorer(m *nn.Model) (deployment.Scorer, error) {
	p, err := serving.NewPredictor(m.Manifest.ModelID, m, serving.Limits{})
	if err != nil {
		return nil, err
	}
	return predictorScorer{p}, nil
}

type predictorScorer struct{ p *serving.Predictor }

// Score decodes, checks and predicts body as the endpoint does.
func (s predictorScorer) Score(ctx context.Context, body []byte) ([]deployment.Prediction, error) {
	res, err := s.p.PredictBody(ctx, body)
	if err != nil {
		return nil, err
	}
	out := make([]deployment.Prediction, len(res.Predictions))
	for i, p := range res.Predictions {
		out[i] = deployment.Prediction{Label: p.Label, Probability: p.Probability, Probabilities: p.Probabilities}
	}
	return out, nil
}
