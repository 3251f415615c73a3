// Package store declares the persistence ports of Orrery — job records, the
// model registry and the artifact store — with the records they hold and the
// errors their adapters return. Adapters live in subpackages named after what
// they wrap: sqlitestore (embedded SQLite), filestore (a local directory);
// later s3store and dynamostore.
//
// This package holds no I/O of its own and must not import AWS SDK packages
// or shared/ml/....
package store
