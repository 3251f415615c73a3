// Package envconfig builds the aws.Config of a Lambda function from the
// process's environment alone — the variables Lambda sets (AWS_REGION, the
// execution role's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN) and the endpoint variables shared/awsclient documents
// — without the SDK's config module. That module links the SSO, SSO OIDC,
// STS and sign-in clients of its credential chain, whose package inits every
// cold start pays although a Lambda function never uses them (issue 16
// item 7). shared/awsclient builds on this package (the endpoint rules, the
// request-body middleware) and keeps the SDK's full chain for everything
// that is not a Lambda function.
//
// It is one of the packages that use the AWS SDK (a rule of shared/arch
// names them). It imports nothing of this module but shared/fault.
package envconfig
