// Package deployment is the domain of Orrery's deployment flow (flow 4 of
// the architecture): what a deployment request asks for and its defaults
// (Request, Spec), the traffic plan it follows (Plan), the ModelValidator's
// gates run before any traffic moves (artifact integrity, feature-schema
// compatibility with the live model, metric floors, the champion comparison
// by DeLong and McNemar on the same frozen rows, smoke predictions, a p99
// latency budget), the alarms watched while traffic shifts and bakes (error
// rate, p99 latency, schema violations, the predicted positive rate against
// the validation split's Wilson interval, and the population stability index
// of the new version's scores against the live version's), the CloudWatch
// alarms and metrics that express them on AWS, and the RollbackManager's
// rules for a manual rollback.
//
// The state machine that sequences a deployment is in shared/pipeline; the
// service that runs its steps over the stores is shared/deploymentjob. This
// package reaches data only through small ports declared here (ModelSource,
// TableReader, Scorer).
//
// It must not import the store adapters, the AWS SDK or shared/pipeline.
package deployment
