// Package nn is the pure-Go (gonum BLAS) neural-network engine: multilayer
// perceptrons and logistic regression for tabular classification, their
// losses and optimizers, safetensors I/O, and the model directory format
// (manifest.json + weights.safetensors + SHA256SUMS) shared with the libtorch
// backend. EncodeDir turns a Model into the directory's files in memory and
// LoadFS reads one from any fs.FS, checking every file's SHA-256, so models
// go to and come from an artifact store without a local copy
// (shared/ml/modelstore); SaveDir and LoadDir are their local-disk wrappers.
//
// The training primitives (Workspace, Optimizer) work on flat row-major
// []float64 buffers allocated once, so a training step allocates nothing.
// Network.PredictProba is safe for concurrent use.
//
// It must not import shared/store/..., the AWS SDK or gotch.
package nn
