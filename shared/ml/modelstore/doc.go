// Package modelstore keeps model directories (the format of shared/ml/nn:
// manifest.json, weights.safetensors, SHA256SUMS) in an artifact store, one
// directory per key prefix (models/<model_id>), without a local copy: Put
// writes the files nn.EncodeDir makes, Get reads them back through
// nn.LoadFS, which checks every file's SHA-256.
//
// It reaches storage only through the store.ArtifactStore port. It must not
// import the store adapters or the AWS SDK.
package modelstore
