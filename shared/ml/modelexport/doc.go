// Package modelexport writes Orrery models in formats other tools load:
//
//   - ONNX: a graph of the network with its preprocessing (imputation of NaN,
//     standardisation) folded in, one [N] double input per feature and one
//     [N] double output per class (p_<label>), encoded with
//     google.golang.org/protobuf from the code generated from the public
//     onnx.proto (subpackage onnxpb); a tree ensemble's graph standardises
//     the inputs keeping NaN and holds the trees in one ai.onnx.ml
//     TreeEnsembleClassifier;
//   - the MLflow model format: a directory with an MLmodel file (onnx and
//     python_function flavours, the feature signature, an input example),
//     the ONNX file and the environment files, so that
//     mlflow.pyfunc.load_model(...).predict(df) gives the probabilities of
//     `orrery predict`.
//
// It reads models through shared/ml/nn (tree ensembles as shared/ml/trees
// models) and returns bytes; uploading
// them is the caller's. It must not import the store adapters or the AWS SDK.
package modelexport
