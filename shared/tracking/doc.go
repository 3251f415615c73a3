// Package tracking is the one port through which long-running work reports
// progress (stage, step, totals, metrics, ETA), with small in-process helpers.
// Adapters that display or persist events live in subpackages named after what
// they wrap (progressbar for the terminal).
//
// It must not import shared/ml/..., shared/store/... or the AWS SDK.
package tracking
