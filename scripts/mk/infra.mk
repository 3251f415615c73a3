# Infrastructure: the CDK (Go) app in infra/ (cdk.json runs `go run ./infra`).
# The aws-cdk CLI comes from npm into a project-local, git-ignored folder; Node's end-of-life banner
# is silenced (the value is the major version) and the CLI's notices and telemetry are off, so
# `make synth` needs no AWS account and no network beyond the npm install.
.PHONY: cdk-cli synth diff deploy cdk-bootstrap

CDK_VERSION ?= 2.1148.1
CDK_DIR     := .cache/cdk
CDK_BIN     := $(CDK_DIR)/node_modules/.bin/cdk
ENV         ?= dev
CDK_ENV     := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true
CDK         := $(CDK_ENV) $(CDK_BIN)
CDK_FLAGS   := --no-notices -c env=$(ENV)

$(CDK_BIN):
	@mkdir -p $(CDK_DIR)
	npm install --prefix $(CDK_DIR) --no-save --no-audit --no-fund aws-cdk@$(CDK_VERSION)

cdk-cli: $(CDK_BIN) ## install the aws-cdk CLI (CDK_VERSION) into .cache/cdk
	@$(CDK) --version

synth: $(CDK_BIN) ## write the CloudFormation templates of ENV (default dev) to cdk.out, offline; prints how long it took
	@start=$$(date +%s); \
	$(CDK) synth $(CDK_FLAGS) --quiet && \
	echo "synth $(ENV): $$(ls cdk.out/*.template.json | wc -l) templates in cdk.out/ in $$(( $$(date +%s) - start )) s"

diff: $(CDK_BIN) functions ## compare ENV's stacks with what is deployed (needs AWS credentials)
	$(CDK) diff --all $(CDK_FLAGS) -c requireBuiltAssets=true

deploy: $(CDK_BIN) functions ## deploy every stack of ENV (needs AWS credentials, a bootstrapped account and Docker for the trainer image)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "ENV must be dev, staging or prod, not '$(ENV)'"; exit 2;; esac
	$(CDK) deploy --all $(CDK_FLAGS) -c requireBuiltAssets=true $(DEPLOY_FLAGS)

cdk-bootstrap: $(CDK_BIN) ## bootstrap the account and region of the current AWS credentials for CDK deploys
	$(CDK) bootstrap --no-notices
