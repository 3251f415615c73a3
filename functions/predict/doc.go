// Command predict is the `predict` Lambda function: the model endpoint on
// AWS. API Gateway's HTTP API routes POST /ml/endpoints/{endpoint}/predict
// (payload format 2.0) to the function's alias named after the endpoint,
// which routes each request to a published version by weight
// (AdditionalVersionWeights). Each version serves the model its environment
// names (ORRERY_MODEL_ID, fixed when the deployment flow published it),
// read from the artifacts bucket's models/ prefix at cold start through
// shared/ml/modelstore (every file's SHA-256 checked before the first
// answer) and answered with the same serving.Predictor as `orrery serve`.
// Every request that reaches the model writes one CloudWatch Embedded Metric
// Format document to stdout (shared/serving/emf: namespace Orrery/Predict,
// dimensions Endpoint and ModelId), the figures the deployment's bake
// alarms watch.
//
// The binary holds the request path only: no training, evaluation,
// plotting or HTTP API package (a test checks `go list -deps`).
//
// It must not import shared/api, shared/embedded, shared/ml/training,
// shared/ml/evaluation or gonum.org/v1/plot.
package main
