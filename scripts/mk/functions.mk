# Lambda functions: static linux/arm64 bootstraps zipped under dist/functions/.
.PHONY: functions functions-amd64

functions: ## build every Lambda function as dist/functions/<name>.zip (linux/arm64 bootstrap, CGO_ENABLED=0, -tags lambda.norpc)
	scripts/build-functions.sh

functions-amd64: ## the same for linux/amd64 (the Lambda smoke test runs such a bootstrap under the Runtime Interface Emulator)
	GOARCH=amd64 scripts/build-functions.sh
