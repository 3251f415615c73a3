# Infrastructure: the CDK (Go) app in infra/ (cdk.json runs `go run ./infra`).
# The aws-cdk CLI comes from npm into a project-local, git-ignored folder; Node's end-of-life banner
# is silenced (the value is the major version) and the CLI's notices and telemetry are off, so
# `make synth` needs no AWS account and no network beyond the npm install.
.PHONY: cdk-cli synth diff deploy cdk-bootstrap ci-bootstrap smoke

CDK_VERSION ?= 2.1148.1
CDK_DIR     := .cache/cdk
CDK_BIN     := $(CDK_DIR)/node_modules/.bin/cdk
ENV         ?= dev
# One cloud assembly per environment: a synth of one never leaves another's templates beside it.
CDK_OUT     := cdk.out/$(ENV)
CDK_ENV     := JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_DISABLE_CLI_TELEMETRY=true
CDK         := $(CDK_ENV) $(CDK_BIN)
# Optional context, from make variables (CI sets them from its GitHub environment's variables):
#   ALERT_EMAIL    e-mail address subscribed to the alert topic (required to deploy staging and prod)
#   TRAINER_IMAGE  the trainer image by digest, instead of building trainer/Dockerfile
#   TRAINER_CPU_IMAGE  the CPU trainer image by digest, instead of building trainer/Dockerfile.cpu
#   COMMIT         the git commit deployed (recorded in the api stack's DeployedCommit output)
CDK_CONTEXT := -c env=$(ENV) \
	$(if $(ALERT_EMAIL),-c alertEmail=$(ALERT_EMAIL)) \
	$(if $(TRAINER_IMAGE),-c trainerImage=$(TRAINER_IMAGE)) \
	$(if $(TRAINER_CPU_IMAGE),-c trainerCpuImage=$(TRAINER_CPU_IMAGE)) \
	$(if $(COMMIT),-c commit=$(COMMIT))
CDK_FLAGS   := --no-notices --output $(CDK_OUT) $(CDK_CONTEXT)

$(CDK_BIN):
	@mkdir -p $(CDK_DIR)
	npm install --prefix $(CDK_DIR) --no-save --no-audit --no-fund aws-cdk@$(CDK_VERSION)

cdk-cli: $(CDK_BIN) ## install the aws-cdk CLI (CDK_VERSION) into .cache/cdk
	@$(CDK) --version

synth: $(CDK_BIN) ## write the CloudFormation templates of ENV (default dev) to cdk.out/ENV, offline (GITHUB_REPO=owner/name adds the CI stack)
	@start=$$(date +%s); rm -rf $(CDK_OUT); \
	$(CDK) synth $(CDK_FLAGS) $(if $(GITHUB_REPO),-c githubRepo=$(GITHUB_REPO)) --quiet && \
	echo "synth $(ENV): $$(ls $(CDK_OUT)/*.template.json | wc -l) templates in $(CDK_OUT)/ in $$(( $$(date +%s) - start )) s"

diff: $(CDK_BIN) functions ## compare ENV's stacks with what is deployed (read-only: the CDK lookup role)
	$(CDK) diff --all --method=template $(CDK_FLAGS) -c requireBuiltAssets=true

deploy: $(CDK_BIN) functions ## deploy every stack of ENV (needs AWS credentials, a bootstrapped account, and Docker unless TRAINER_IMAGE is given)
	@case "$(ENV)" in dev|staging|prod) ;; *) echo "ENV must be dev, staging or prod, not '$(ENV)'"; exit 2;; esac
	$(CDK) deploy --all $(CDK_FLAGS) -c requireBuiltAssets=true $(DEPLOY_FLAGS)

cdk-bootstrap: $(CDK_BIN) ## bootstrap the account and region of the current AWS credentials for CDK deploys
	$(CDK) bootstrap --no-notices

# Once per environment, with administrator credentials of its account: the GitHub OIDC provider (or
# GITHUB_OIDC_PROVIDER_ARN, an existing one: an account has one per URL), the diff and deploy roles the
# workflows assume, and the trainer image repository (TRAINER_PULL_ACCOUNTS: the accounts it is promoted to).
ci-bootstrap: $(CDK_BIN) ## create ENV's CI stack: GitHub OIDC provider, diff/deploy roles, trainer repository (GITHUB_REPO=owner/name)
	@[ -n "$(GITHUB_REPO)" ] || { echo "GITHUB_REPO=owner/name is required"; exit 2; }
	$(CDK) deploy orrery-$(ENV)-ci --exclusively $(CDK_FLAGS) -c githubRepo=$(GITHUB_REPO) \
		$(if $(GITHUB_OIDC_PROVIDER_ARN),-c githubOidcProviderArn=$(GITHUB_OIDC_PROVIDER_ARN)) \
		$(if $(TRAINER_PULL_ACCOUNTS),-c trainerPullAccounts=$(TRAINER_PULL_ACCOUNTS))

smoke: ## call ENV's deployed API (signed with the current AWS credentials) and fail when it does not answer
	scripts/smoke.sh "$$(aws cloudformation describe-stacks --stack-name orrery-$(ENV)-api \
		--query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)"
