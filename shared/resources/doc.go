// Package resources measures what a training run uses, epoch by epoch: the
// process's CPU (as a percentage of one core, like top) and resident memory
// and, on a host with an NVIDIA GPU, its utilisation and memory read with
// `nvidia-smi --query-gpu` (absent: the GPU fields are omitted, never zero).
// A Meter turns samples into one Usage per epoch and warns when the GPU sat
// under 50 % busy for most of an epoch (the data loader is then the
// bottleneck).
//
// It imports nothing of this module but shared/fault.
package resources
