// Package deploymentapi serves the HTTP API's Deployments port
// (shared/api) with the deployment service (shared/deploymentjob): the one
// path from a request to a deployment that `orrery serve` and the `api`
// Lambda share.
//
// It must not import the AWS SDK or the store adapters.
package deploymentapi
