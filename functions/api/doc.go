// Command api is the `api` Lambda function: API Gateway HTTP API (payload
// format 2.0) events go through aws-lambda-go-api-proxy's httpadapter to the
// same http.Handler that `orrery serve` serves (shared/api), here over
// DynamoDB (jobs, models, idempotency records; studies and trials when
// optimization is configured), S3 (artifact links) and Step Functions
// (training executions and, when configured, evaluation and optimization
// executions), and Lambda (the predict function's aliases, which GET
// /ml/endpoints shows). main.go only wires. The AWS configuration comes from
// the environment Lambda sets (shared/awsclient/envconfig), and the clients
// and the router are built on the first request, outside the INIT phase
// (lazyHandler); a bad configuration still fails INIT.
//
// It must not import shared/embedded, shared/pipeline/localexec,
// shared/store/filestore or shared/store/sqlitestore.
package main
