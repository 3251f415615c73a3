// Package awsclient builds the aws.Config every AWS adapter and Lambda
// function of Orrery uses, from the environment, so that the same code runs
// against AWS, against moto in the tests and against LocalStack.
//
// Endpoints follow the SDK's own resolution (aws-sdk-go-v2 config): the
// variable AWS_ENDPOINT_URL points every service at one endpoint, a
// per-service variable such as AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL_SFN overrides it for that service,
// and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns both off. See "Service-
// specific endpoints" in the AWS SDKs and Tools Reference Guide. An emulator
// serves every bucket under one host name, so S3 clients made with S3Options
// address buckets path-style whenever an endpoint is configured.
//
// Subpackage awstest gives tests a configuration for the moto server that
// scripts/test.sh starts.
//
// It is one of the packages that use the AWS SDK (a rule of shared/arch
// names them). It must not import shared/ml/..., the store adapters or
// aws-lambda-go.
package awsclient
