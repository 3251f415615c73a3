// Package onnxpb is the Go code protoc-gen-go generates from ONNX's public
// onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ...), for
// shared/ml/modelexport to build and encode ONNX models with
// google.golang.org/protobuf instead of writing the wire format by hand.
//
// Provenance: onnx.proto is copied unchanged from ONNX 1.23.2 (the file
// onnx/onnx.proto of https://github.com/onnx/onnx at tag v1.23.2, as shipped in
// the onnx 1.23.2 wheel), licensed under the Apache License 2.0 (LICENSE beside
// it; SPDX-License-Identifier: Apache-2.0). onnx.pb.go is generated; do not
// edit it. `make onnx-proto` (scripts/onnx-proto.sh) regenerates it with
// protoc and protoc-gen-go at the google.golang.org/protobuf version of go.mod;
// the Go import path is given on the command line (--go_opt=M...), so the
// .proto file needs no go_package option of ours.
//
// It imports nothing of this module.
package onnxpb
