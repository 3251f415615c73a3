package embedded

import "github.com/orrery-ml/orrery/shared/reports"

// Reports returns the report service over the runtime's database and
// artifact directory: every job's, study's, evaluation's and deployment's
// HTML page (`orrery open`, GET .../report on `orrery serve`).
func (r *Runtime) Reports() *reports.Service {
	return &reports.Service{Jobs: r.DB, Artifacts: r.Artifacts, Studies: r.OptimizationStores(),
		Deployments: r.DeploymentService(nil, nil, nil)}
}
