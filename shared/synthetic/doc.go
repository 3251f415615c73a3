// Package synthetic generates detection streams for testing and
// benchmarking: real/bogus tables of difference-image detections with
// light-curve and image-moment features drawn from a documented generative
// model (so the class structure is known), class imbalance and label noise
// as options, written in chunks through a dataset.TableWriter (CSV,
// Parquet, FITS), so that 100 million rows take the memory of one chunk.
//
// It must not import shared/ml/..., shared/store/... or the AWS SDK.
package synthetic
