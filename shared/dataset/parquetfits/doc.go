// Package parquetfits reads and writes the binary table formats of
// shared/dataset: Parquet (with github.com/parquet-go/parquet-go) and FITS
// binary and ASCII tables (with github.com/astrogo/fitsio). It registers
// itself with dataset.RegisterBinaryFormats at package init, so that
// dataset.Read, ReadBytes, ReadParquet, OpenParquetStream and
// NewTableWriter take those formats in a program that links it; a program
// that reads no data set (the api Lambda function) leaves it out, and with
// it parquet-go's codecs and protobuf, whose package inits and size each
// cold start would pay. The programs that read data sets import it in
// their main package (shared/arch checks which).
//
// It must not import shared/ml/..., shared/store/... or the AWS SDK.
package parquetfits
