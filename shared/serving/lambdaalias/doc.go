// Package lambdaalias shows the AWS runtime's model endpoints by reading the
// predict function's aliases through the Lambda API (its API port;
// shared/awsclient/lambdarest reads them over REST): one alias per
// endpoint, named after it (the serving stack provisions them), whose
// primary version and AdditionalVersionWeights are the endpoint's weights,
// each published version serving the model its environment names
// (ORRERY_MODEL_ID). It answers GET /ml/endpoints in the `api` function in
// the shape serving.Endpoints answers on `orrery serve`.
//
// It runs in the api function, not as a handler.
//
// It must not import the AWS SDK, aws-lambda-go, shared/api or the store
// adapters.
package lambdaalias
