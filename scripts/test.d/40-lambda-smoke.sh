# shellcheck shell=bash
# Sourced by scripts/test.sh: installs the AWS Lambda Runtime Interface Emulator into .cache/bin (the tagged
# releases are not served by the module proxy, hence the pseudo-version) and exports its path, so that the Go
# smoke tests (TestBootstrapUnderRIE of functions/events, stages and predict) build a linux/amd64 bootstrap and invoke it through the
# emulator with a payload from events/aws, against moto.
rie_version=v0.0.0-20261030222936-bef5c4ba774d
rie_bin=.cache/bin/aws-lambda-rie
if [ ! -x "$rie_bin" ] || [ "$(cat .cache/bin/aws-lambda-rie.version 2>/dev/null)" != "$rie_version" ]; then
  mkdir -p .cache/bin
  GOBIN="$PWD/.cache/bin" go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
  echo "$rie_version" > .cache/bin/aws-lambda-rie.version
fi
export ORRERY_TEST_LAMBDA_RIE="$PWD/$rie_bin"
echo "lambda runtime interface emulator: $ORRERY_TEST_LAMBDA_RIE"
