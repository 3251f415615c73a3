// Package dynamostore keeps Orrery's records in DynamoDB on AWS: it
// implements store.JobStore, store.ModelRegistry, store.RetrainingPolicyStore,
// store.IdempotencyStore, store.DeploymentStore, store.LiveDeployments,
// store.EndpointStore (the endpoint lock and live model on AWS, where the
// predict function's alias does the routing), store.ModelAliases and
// store.TrackingOutbox (the MLflow mirror's queue, tracking.go), and
// passes the same port suites
// (shared/store/storetest) as the embedded sqlitestore, run against moto's
// DynamoDB in the tests.
//
// # Table layout
//
// Every table has a string partition key "pk", a string sort key "sk" and the
// time-to-live attribute "expires_at" (infra/stacks creates them so; so does
// CreateTable). Item kinds are told apart by their key prefixes, so the
// tables may also all be one table:
//
//	table        pk                  sk        attributes
//	jobs         JOB#<job_id>        JOB       job_id kind status stage config progress result error
//	                                           model_id attempts created_at created_ns updated_at
//	models       MODEL#<model_id>    MODEL     model_id name job_id model_type artifact_key artifact_uri
//	                                           metrics data_hash created_at created_ns
//	models       RETRAIN#<prefix>    POLICY    prefix model_name config paused updated_at
//	idempotency  IDEMPOTENCY#<key>   IDEMPOTENCY  key request_hash status_code (0: in flight) header body
//	                                           created_at expires_time expires_ns expires_at (TTL, Unix s)
//	models       ALIAS#<env>#<name>  ALIAS#<alias>  environment name alias model_id endpoint updated_at
//	deployments  DEPLOYMENT#<id>     DEPLOYMENT  deployment_id model_id previous_model_id alias environment
//	                                           endpoint strategy version previous_version traffic_percent
//	                                           status stage config gates result alarms events (a list of JSON
//	                                           strings, appended with list_append) error created_at created_ns
//	                                           updated_at updated_ns
//	deployments  ENDPOINT#<env>#<name>  ENDPOINT  environment endpoint routes live_model locked_by
//	                                           locked_until revision updated_at
//	tracking     TRACKING#OUTBOX     ENTRY#<seq>  seq subject kind payload attempts last_error
//	                                           not_before_ns dead created_at
//	tracking     TRACKING#SEQ        COUNTER   next
//	tracking     TRACKING#REF#<key>  REF       value updated_at
//
// JSON fields (config, progress, result, metrics) are strings holding the
// JSON text; times are RFC 3339 strings in UTC with nanoseconds, and
// created_ns (a number) orders listings.
//
// # Conditional writes
//
// Every write is one conditional request: CreateJob, RegisterModel and
// CreateDeployment put with attribute_not_exists(pk), so an id is never taken
// twice; UpdateJob and UpdateDeployment are each one UpdateItem whose
// ConditionExpression requires the stored status to be one from which the
// update is allowed (store.Status.CanTransition, for an update without a
// status change a status that is not terminal;
// store.DeploymentUpdate.WritableFrom for deployments). A late or duplicated
// event therefore never moves a finished job or deployment, and of several
// racing transitions exactly one wins. An idempotency key is reserved by a
// put conditioned on the key being free or its record expired (DynamoDB's TTL
// deletes expired records only eventually, so expires_ns decides). A refused write is store.ErrConflict,
// told apart from a missing item (store.ErrNotFound) by a consistent read.
//
// # Listing
//
// ListJobs and ListModels read their table with a paginated Scan and sort by
// created_ns, newest first: no index is needed, at the price of reading the
// table — fine for the thousands of jobs and models an Orrery account holds.
// ListDeployments (filtered on model_id, alias, environment and endpoint)
// and LiveDeployment (filtered on environment, endpoint and status
// SUCCEEDED, the greatest updated_ns wins) scan the deployments table the
// same way; PutEndpoint is a put conditioned on the stored revision.
//
// It must not import shared/ml/..., aws-lambda-go, shared/store/filestore,
// shared/store/s3store or shared/store/sqlitestore.
package dynamostore
