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
// A float32 workspace (NewWorkspaceWith) computes on internal/sgemm, a
// packed GEMM with AVX-512 or AVX2 kernels, and internal/vec runs Adam and
// the precision conversions eight lanes at a time. With more than one
// thread a float32 step is split across a persistent team of goroutines
// (internal/team: spin-then-park fork-joins, items claimed one at a time)
// by batch columns and gradient rows, bit-identical for any thread count.
// Network.PredictProba is safe for concurrent use.
//
// It must not import shared/store/..., the AWS SDK or gotch.
package nn
