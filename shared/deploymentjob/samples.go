package deploymentjob

import (
	"github.com/orrery-ml/orrery/events/predict"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
)

// PredictSamples are the sample predict requests of events/predict, which
// the smoke gate sends to a model whose features they have.
func PredictSamples() []deployment.Sample {
	var out []deployment.Sample
	for _, s := range predict.Samples() {
		out = append(out, deployment.Sample{Name: s.Name, Body: s.Body})
	}
	return out
}
