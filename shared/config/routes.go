package config

// The scopes of the API's operations: a JWT authorizer in front of the API
// on AWS (infra/stacks) lets a route through only for a token whose `scope`
// claim holds the route's scope.
const (
	// ScopeRead is every GET: statuses, results, metrics, models, reports,
	// endpoints, retraining policies, the OpenAPI document.
	ScopeRead = "read"
	// ScopeTrain starts and cancels training, optimization and evaluation
	// jobs, and sets or deletes the retraining policies that start them.
	ScopeTrain = "train"
	// ScopeDeploy deploys and rolls back models and calls their endpoints.
	ScopeDeploy = "deploy"
)

// Route is one operation of the HTTP API as ServeMux patterns write it
// (shared/api's route table; "{key...}" is a trailing wildcard) and the
// scope a JWT needs for it.
type Route struct {
	Method, Path, Scope string
}

// Routes lists every operation of the HTTP API with its scope. infra/stacks
// creates one API Gateway route for each; a test of shared/api checks that
// this list and the server's route table name the same operations, so the
// two cannot drift.
var Routes = []Route{
	{"POST", "/ml/training/start", ScopeTrain},
	{"GET", "/ml/training/{job_id}/status", ScopeRead},
	{"POST", "/ml/training/{job_id}/cancel", ScopeTrain},
	{"POST", "/ml/optimization/start", ScopeTrain},
	{"GET", "/ml/optimization/{job_id}/results", ScopeRead},
	{"POST", "/ml/optimization/{job_id}/cancel", ScopeTrain},
	{"POST", "/ml/optimization/{job_id}/train-best", ScopeTrain},
	{"POST", "/ml/evaluation/evaluate", ScopeTrain},
	{"GET", "/ml/evaluation/{model_id}/metrics", ScopeRead},
	{"GET", "/ml/evaluation/{job_id}/status", ScopeRead},
	{"POST", "/ml/deployment/deploy", ScopeDeploy},
	{"GET", "/ml/deployment/{deployment_id}/status", ScopeRead},
	{"POST", "/ml/deployment/{deployment_id}/rollback", ScopeDeploy},
	{"GET", "/ml/models", ScopeRead},
	{"GET", "/ml/models/{model_id}", ScopeRead},
	{"GET", "/ml/training/{job_id}/report", ScopeRead},
	{"GET", "/ml/optimization/{job_id}/report", ScopeRead},
	{"GET", "/ml/evaluation/{job_id}/report", ScopeRead},
	{"GET", "/ml/deployment/{deployment_id}/report", ScopeRead},
	{"GET", "/ml/jobs/{job_id}/artifacts/{key...}", ScopeRead},
	{"GET", "/ml/retraining/policies", ScopeRead},
	{"PUT", "/ml/retraining/policies", ScopeTrain},
	{"DELETE", "/ml/retraining/policies", ScopeTrain},
	{"POST", "/ml/endpoints/{endpoint}/predict", ScopeDeploy},
	{"GET", "/ml/endpoints", ScopeRead},
	{"GET", "/ml/endpoints/{endpoint}", ScopeRead},
	{"GET", "/openapi.json", ScopeRead},
}
