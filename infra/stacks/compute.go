package stacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
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
// job queues and job definitions.
type ComputeStack struct {
	awscdk.Stack
	Vpc   awsec2.Vpc
	Image awsecrassets.DockerImageAsset
	// GPUQueue prefers the Spot GPU compute environment and falls back to on-demand; CPUQueue runs on Spot CPU.
	GPUQueue, CPUQueue awsbatch.JobQueue
	// GPUJob and CPUJob are the trainer's job definitions.
	GPUJob, CPUJob awsbatch.EcsJobDefinition
	// JobRole is the role the trainer runs as.
	JobRole awsiam.Role
}

// ComputeProps are the compute stack's inputs from other stacks.
type ComputeProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
}

// NewComputeStack creates the compute stack.
func NewComputeStack(scope awsconstructs.Construct, env Environment, props ComputeProps) (*ComputeStack, error) {
	imageDir, imageFile, err := trainerImageSource(props.RepoRoot, env.RequireBuiltAssets)
	if err != nil {
		return nil, fmt.Errorf("compute stack: %w", err)
	}
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"compute"), &props.StackProps)
	s := &ComputeStack{Stack: stack}

	flowLogs := awslogs.NewLogGroup(stack, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	s.Vpc = awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:                       jsii.Number(2),
		NatGateways:                  jsii.Number(float64(env.NATGateways)),
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24), MapPublicIpOnLaunch: jsii.Bool(false)},
			{Name: jsii.String("training"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{
			"All": {Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil), TrafficType: awsec2.FlowLogTrafficType_ALL},
		},
	})
	sg := awsec2.NewSecurityGroup(stack, jsii.String("TrainingInstances"), &awsec2.SecurityGroupProps{
		Vpc:              s.Vpc,
		Description:      jsii.String("Batch training instances: no inbound; outbound to ECR, S3 and CloudWatch"),
		AllowAllOutbound: jsii.Bool(true),
	})

	s.Image = awsecrassets.NewDockerImageAsset(stack, jsii.String("TrainerImage"), &awsecrassets.DockerImageAssetProps{
		Directory:  jsii.String(imageDir),
		File:       jsii.String(imageFile),
		Platform:   awsecrassets.Platform_LINUX_AMD64(),
		Exclude:    jsii.Strings(trainerContextExcludes...),
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})

	subnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	instanceTypes := make([]awsec2.InstanceType, 0, len(env.GPUInstanceTypes))
	for _, t := range env.GPUInstanceTypes {
		instanceTypes = append(instanceTypes, awsec2.NewInstanceType(jsii.String(t)))
	}
	gpuImages := &[]*awsbatch.EcsMachineImage{{ImageType: awsbatch.EcsMachineImageType_ECS_AL2_NVIDIA}}
	gpuSpot := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("GpuSpot"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: s.Vpc, VpcSubnets: subnets, SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		Spot:                      jsii.Bool(true),
		AllocationStrategy:        awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED,
		InstanceTypes:             &instanceTypes,
		UseOptimalInstanceClasses: jsii.Bool(false),
		Images:                    gpuImages,
		MinvCpus:                  jsii.Number(0),
		MaxvCpus:                  jsii.Number(float64(env.GPUMaxVCPUs)),
	})
	gpuOnDemand := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("GpuOnDemand"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: s.Vpc, VpcSubnets: subnets, SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		Spot:                      jsii.Bool(false),
		AllocationStrategy:        awsbatch.AllocationStrategy_BEST_FIT_PROGRESSIVE,
		InstanceTypes:             &instanceTypes,
		UseOptimalInstanceClasses: jsii.Bool(false),
		Images:                    gpuImages,
		MinvCpus:                  jsii.Number(0),
		MaxvCpus:                  jsii.Number(float64(env.GPUMaxVCPUs) / 2),
	})
	classes := make([]awsec2.InstanceClass, 0, len(env.CPUInstanceClasses))
	for _, c := range env.CPUInstanceClasses {
		classes = append(classes, awsec2.InstanceClass(strings.ToUpper(c)))
	}
	cpuSpot := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String("CpuSpot"), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: s.Vpc, VpcSubnets: subnets, SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		Spot:                      jsii.Bool(true),
		AllocationStrategy:        awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED,
		InstanceClasses:           &classes,
		UseOptimalInstanceClasses: jsii.Bool(false),
		Images:                    &[]*awsbatch.EcsMachineImage{{ImageType: awsbatch.EcsMachineImageType_ECS_AL2023}},
		MinvCpus:                  jsii.Number(0),
		MaxvCpus:                  jsii.Number(float64(env.CPUMaxVCPUs)),
	})
	for _, ce := range []awsbatch.ManagedEc2EcsComputeEnvironment{gpuSpot, gpuOnDemand, cpuSpot} {
		if err := constructs.Suppress(ce.InstanceRole(), constructs.Suppression{
			Rule:      "AwsSolutions-IAM4",
			Reason:    "AmazonEC2ContainerServiceforEC2Role is the ECS container-instance policy AWS Batch documents for managed EC2 compute environments; it only lets the ECS agent register, poll and pull images.",
			AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"},
		}); err != nil {
			return nil, err
		}
	}

	// Jobs go to Spot first; Batch places them in the on-demand environment when the Spot one is at capacity.
	s.GPUQueue = awsbatch.NewJobQueue(stack, jsii.String("GpuQueue"), &awsbatch.JobQueueProps{
		JobQueueName: jsii.String(env.Prefix() + "gpu"),
		Priority:     jsii.Number(10),
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{
			{ComputeEnvironment: gpuSpot, Order: jsii.Number(1)},
			{ComputeEnvironment: gpuOnDemand, Order: jsii.Number(2)},
		},
	})
	s.CPUQueue = awsbatch.NewJobQueue(stack, jsii.String("CpuQueue"), &awsbatch.JobQueueProps{
		JobQueueName:        jsii.String(env.Prefix() + "cpu"),
		Priority:            jsii.Number(10),
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{{ComputeEnvironment: cpuSpot, Order: jsii.Number(1)}},
	})

	s.JobRole = awsiam.NewRole(stack, jsii.String("TrainerJobRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("The trainer container: reads data sets, writes checkpoints and models, records progress"),
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
	jobDef := func(id, name string, cpu, memoryGiB, gpu float64) awsbatch.EcsJobDefinition {
		device := "cpu"
		if gpu > 0 {
			device = "cuda"
		}
		jobEnv := trainerEnvironment(props.Data, device)
		container := &awsbatch.EcsEc2ContainerDefinitionProps{
			Image:       awsecs.ContainerImage_FromDockerImageAsset(s.Image),
			Cpu:         jsii.Number(cpu),
			Memory:      awscdk.Size_Gibibytes(jsii.Number(memoryGiB)),
			JobRole:     s.JobRole,
			Environment: &jobEnv,
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
				StreamPrefix: jsii.String(name),
				LogGroup:     trainerLogs,
			}),
		}
		if gpu > 0 {
			container.Gpu = jsii.Number(gpu)
		}
		return awsbatch.NewEcsJobDefinition(stack, jsii.String(id), &awsbatch.EcsJobDefinitionProps{
			JobDefinitionName: jsii.String(env.Prefix() + name),
			Container:         awsbatch.NewEcsEc2ContainerDefinition(stack, jsii.String(id+"Container"), container),
			RetryAttempts:     jsii.Number(trainerRetryAttempts),
			RetryStrategies:   trainerRetryStrategies(),
			Timeout:           awscdk.Duration_Hours(jsii.Number(float64(env.TrainingTimeoutHours))),
			PropagateTags:     jsii.Bool(true),
		})
	}
	s.GPUJob = jobDef("TrainGpu", "train-gpu", 4, 15, 1)
	s.CPUJob = jobDef("TrainCpu", "train-cpu", 2, 7, 0)
	for _, def := range []awsbatch.EcsJobDefinition{s.GPUJob, s.CPUJob} {
		if err := constructs.Suppress(def.Container().ExecutionRole(), constructs.Suppression{
			Rule: "AwsSolutions-IAM5", Reason: reasonECRToken, AppliesTo: []string{"Resource::*"},
		}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// trainerRetryAttempts bounds the attempts of one training job (Batch allows 1 to 10).
const trainerRetryAttempts = 5

// trainerExitRetryable is the trainer's exit status for an interrupted or transiently failed run
// (trainer/batchjob.ExitRetryable, EX_TEMPFAIL); it resumes from its checkpoint when retried.
const trainerExitRetryable = 75

// trainerRetryStrategies retries what is not the trainer's fault — a reclaimed Spot instance, an image pull that
// failed, the trainer's own "retryable" exit — and ends the job on any other exit code, so an application error
// is not run again. Batch evaluates the conditions in order and applies the first that matches ("Automated job
// retries", AWS Batch User Guide).
func trainerRetryStrategies() *[]awsbatch.RetryStrategy {
	return &[]awsbatch.RetryStrategy{
		awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_SPOT_INSTANCE_RECLAIMED()),
		awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_CANNOT_PULL_CONTAINER()),
		awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_Custom(&awsbatch.CustomReason{
			OnExitCode: jsii.String(strconv.Itoa(trainerExitRetryable)),
		})),
		awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_NON_ZERO_EXIT_CODE()),
	}
}

// placeholderTrainerDir is the git-ignored directory, relative to the repository root, holding a stand-in
// Dockerfile while trainer/Dockerfile does not exist, so that synth and the tests run before the trainer's image
// is written; with requireBuiltAssets (diff, deploy, CI) a missing trainer/Dockerfile is an error.
const placeholderTrainerDir = ".cache/infra/placeholder-trainer"

const placeholderDockerfile = "# Stand-in for trainer/Dockerfile, which does not exist yet; never deployed.\nFROM scratch\n"

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
