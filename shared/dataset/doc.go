// Package dataset reads tabular observation data — CSV, TSV, Parquet, FITS
// tables and IVOA VOTables (with encoding/xml) — from local paths or
// bytes, infers a schema (units included), applies catalog conventions
// (sentinel values, identifier, group and split columns, measurement error
// columns), selects the target column and positive class, makes
// stratified, grouped and published train/validation/test splits, and
// writes tables (CSV, Parquet, FITS) batch by batch in bounded memory.
//
// Parquet and FITS are read and written by shared/dataset/parquetfits,
// which registers itself (RegisterBinaryFormats) where a program links it:
// the package itself links neither parquet-go nor fitsio, so that the
// programs that only use its types and text readers (the api Lambda
// function, through the ml packages) leave their weight out.
//
// It knows nothing of models, stores or AWS. It must not import
// shared/ml/..., shared/store/... or the AWS SDK.
package dataset
