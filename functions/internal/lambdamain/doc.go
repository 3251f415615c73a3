// Package lambdamain is the start every Lambda function's main shares:
// Configure reads the function's Config from the process environment with
// its FromEnv and makes the JSON logger main passes down (STYLE.md rules 5
// and 6); Start also builds the handler and hands it to the Lambda runtime
// with SIGTERM handling on. A configuration or build error is logged and
// ends the process with status 1, so that the function fails its INIT phase
// saying why. It is main's body: call it from main alone, the one place
// that may exit.
//
// Every function links it, the api and predict functions among them, whose
// cold start must stay light; of aws-lambda-go it uses the runtime
// (lambda) only, which they link anyway.
//
// It imports nothing of this module.
package lambdamain
