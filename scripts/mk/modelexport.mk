# The ONNX export's protobuf code (shared/ml/modelexport/onnxpb).
.PHONY: onnx-proto

onnx-proto: ## regenerate the Go code of onnx.proto (needs protoc; installs protoc-gen-go into .cache/bin)
	scripts/onnx-proto.sh
