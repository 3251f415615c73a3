// Package events holds the sample payloads used by tests and by `make invoke`
// (API requests, and later S3/SQS events and state-machine inputs) and the
// bundled sample data set that `make run` trains on.
//
// The sample data is HTRU2 (R. J. Lyon, HTRU2 data set, UCI Machine Learning
// Repository, CC BY 4.0; Lyon et al. 2016, "Fifty Years of Pulsar Candidate
// Selection", MNRAS 459(1):1104): 17,898 pulsar candidates, 8 features, label
// column "class" (1 = pulsar).
//
// It imports nothing but the standard library.
package events
