// Package events holds the sample payloads the tests read — API requests
// under api/; S3 notifications, SQS batches, EventBridge state changes and
// inputs of the stages function under aws/ — and the bundled sample data
// set that `make run` trains on.
//
// The sample data is HTRU2 (R. J. Lyon, HTRU2 data set, UCI Machine Learning
// Repository, CC BY 4.0; Lyon et al. 2016, "Fifty Years of Pulsar Candidate
// Selection", MNRAS 459(1):1104): 17,898 pulsar candidates, 8 features, label
// column "class" (1 = pulsar).
//
// It imports nothing but the standard library.
package events
