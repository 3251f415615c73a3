// Package serving is the request path of Orrery's model endpoints: the
// model cache, the predictor that decodes, validates and answers a predict
// request for one model, the router that picks a model version for each
// request of an embedded endpoint by its weights, and the per-version
// traffic statistics that a deployment's bake step watches.
//
// # Models and predictions
//
// Models loads a model directory once per process through
// shared/ml/modelstore, which checks the SHA-256 of every file before the
// model answers anything; a model that fails the check (or whose files
// disagree) is refused with ErrModelRefused, naming the model and the file,
// and is never served by that process. Predictor (one per loaded model)
// decodes a body — {"instances": [{feature: value, ...}]} or {"rows":
// [[v, ...]]} in the model's feature order — checks it against the model's
// features (missing, extra and non-numeric features are a *SchemaError
// naming each one), and predicts: a label and the positive-class
// probability at the model's decision threshold for a binary model, a label
// and every class's probability for a multi-class one.
//
// # Routing (embedded runtime)
//
// Router reads an endpoint's routes (store.Endpoint.Routes: model id ->
// percent, summing to 100) from a store.EndpointStore, keeps them for at
// most RouteTTL (100 ms), and picks a model for each request by weighted
// choice. A request holds the Predictor it was routed to until it ends, so
// weights that move while it runs never fail it. Endpoints (the embedded
// implementation of the HTTP API's endpoint routes) puts the router, the
// model cache and the traffic statistics together.
//
// # The Traffic Snapshot contract
//
// Traffic keeps, per (environment, endpoint, model id), a rolling window of
// one-second buckets (Retention, default 10 minutes) of what each request
// routed to that version did. The deployment flow reads it through
//
//	Snapshot(environment, endpoint string, window time.Duration) map[string]VersionStats
//
// which returns, for every model id that served the endpoint during the
// last window (capped at Retention), a VersionStats:
//
//   - Window: the span the figures cover;
//   - Requests: every request routed to the version, whatever its outcome;
//   - Errors: requests answered 5xx or failed by the model (it could not be
//     loaded, or the prediction failed);
//   - SchemaViolations: requests refused (400) for missing, extra or
//     non-numeric features — a malformed body or too many rows is neither an
//     error nor a schema violation;
//   - Rows and Positive: the rows predicted and, for a binary model, those
//     predicted positive (at the model's threshold);
//   - LatencyP50Ms, LatencyP95Ms, LatencyP99Ms: quantiles of the request
//     latency (decode, validate, predict) over the window, from a histogram
//     of 1/8-octave bins from 10 µs to 10 s (relative error under 4.5 %);
//     0 with no requests;
//   - ScoreBins: a fixed histogram of the positive-class probability of
//     every predicted row, 20 equal bins on [0, 1] (bin i holds
//     [i/20, (i+1)/20), the last bin includes 1), for the population
//     stability index between two versions. For a multi-class model the
//     bins count the probability of the predicted class.
//
// VersionStats.ErrorRate, SchemaViolationRate and PositiveRate divide the
// counts (ok is false when the denominator is zero). Snapshot never blocks
// the request path: Record is a handful of atomic additions on the
// version's series and allocates nothing.
//
// On AWS the predict function (functions/predict) writes the same figures
// per request in the CloudWatch Embedded Metric Format (package emf:
// namespace Orrery/Predict, dimensions Environment, Endpoint and ModelId,
// metrics Requests, Errors, SchemaViolations, Latency, Rows, Positives and
// ScoreBin00..ScoreBin19).
//
// The predict function's binary is built from it, so it keeps out the
// training, evaluation and plotting code.
//
// It must not import the AWS SDK, aws-lambda-go, shared/api, the store
// adapters, shared/ml/training, shared/ml/evaluation or gonum.org/v1/plot.
package serving
