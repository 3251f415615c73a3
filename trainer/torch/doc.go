// Package torch is the libtorch training backend of the trainer: the same
// networks as the pure-Go engine (MLP and logistic regression on flat
// parameters in the layout of nn.Network.Params), trained with libtorch 2.1.0 or 2.11.0
// through github.com/sugarme/gotch v0.9.1 (patched by scripts/setup-libtorch.sh)
// on the CPU or a CUDA device.
//
// Everything around the network math is shared with the pure-Go backend: the
// input is a training.TrainInput (preprocessed by training.DataPreprocessor),
// the learning-rate schedule is training.LearningRate, early stopping is
// training.EarlyStopper, and the result a training.TrainResult whose Net is
// an nn.Network, so the model is evaluated, saved (manifest + safetensors)
// and served by the same code whichever backend trained it.
//
// The files that use gotch carry the build tag `torch`, so `go build ./...`
// needs no libtorch; scripts/setup-libtorch.sh prepares libtorch and gotch
// for `go build -tags torch`. The files without the tag (input checks, the
// loop's progress, validation metrics, checkpoints) are plain Go and tested
// by the default suite.
//
// It is the one package that uses gotch. Only trainer/torch may import
// gotch. It must not import shared/store/... or the AWS SDK.
package torch
