// Package signedcall sends one AWS API operation as a SigV4-signed HTTP
// request, with the retries of the SDK's standard retryer (throttling, 5xx
// answers and failed connections, up to MaxAttempts, exponential backoff
// with full jitter), and reads an error answer into Error. It is what the
// small REST clients shared/awsclient/lambdarest and
// shared/awsclient/sfnrest share, so that the api function links neither
// the SDK's Lambda nor its Step Functions client.
//
// It is one of the packages that use the AWS SDK (its signer and
// credentials; a rule of shared/arch names them).
//
// It must not import aws-lambda-go, shared/api or the store adapters.
package signedcall
