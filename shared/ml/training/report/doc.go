// Package report writes a training job's HTML page: its state, the test
// split's metrics, the learning curves (loss and validation AUC per epoch)
// and the confusion matrix as inlined PNGs, and its configuration.
//
// It reads shared/ml/training's and shared/ml/evaluation's results and
// returns bytes; callers store or serve them.
//
// It must not import the store adapters, shared/api, shared/embedded or the AWS SDK.
package report
