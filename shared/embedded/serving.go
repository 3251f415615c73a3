package embedded

import (
	"github.com/orrery-ml/orrery/shared/ml/modelstore"
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
		models := &serving.Models{Store: modelstore.Store{Artifacts: r.Artifacts}, Locate: serving.RegistryLocator(r.DB)}
		router := &serving.Router{Endpoints: r.DB, Traffic: traffic, Models: models}
		r.serving = &Serving{Traffic: traffic, Models: models, Router: router,
			Endpoints: &serving.Endpoints{Router: router, Models: models, Traffic: traffic}}
	})
	return r.serving
}
