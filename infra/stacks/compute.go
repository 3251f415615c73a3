package stacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/pipeline"
)

// TrainerDockerfile is the trainer image's Dockerfile, relative to the repository root (the build context).
const TrainerDockerfile = "trainer/Dockerfile"

// trainerContextExcludes keeps the image's build context to what the Dockerfile copies: the module files, the
// domain library, the trainer and the libtorch setup script. Everything else (virtual environments, caches, the
// git history, build output) would only slow the asset's staging and change its hash.
var trainerContextExcludes = []string{
	"*",
	"!go.mod", "!go.sum",
	"!shared/**", "!trainer/**", "!events/**",
	"!scripts/setup-libtorch.sh",
	"**/testdata/**", "**/*_test.go",
}

// ComputeStack holds the training compute: the trainer image, the VPC it runs in, AWS Batch compute environments,
// the job queue and the job definition.
type ComputeStack struct {
	awscdk.Stack
	Vpc awsec2.Vpc
	// Image is the trainer image built from trainer/Dockerfile; nil when the environment names a promoted image
	// (Environment.TrainerImage).
	Image awsecrassets.DockerImageAsset
	// LaunchTemplate is the GPU instances' launch template (IMDSv2 only, hop limit 1, encrypted root volume).
	LaunchTemplate awsec2.LaunchTemplate
	// GPUQueue fills the on-demand GPU compute environment first and spills to the Spot one.
	GPUQueue awsbatch.JobQueue
	// GPUJob is the trainer's job definition.
	GPUJob awsbatch.EcsJobDefinition
	// GPUQueueName and GPUJobName are the queue's and the job definition's physical names: other stacks refer to
	// them by name, never through an export, so a new job definition revision (every trainer change) leaves
	// their templates as they are; SubmitJob given the name uses the latest ACTIVE revision.
	GPUQueueName, GPUJobName string
	// JobRole is the role the trainer runs as.
	JobRole awsiam.Role
}

// ComputeProps are the compute stack's inputs from other stacks.
type ComputeProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
}

// gpuCapacityWaitHours is how long a job may stay RUNNABLE at the head of the GPU queue while every compute
// environment reports insufficient instance capacity, before Batch cancels it (the task's timeout would end it
// later in any case, with a less telling error).
const gpuCapacityWaitHours = 2

// NewComputeStack creates the compute stack.
func NewComputeStack(scope awsconstructs.Construct, env Environment, props ComputeProps) (*ComputeStack, error) {
	var imageDir, imageFile string
	if env.TrainerImage == "" {
		var err error
		if imageDir, imageFile, err = trainerImageSource(props.RepoRoot, env.RequireBuiltAssets); err != nil {
			return nil, fmt.Errorf("compute stack: %w", err)
		}
	}
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"compute"), &props.StackProps)
	s := &ComputeStack{Stack: stack, GPUQueueName: env.Prefix() + "gpu", GPUJobName: env.Prefix() + "train-gpu"}

	flowLogs := awslogs.NewLogGroup(stack, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	s.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(float64(env.NATGateways)),
		// The default security group loses its rules (CDK's custom resource): nothing may use it by accident.
		RestrictDefaultSecurityGroup: jsii.Bool(true),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("training"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		// Data sets, checkpoints and models (S3) and progress records (DynamoDB) stay off the NAT gateway.
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil), TrafficType: awsec2.FlowLogTrafficType_ALL},
		},
	})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("TrainingInstances"), &awsec2.SecurityGroupProps{
		Vpc:              s.Vpc,
		Description:      jsii.String("Batch training instances: no inbound; outbound HTTPS only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	// Everything the instances and the trainer talk to is an AWS API over HTTPS: ECR (image pull), S3 and DynamoDB
	// (through the gateway endpoints, whose prefix lists 0.0.0.0/0 covers), CloudWatch Logs, the ECS agent's
	// endpoints, Step Functions (heartbeats). DNS and NTP go to the VPC's link-local resolver and time source,
	// which security groups do not filter.
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS to AWS APIs"), nil)

	// IMDSv2 only, with a hop limit of 1: a container on the bridge network is one hop further and cannot reach
	// the instance role's credentials (the trainer gets its own role's through the ECS agent). The root volume
	// is encrypted and large enough for the CUDA image.
	s.LaunchTemplate = awsec2.NewLaunchTemplate(stack, jsii.String("GpuInstances"), &awsec2.LaunchTemplateProps{
		RequireImdsv2:           jsii.Bool(true),
		HttpTokens:              awsec2.LaunchTemplateHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(1),
		HttpEndpoint:            jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(100), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})

	var image awsecs.ContainerImage
	imageURI := jsii.String(env.TrainerImage)
	if env.TrainerImage != "" {
		account, region, repository, digest, _ := trainerImageParts(env.TrainerImage)
		repo := awsecr.Repository_FromRepositoryAttributes(stack, jsii.String("TrainerRepository"), &awsecr.RepositoryAttributes{
			RepositoryName: jsii.String(repository),
			RepositoryArn:  jsii.String(fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", *awscdk.Aws_PARTITION(), region, account, repository)),
		})
		image = awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(digest))
	} else {
		s.Image = awsecrassets.NewDockerImageAsset(stack, jsii.String("TrainerImage"), &awsecrassets.DockerImageAssetProps{
			Directory:  jsii.String(imageDir),
			File:       jsii.String(imageFile),
			Platform:   awsecrassets.Platform_LINUX_AMD64(),
			Exclude:    jsii.Strings(trainerContextExcludes...),
			IgnoreMode: awscdk.IgnoreMode_DOCKER,
		})
		image = awsecs.ContainerImage_FromDockerImageAsset(s.Image)
		imageURI = s.Image.ImageUri()
	}

	subnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	instanceTypes := make([]awsec2.InstanceType, 0, len(env.GPUInstanceTypes))
	for _, t := range env.GPUInstanceTypes {
		instanceTypes = append(instanceTypes, awsec2.NewInstanceType(jsii.String(t)))
	}
	gpuImages := &[]*awsbatch.EcsMachineImage{{ImageType: awsbatch.EcsMachineImageType_ECS_AL2023_NVIDIA}}
	gpuOnDemand := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("GpuOnDemand"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: s.Vpc, VpcSubnets: subnets, SecurityGroups: &[]awsec2.ISecurityGroup{sg}, LaunchTemplate: s.LaunchTemplate,
		Spot:                      jsii.Bool(false),
		AllocationStrategy:        awsbatch.AllocationStrategy_BEST_FIT_PROGRESSIVE,
		InstanceTypes:             &instanceTypes,
		UseOptimalInstanceClasses: jsii.Bool(false),
		Images:                    gpuImages,
		MinvCpus:                  jsii.Number(0),
		MaxvCpus:                  jsii.Number(float64(env.GPUOnDemandMaxVCPUs)),
	})
	gpuSpot := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("GpuSpot"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: s.Vpc, VpcSubnets: subnets, SecurityGroups: &[]awsec2.ISecurityGroup{sg}, LaunchTemplate: s.LaunchTemplate,
		Spot:                      jsii.Bool(true),
		AllocationStrategy:        awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED,
		InstanceTypes:             &instanceTypes,
		UseOptimalInstanceClasses: jsii.Bool(false),
		Images:                    gpuImages,
		MinvCpus:                  jsii.Number(0),
		MaxvCpus:                  jsii.Number(float64(env.GPUMaxVCPUs)),
	})
	for _, ce := range []awsbatch.ManagedEc2EcsComputeEnvironment{gpuOnDemand, gpuSpot} {
		if err := constructs.Suppress(ce.InstanceRole(), constructs.Suppression{
			Rule:      "AwsSolutions-IAM4",
			Reason:    "AmazonEC2ContainerServiceforEC2Role is the ECS container-instance policy AWS Batch documents for managed EC2 compute environments; it only lets the ECS agent register, poll and pull images.",
			AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"},
		}); err != nil {
			return nil, err
		}
	}

	// Batch places a job in the first compute environment of the queue's order that has room, and moves on to
	// the next only when that one is at its MaxvCpus (AWS Batch User Guide, "Job queues"): a Spot environment
	// first would leave every job RUNNABLE through a Spot shortage, however long. So the queue fills a small
	// on-demand baseline first, which a Spot shortage cannot starve, and spills to Spot for the rest. Jobs that no
	// environment could ever run, and jobs that wait too long on capacity, are cancelled (job state time limit
	// actions), which fails their task instead of leaving it waiting until its timeout.
	s.GPUQueue = awsbatch.NewJobQueue(stack, jsii.String("GpuQueue"), &awsbatch.JobQueueProps{
		JobQueueName: jsii.String(s.GPUQueueName),
		Priority:     jsii.Number(10),
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{
			{ComputeEnvironment: gpuOnDemand, Order: jsii.Number(1)},
			{ComputeEnvironment: gpuSpot, Order: jsii.Number(2)},
		},
		JobStateTimeLimitActions: &[]*awsbatch.JobStateTimeLimitAction{
			{Reason: awsbatch.JobStateTimeLimitActionsReason_JOB_RESOURCE_REQUIREMENT, MaxTime: awscdk.Duration_Minutes(jsii.Number(10)),
				Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, State: awsbatch.JobStateTimeLimitActionsState_RUNNABLE},
			{Reason: awsbatch.JobStateTimeLimitActionsReason_COMPUTE_ENVIRONMENT_MAX_RESOURCE, MaxTime: awscdk.Duration_Minutes(jsii.Number(10)),
				Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, State: awsbatch.JobStateTimeLimitActionsState_RUNNABLE},
			{Reason: awsbatch.JobStateTimeLimitActionsReason_INSUFFICIENT_INSTANCE_CAPACITY, MaxTime: awscdk.Duration_Hours(jsii.Number(gpuCapacityWaitHours)),
				Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, State: awsbatch.JobStateTimeLimitActionsState_RUNNABLE},
		},
	})

	// ECS assumes the trainer's roles for tasks of this account only (the confused-deputy guard of the ECS
	// developer guide's task IAM role).
	ecsTasks := awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), &awsiam.ServicePrincipalOpts{
		Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
	})
	s.JobRole = awsiam.NewRole(stack, jsii.String("TrainerJobRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasks,
		Description: jsii.String("The trainer container: reads data sets, writes checkpoints and models, records progress"),
	})
	executionRole := awsiam.NewRole(stack, jsii.String("TrainerExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasks,
		Description: jsii.String("The ECS agent, for the trainer container: pulls its image, writes its logs"),
	})
	constructs.GrantObjects(s.JobRole, props.Data.Datasets, props.Data.Key, constructs.Read)
	constructs.GrantObjects(s.JobRole, props.Data.Artifacts, props.Data.Key, constructs.ReadWrite)
	// Jobs: training progress; studies: trial mode claims a trial and writes its intermediate values and end.
	constructs.GrantItems(s.JobRole, constructs.ReadWrite, props.Data.Tables[TableJobs], props.Data.Tables[TableStudies])
	// The trainer heartbeats the Train task with its task token (pipeline.EnvTaskToken). SendTaskHeartbeat has no
	// resource-level permissions: the token itself is the authorization, so the action takes Resource *.
	s.JobRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:SendTaskHeartbeat"),
		Resources: jsii.Strings("*"),
	}))
	if err := constructs.Suppress(s.JobRole,
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonObjectKeys, AppliesToRegex: dataObjectFindings},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonTaskToken, AppliesTo: []string{"Resource::*"}},
	); err != nil {
		return nil, err
	}

	trainerLogs := awslogs.NewLogGroup(stack, jsii.String("TrainerLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/batch/" + env.Prefix() + "trainer"),
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	jobEnv := trainerEnvironment(props.Data, "cuda")
	s.GPUJob = awsbatch.NewEcsJobDefinition(stack, jsii.String("TrainGpu"), &awsbatch.EcsJobDefinitionProps{
		JobDefinitionName: jsii.String(s.GPUJobName),
		Container: awsbatch.NewEcsEc2ContainerDefinition(stack, jsii.String("TrainGpuContainer"), &awsbatch.EcsEc2ContainerDefinitionProps{
			Image:         image,
			Cpu:           jsii.Number(4),
			Memory:        awscdk.Size_Gibibytes(jsii.Number(15)),
			Gpu:           jsii.Number(1),
			JobRole:       s.JobRole,
			ExecutionRole: executionRole,
			Environment:   &jobEnv,
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
				StreamPrefix: jsii.String("train-gpu"),
				LogGroup:     trainerLogs,
			}),
		}),
		RetryAttempts:   jsii.Number(float64(pipeline.BatchJobRetryStrategy().Attempts)),
		RetryStrategies: trainerRetryStrategies(),
		Timeout:         awscdk.Duration_Hours(jsii.Number(float64(env.TrainingTimeoutHours))),
		PropagateTags:   jsii.Bool(true),
	})
	// A new revision (every trainer change) leaves the previous ones ACTIVE: a job that one submitted may still be
	// retried under it, and Step Functions executions started before the deploy keep submitting by name.
	awscdk.NewCfnOutput(stack, jsii.String("TrainerImageUri"), &awscdk.CfnOutputProps{
		Value:       imageURI,
		Description: jsii.String("The trainer image the job definition runs"),
	})
	cfnJob := s.GPUJob.Node().DefaultChild().(awsbatch.CfnJobDefinition)
	cfnJob.SetResourceRetentionPolicy(&awsbatch.CfnJobDefinition_ResourceRetentionPolicyProperty{SkipDeregisterOnUpdate: jsii.Bool(true)})
	if err := constructs.Suppress(executionRole, constructs.Suppression{
		Rule: "AwsSolutions-IAM5", Reason: reasonECRToken, AppliesTo: []string{"Resource::*"},
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// trainerRetryStrategies is pipeline.BatchJobRetryStrategy, the retry strategy the state machines submit the
// trainer's jobs with, as the job definition's: Batch evaluates the conditions in order and applies the first
// that matches ("Automated job retries", AWS Batch User Guide).
func trainerRetryStrategies() *[]awsbatch.RetryStrategy {
	rules := pipeline.BatchJobRetryStrategy().EvaluateOnExit
	out := make([]awsbatch.RetryStrategy, 0, len(rules))
	for _, r := range rules {
		action := awsbatch.Action_RETRY
		if r.Action == "EXIT" {
			action = awsbatch.Action_EXIT
		}
		out = append(out, awsbatch.RetryStrategy_Of(action, awsbatch.Reason_Custom(&awsbatch.CustomReason{
			OnExitCode: strOrNil(r.OnExitCode), OnStatusReason: strOrNil(r.OnStatusReason), OnReason: strOrNil(r.OnReason),
		})))
	}
	return &out
}

// placeholderTrainerDir is the git-ignored directory, relative to the repository root, holding a stand-in
// Dockerfile for a tree without trainer/Dockerfile, so that synth and the tests run there; with requireBuiltAssets
// (diff, deploy, CI) a missing trainer/Dockerfile is an error.
const placeholderTrainerDir = ".cache/infra/placeholder-trainer"

const placeholderDockerfile = "# Stand-in for trainer/Dockerfile, absent from this tree; never deployed.\nFROM scratch\n"

// trainerImageSource returns the trainer image's build context and Dockerfile (relative to it): the repository
// root and trainer/Dockerfile, or the placeholder while that file is absent and placeholders are allowed.
func trainerImageSource(repoRoot string, requireBuilt bool) (dir, file string, err error) {
	dockerfile := filepath.Join(repoRoot, TrainerDockerfile)
	switch _, err := os.Stat(dockerfile); {
	case err == nil:
		return repoRoot, TrainerDockerfile, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", "", fmt.Errorf("trainer image: %w", err)
	case requireBuilt:
		return "", "", fmt.Errorf("trainer image: %s: %w", dockerfile, ErrMissingDockerfile)
	}
	dir = filepath.Join(repoRoot, placeholderTrainerDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("trainer image placeholder: %w", err)
	}
	path := filepath.Join(dir, "Dockerfile")
	if current, err := os.ReadFile(path); err != nil || string(current) != placeholderDockerfile {
		if err := os.WriteFile(path, []byte(placeholderDockerfile), 0o644); err != nil {
			return "", "", fmt.Errorf("trainer image placeholder: %w", err)
		}
	}
	return dir, "Dockerfile", nil
}
