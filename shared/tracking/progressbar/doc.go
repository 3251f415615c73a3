// Package progressbar shows tracking events to people and to machines: Bars
// draws one terminal progress bar per running stage (github.com/vbauerster/mpb)
// with its step count, percentage, ETA and latest metrics, prints one line for
// stages without a step count and for log events, and stays readable when the
// output is a file or a CI log rather than a terminal. JSONLines writes the
// same events as JSON lines, for the CLI's --json progress on stderr.
//
// Both implement tracking.Recorder. It must not import shared/ml/...,
// shared/store/... or the AWS SDK.
package progressbar
