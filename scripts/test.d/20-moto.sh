# shellcheck shell=bash
# Sourced by scripts/test.sh: starts moto in server mode on 127.0.0.1 (S3, DynamoDB, SQS, Step Functions with
# execution enabled, Batch without Docker) and exports what the Go tests that need AWS read. Tests skip with a
# message naming ORRERY_TEST_AWS_ENDPOINT when it is unset, so a plain `go test ./...` still works.
moto_endpoint=$(scripts/moto.sh start)
on_exit "scripts/moto.sh stop"
export ORRERY_TEST_AWS_ENDPOINT="$moto_endpoint"
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
# Keep the SDK from reading a user's ~/.aws files or reaching the instance metadata service.
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
echo "moto on $ORRERY_TEST_AWS_ENDPOINT"
