// Command infra is Orrery's CDK app: `cdk synth` and `cdk deploy` run it (cdk.json: `go run ./infra`) from the
// repository root. It only builds the app — the stacks live in infra/stacks — for the environment named by the
// `env` context (dev, staging or prod) and synthesizes it; it exits non-zero when cdk-nag reports an error.
//
// It must not import the AWS SDK, aws-lambda-go, the store adapters or
// functions/....
package main
