// Package modelexport writes Orrery models in formats other tools load: an
// ONNX graph of the network with its preprocessing (imputation of NaN,
// standardisation) folded in, encoded with protowire in the wire format of
// the public onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
//
// It reads models through shared/ml/nn only. It must not import the store
// adapters or the AWS SDK.
package modelexport
