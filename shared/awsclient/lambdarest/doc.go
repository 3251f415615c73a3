// Package lambdarest reads a function's aliases and version configurations
// through the Lambda API's REST interface (GET .../aliases,
// .../aliases/{name}, .../configuration), signed with SigV4, for
// shared/serving/lambdaalias. The api function calls the Lambda API for
// these three reads alone; the SDK's Lambda client would link its service
// schemas and endpoint rules, whose package inits every cold start pays
// (issue 16 item 7; shared/arch keeps the client out of the api).
//
// It is one of the packages that use the AWS SDK (its signer and
// credentials; a rule of shared/arch names them).
//
// It must not import github.com/aws/aws-sdk-go-v2/service/lambda,
// aws-lambda-go, shared/api or the store adapters.
package lambdarest
