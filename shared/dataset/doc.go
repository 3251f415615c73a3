// Package dataset reads tabular observation data (CSV and Parquet) from local
// paths, infers a schema, selects the target column and positive class, and
// makes stratified train/validation/test splits.
//
// It knows nothing of models, stores or AWS: it must not import shared/ml/...,
// shared/store/... or any AWS SDK package.
package dataset
