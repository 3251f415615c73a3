// Package cloudwatchclient makes the CloudWatch clients of the functions that
// read metrics (the stages function's deployment checks), apart from
// shared/awsclient so that the functions that do not call CloudWatch — api,
// predict, trigger, events, tracking, the trainer — do not link the
// CloudWatch SDK, whose package inits every cold start pays (issue 16
// item 7; shared/arch checks the api and predict functions).
//
// It must not import shared/ml/..., the store adapters or aws-lambda-go.
package cloudwatchclient
