package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
)

// GitHubOIDCIssuer is the issuer of GitHub Actions' OIDC tokens; the audience the configure-aws-credentials
// action asks for is sts.amazonaws.com.
const (
	GitHubOIDCIssuer   = "token.actions.githubusercontent.com"
	GitHubOIDCAudience = "sts.amazonaws.com"
)

// defaultBootstrapQualifier is the qualifier of `cdk bootstrap`'s roles unless the app sets
// @aws-cdk/core:bootstrapQualifier.
const defaultBootstrapQualifier = "hnb659fds"

// CIStack is what the GitHub workflows of one environment need in its account: the GitHub OIDC provider (or an
// existing one), a read-only role for `cdk diff`, a deploy role, and the repository the trainer image is
// promoted into. Both roles trust only the repository's workflow jobs that run in their GitHub environment
// (`<env>-diff`, `<env>`), and reach AWS through the CDK bootstrap roles, which CloudFormation deploys with.
type CIStack struct {
	awscdk.Stack
	DiffRole, DeployRole awsiam.Role
	TrainerRepository    awsecr.Repository
}

// NewCIStack creates the CI stack of env for env.GitHubRepo. It is deployed once per environment by an
// administrator (`make ci-bootstrap`), never by the deploy role itself: `make deploy` leaves it out.
func NewCIStack(scope awsconstructs.Construct, env Environment, props *awscdk.StackProps) (*CIStack, error) {
	if env.GitHubRepo == "" {
		return nil, fmt.Errorf("ci stack of %s: context %q is required: %w", env.Name, ContextGitHubRepo, ErrInvalidContext)
	}
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"ci"), props)
	s := &CIStack{Stack: stack}

	provider := env.GitHubOIDCProviderARN
	if provider == "" {
		// GitHub's certificate chain is trusted by IAM without thumbprints (IAM user guide, "Create an OpenID
		// Connect (OIDC) identity provider").
		p := awsiam.NewCfnOIDCProvider(stack, jsii.String("GitHubOidc"), &awsiam.CfnOIDCProviderProps{
			Url:          jsii.String("https://" + GitHubOIDCIssuer),
			ClientIdList: jsii.Strings(GitHubOIDCAudience),
		})
		provider = *p.AttrArn()
	}
	trust := func(githubEnv string) awsiam.IPrincipal {
		return awsiam.NewWebIdentityPrincipal(jsii.String(provider), &map[string]any{
			"StringEquals": map[string]any{
				GitHubOIDCIssuer + ":aud": GitHubOIDCAudience,
				GitHubOIDCIssuer + ":sub": "repo:" + env.GitHubRepo + ":environment:" + githubEnv,
			},
		})
	}
	qualifier := defaultBootstrapQualifier
	if q, ok := stack.Node().TryGetContext(jsii.String("@aws-cdk/core:bootstrapQualifier")).(string); ok && q != "" {
		qualifier = q
	}
	bootstrapRole := func(kind string) *string {
		return awscdk.Fn_Join(jsii.String(""), jsii.Strings("arn:", *awscdk.Aws_PARTITION(), ":iam::", *awscdk.Aws_ACCOUNT_ID(),
			":role/cdk-", qualifier, "-", kind, "-role-", *awscdk.Aws_ACCOUNT_ID(), "-", *awscdk.Aws_REGION()))
	}
	stackOutputs := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("cloudformation:DescribeStacks"),
		Resources: jsii.Strings(*arn("cloudformation", "stack/"+env.Prefix()+"*/*")),
	})

	// `cdk diff --method=template` reads the deployed templates through the lookup role, which is read-only.
	s.DiffRole = awsiam.NewRole(stack, jsii.String("DiffRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(env.Prefix() + "ci-diff"),
		AssumedBy:          trust(env.Name + "-diff"),
		Description:        jsii.String("GitHub Actions: cdk diff of Orrery " + env.Name + " (read-only)"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	s.DiffRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("sts:AssumeRole", "sts:TagSession"),
		Resources: &[]*string{bootstrapRole("lookup")},
	}))
	s.DiffRole.AddToPrincipalPolicy(stackOutputs)

	s.TrainerRepository = awsecr.NewRepository(stack, jsii.String("TrainerRepository"), &awsecr.RepositoryProps{
		RepositoryName:     jsii.String(env.Prefix() + "trainer"),
		ImageScanOnPush:    jsii.Bool(true),
		ImageTagMutability: awsecr.TagMutability_IMMUTABLE,
		Encryption:         awsecr.RepositoryEncryption_KMS(),
		LifecycleRules: &[]*awsecr.LifecycleRule{{
			Description: jsii.String("keep the last 100 images (each deploy's, for rollbacks)"), MaxImageCount: jsii.Number(100),
		}},
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	for _, account := range env.TrainerPullAccounts {
		// The environments the image is promoted to copy it from here by digest.
		s.TrainerRepository.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("PromoteTo" + account),
			Principals: &[]awsiam.IPrincipal{awsiam.NewAccountPrincipal(jsii.String(account))},
			Actions:    jsii.Strings("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"),
		}))
	}

	s.DeployRole = awsiam.NewRole(stack, jsii.String("DeployRole"), &awsiam.RoleProps{
		RoleName:           jsii.String(env.Prefix() + "ci-deploy"),
		AssumedBy:          trust(env.Name),
		Description:        jsii.String("GitHub Actions: cdk deploy of Orrery " + env.Name + ", through the CDK bootstrap roles"),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(2)),
	})
	// cdk deploy: assets through the publishing roles, the change sets through the deploy role (CloudFormation
	// then runs them as the bootstrap's execution role), context lookups through the lookup role.
	s.DeployRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("sts:AssumeRole", "sts:TagSession"),
		Resources: &[]*string{bootstrapRole("deploy"), bootstrapRole("file-publishing"), bootstrapRole("image-publishing"),
			bootstrapRole("lookup")},
	}))
	// The trainer image: pushed here by the dev deploy, copied here by digest from the environment before.
	s.TrainerRepository.GrantPullPush(s.DeployRole)
	s.DeployRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"),
		Resources: jsii.Strings("arn:" + *awscdk.Aws_PARTITION() + ":ecr:*:*:repository/orrery-*-trainer"),
	}))
	s.DeployRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ecr:DescribeImages"),
		Resources: jsii.Strings(*s.TrainerRepository.RepositoryArn()),
	}))
	// The smoke test: the API's URL from the api stack's outputs, then signed GET requests to it.
	s.DeployRole.AddToPrincipalPolicy(stackOutputs)
	s.DeployRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("execute-api:Invoke"),
		Resources: jsii.Strings(*arn("execute-api", "*/$default/GET/*")),
	}))

	if err := constructs.Suppress(s.DiffRole, constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonCIStacks,
		AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack\/orrery-[a-z]+-\*\/\*$/`}}); err != nil {
		return nil, err
	}
	if err := constructs.Suppress(s.DeployRole,
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonCIStacks,
			AppliesToRegex: []string{`/^Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack\/orrery-[a-z]+-\*\/\*$/`}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonCIImages,
			AppliesTo: []string{"Resource::*", "Resource::arn:<AWS::Partition>:ecr:*:*:repository/orrery-*-trainer"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonCISmoke,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:*/$default/GET/*"}},
	); err != nil {
		return nil, err
	}
	for id, value := range map[string]*string{
		"DiffRoleArn":          s.DiffRole.RoleArn(),
		"DeployRoleArn":        s.DeployRole.RoleArn(),
		"TrainerRepositoryUri": s.TrainerRepository.RepositoryUri(),
	} {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value})
	}
	return s, nil
}

const (
	reasonCIStacks = "The workflow reads the outputs (API URL, deployed commit and image) of this environment's stacks, orrery-<env>-*; stack ids end in a generated suffix."
	reasonCIImages = "ecr:GetAuthorizationToken has no resource-level permissions; the image copy reads the trainer repository of the environment before this one, in its own account (whose repository policy must allow this one)."
	reasonCISmoke  = "The smoke test sends signed GET requests to this environment's HTTP API, whose id the CI stack cannot know (it is deployed before the API exists): only GET on the $default stage."
)
