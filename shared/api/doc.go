// Package api is Orrery's HTTP API, written once for both runtimes: API
// Gateway's HTTP API hands its events to the `api` Lambda (functions/api),
// which wraps the http.Handler built here with aws-lambda-go-api-proxy; `orrery
// serve` (functions/local) serves the same handler with net/http.
//
// The package holds the request and response types, strict decoding and
// validation (unknown fields, types, ranges and a size limit give a 400
// application/problem+json naming the field, RFC 9457), the mapping of
// errors to HTTP statuses by their fault code (shared/fault: invalid -> 400,
// not found -> 404, conflict -> 409, ..., internal -> 500 with its text
// hidden), Idempotency-Key handling for every
// POST (a retried request gets the first answer, never a second job), the
// route table and the OpenAPI 3.1 document generated from it and from the Go
// types (GET /openapi.json).
//
// Its ports are small interfaces declared where they are used: the store
// ports (store.JobStore, store.ModelRegistry, store.IdempotencyStore) and
// Executions, which starts and stops the execution of a job — the local
// executions on the embedded runtime, Step Functions on AWS. Optimization,
// evaluation, endpoints and deployment are served by ports of their own
// (Optimizations, Evaluations, Endpoints, Deployments); a runtime that
// configures none answers those routes with 501.
//
// Routing uses net/http's ServeMux with method and path patterns (Go 1.22).
// huma was considered and not used: the training body is the TrainingConfig
// that the CLI decodes too, and its checks (training.TrainingConfig.Normalize)
// are the single source of truth for ranges; huma would have needed a second
// copy of them as struct tags, plus custom schemas for its union-typed fields.
//
// It must not import the AWS SDK, aws-lambda-go or the store adapters.
package api
