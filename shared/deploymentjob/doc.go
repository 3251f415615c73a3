// Package deploymentjob runs deployments over the store ports — the same
// code in `orrery serve` (SQLite, a directory) and on AWS (the `api` and
// `stages` Lambdas over DynamoDB and S3): Service.Deploy turns a request
// into a PENDING deployment record, takes the endpoint's lock and starts
// the `deployment` state machine (shared/pipeline) through a Starter;
// Service.Step runs the machine's deployment steps (validate, record the
// published version and every shift, check the alarms, promote, roll back,
// mark failed); Service.Status, Rollback and Promote serve the API and the
// CLI.
//
// On the embedded runtime LocalCloud answers the machine's AWS SDK tasks:
// the predict function's alias is the EndpointStore's record (its routes,
// written conditionally on its revision, under the deployment's lock), its
// versions are the models themselves, and its alarms are the readings the
// check step takes of the serving traffic.
//
// It must not import shared/api, the AWS SDK or the store adapters.
package deploymentjob
