// Package predict holds the sample predict requests of events/predict/:
// request bodies of POST /ml/endpoints/{endpoint}/predict
// ({"instances": [{feature: value, ...}]}) for the bundled data sets, which
// the deployment's smoke gate sends to a model whose features they have,
// and which the tests use.
//
// It imports nothing but the standard library.
package predict
