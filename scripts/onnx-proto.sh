#!/usr/bin/env bash
# Regenerates shared/ml/modelexport/onnxpb/onnx.pb.go from the onnx.proto copied beside it (ONNX 1.23.2), with
# protoc (Debian: apt-get install -y protobuf-compiler) and protoc-gen-go at the google.golang.org/protobuf
# version go.mod requires (installed into .cache/bin). The generated file is committed: builds and tests need
# neither tool.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
  echo "onnx-proto: protoc is not installed (Debian: apt-get install -y protobuf-compiler)" >&2
  exit 1
fi
version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
GOBIN="$PWD/.cache/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$version"
dir=shared/ml/modelexport/onnxpb
protoc --plugin=protoc-gen-go="$PWD/.cache/bin/protoc-gen-go" -I "$dir" \
  --go_out="$dir" --go_opt=paths=source_relative \
  --go_opt=Monnx.proto=github.com/orrery-ml/orrery/shared/ml/modelexport/onnxpb \
  onnx.proto
gofmt -l "$dir"
echo "onnx-proto: regenerated $dir/onnx.pb.go (protoc $(protoc --version | cut -d' ' -f2), protoc-gen-go $version)"
