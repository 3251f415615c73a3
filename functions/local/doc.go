// Command orrery runs every Orrery function on one machine (the embedded
// default): run, train, status, jobs, models, predict, tune, evaluate,
// compare, generate, serve and export. See `orrery help`.
//
// It runs with no cloud account. It must not import the AWS SDK,
// aws-lambda-go or shared/awsclient.
package main
