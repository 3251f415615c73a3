// Command hellolambda is the Go hello-world Lambda function the cold-start
// bench (shared/perfbench, group coldstart) compares the api and predict
// bootstraps with: aws-lambda-go and nothing else.
//
// It imports nothing of this module.
package main
