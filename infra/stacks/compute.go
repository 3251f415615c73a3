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

// TrainerCPUDockerfile is the CPU trainer image's Dockerfile (the gonum backend only, no CUDA), relative to the
// repository root: the image of the CPU queue's fold jobs.
const TrainerCPUDockerfile = "trainer/Dockerfile.cpu"

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

// ComputeStack holds the training compute: the trainer images, the VPC they run in, AWS Batch compute
// environments, the job queues and the job definitions.
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
	// CPUImage is the CPU trainer image built from trainer/Dockerfile.cpu; nil when the environment names a
	// promoted one (Environment.TrainerCPUImage).
	CPUImage awsecrassets.DockerImageAsset
	// CPULaunchTemplate is the CPU instances' launch template (as LaunchTemplate, a smaller root volume).
	CPULaunchTemplate awsec2.LaunchTemplate
	// CPUQueue fills the on-demand CPU compute environment first and spills to the Spot one; heavy evaluations'
	// fold jobs run there.
	CPUQueue awsbatch.JobQueue
	// EvaluateJob is the CPU job definition of the fold jobs: the CPU image, the gonum backend.
	EvaluateJob awsbatch.EcsJobDefinition
	// CPUQueueName and EvaluateJobName are their physical names, by which the evaluation machine submits (as
	// GPUQueueName and GPUJobName).
	CPUQueueName, EvaluateJobName string
	// EvaluateJobRole is the role fold jobs run as: read the data sets, the job records, the model registry and
	// the models, write fold outcomes, and nothing else.
	EvaluateJobRole awsiam.Role
}

// cpuJobVCPUs and cpuJobMemoryGiB size one fold job: a fold holds the data set's rows in memory (a float64 per
// row and feature, and the fold's train/test copies) while it trains.
const (
	cpuJobVCPUs     = 4
	cpuJobMemoryGiB = 15
)

// Root volume sizes of the instances: the GPU ones hold the multi-GB CUDA image, the CPU ones the gonum trainer.
const (
	gpuRootVolumeGiB = 100
	cpuRootVolumeGiB = 50
)

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
	gpuSource, err := trainerImageFor(props.RepoRoot, TrainerDockerfile, env.TrainerImage, env.RequireBuiltAssets)
	if err != nil {
		return nil, fmt.Errorf("compute stack: %w", err)
	}
	cpuSource, err := trainerImageFor(props.RepoRoot, TrainerCPUDockerfile, env.TrainerCPUImage, env.RequireBuiltAssets)
	if err != nil {
		return nil, fmt.Errorf("compute stack: %w", err)
	}
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"compute"), &props.StackProps)
	s := &ComputeStack{Stack: stack, GPUQueueName: env.Prefix() + "gpu", GPUJobName: env.Prefix() + "train-gpu",
		CPUQueueName: env.Prefix() + "cpu", EvaluateJobName: env.Prefix() + "evaluate-cpu"}

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
	subnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}

	s.GPUQueue, s.LaunchTemplate, err = newBatchQueue(stack, batchQueueSpec{
		id: "Gpu", name: s.GPUQueueName, rootVolumeGiB: gpuRootVolumeGiB,
		machineImage: awsbatch.EcsMachineImageType_ECS_AL2023_NVIDIA, instanceTypes: env.GPUInstanceTypes,
		onDemandMaxVCPUs: env.GPUOnDemandMaxVCPUs, spotMaxVCPUs: env.GPUMaxVCPUs,
		vpc: s.Vpc, subnets: subnets, securityGroup: sg,
	})
	if err != nil {
		return nil, err
	}

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
	if err := grantTaskHeartbeat(s.JobRole); err != nil {
		return nil, err
	}

	trainerLogs := awslogs.NewLogGroup(stack, jsii.String("TrainerLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/batch/" + env.Prefix() + "trainer"),
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	gpuImage, gpuURI, asset := gpuSource.containerImage(stack, "TrainerRepository", "TrainerImage")
	s.Image = asset
	s.GPUJob, err = newTrainerJobDefinition(stack, env, trainerJobSpec{
		id: "TrainGpu", name: s.GPUJobName, image: gpuImage, vcpus: 4, memoryGiB: 15, gpus: 1,
		jobRole: s.JobRole, executionRole: executionRole, environment: trainerEnvironment(props.Data, "cuda"),
		logs: trainerLogs, streamPrefix: "train-gpu",
	})
	if err != nil {
		return nil, err
	}
	awscdk.NewCfnOutput(stack, jsii.String("TrainerImageUri"), &awscdk.CfnOutputProps{
		Value:       gpuURI,
		Description: jsii.String("The trainer image the job definition runs"),
	})
	if err := s.addCPUQueue(env, props, sg, subnets, ecsTasks, trainerLogs, cpuSource); err != nil {
		return nil, err
	}
	return s, nil
}

// addCPUQueue adds the CPU side of the compute: the CPU queue with its launch template and its on-demand and Spot
// compute environments on the Amazon Linux 2023 ECS image (newBatchQueue, as the GPU queue's), and the
// evaluate-cpu job definition running the CPU image — from trainer/Dockerfile.cpu, the gonum backend on the CPU,
// no CUDA, or the promoted one — as its own role, which may read the data sets, the job records and the model
// registry (GetItem), read models and write fold outcomes in the artifacts bucket, and heartbeat its task.
func (s *ComputeStack) addCPUQueue(env Environment, props ComputeProps, sg awsec2.ISecurityGroup, subnets *awsec2.SubnetSelection,
	ecsTasks awsiam.IPrincipal, logs awslogs.ILogGroup, source trainerImageSource) error {
	stack := s.Stack
	var err error
	s.CPUQueue, s.CPULaunchTemplate, err = newBatchQueue(stack, batchQueueSpec{
		id: "Cpu", name: s.CPUQueueName, rootVolumeGiB: cpuRootVolumeGiB,
		machineImage: awsbatch.EcsMachineImageType_ECS_AL2023, instanceTypes: env.CPUInstanceTypes,
		onDemandMaxVCPUs: env.CPUOnDemandMaxVCPUs, spotMaxVCPUs: env.CPUMaxVCPUs,
		vpc: s.Vpc, subnets: subnets, securityGroup: sg,
	})
	if err != nil {
		return err
	}

	s.EvaluateJobRole = awsiam.NewRole(stack, jsii.String("EvaluateJobRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasks,
		Description: jsii.String("Fold jobs of heavy evaluations: read the data, the job and the model, write the fold's outcome"),
	})
	data := props.Data
	constructs.GrantObjects(s.EvaluateJobRole, data.Datasets, data.Key, constructs.Read)
	constructs.GrantObjects(s.EvaluateJobRole, data.Artifacts, data.Key, constructs.Read, ModelsPrefix)
	constructs.GrantObjects(s.EvaluateJobRole, data.Artifacts, data.Key, constructs.ReadWrite, EvaluationFoldsPrefix)
	constructs.GrantItemActions(s.EvaluateJobRole, []string{"GetItem"}, data.Tables[TableJobs], data.Tables[TableModels])
	if err := grantTaskHeartbeat(s.EvaluateJobRole); err != nil {
		return err
	}
	executionRole := awsiam.NewRole(stack, jsii.String("EvaluateExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   ecsTasks,
		Description: jsii.String("The ECS agent, for the fold jobs' container: pulls its image, writes its logs"),
	})
	image, uri, asset := source.containerImage(stack, "TrainerCpuRepository", "TrainerCpuImage")
	s.CPUImage = asset
	s.EvaluateJob, err = newTrainerJobDefinition(stack, env, trainerJobSpec{
		id: "EvaluateCpu", name: s.EvaluateJobName, image: image, vcpus: cpuJobVCPUs, memoryGiB: cpuJobMemoryGiB,
		jobRole: s.EvaluateJobRole, executionRole: executionRole, environment: evaluateEnvironment(data),
		logs: logs, streamPrefix: "evaluate-cpu",
	})
	if err != nil {
		return err
	}
	awscdk.NewCfnOutput(stack, jsii.String("TrainerCpuImageUri"), &awscdk.CfnOutputProps{
		Value:       uri,
		Description: jsii.String("The CPU trainer image the fold jobs' job definition runs"),
	})
	return nil
}

// grantTaskHeartbeat lets a trainer role heartbeat its task with the task token (pipeline.EnvTaskToken).
// SendTaskHeartbeat has no resource-level permissions: the token itself is the authorization, so the action takes
// Resource *. The role's data grants use object-key wildcards; both findings are suppressed with their reasons.
func grantTaskHeartbeat(role awsiam.Role) error {
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("states:SendTaskHeartbeat"),
		Resources: jsii.Strings("*"),
	}))
	return constructs.Suppress(role,
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonObjectKeys, AppliesToRegex: dataObjectFindings},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonTaskToken, AppliesTo: []string{"Resource::*"}},
	)
}

// batchQueueSpec describes one job queue and what runs its jobs: construct ids start with id ("Gpu": GpuInstances,
// GpuOnDemand, GpuSpot, GpuQueue), the queue is named name.
type batchQueueSpec struct {
	id, name                       string
	rootVolumeGiB                  int
	machineImage                   awsbatch.EcsMachineImageType
	instanceTypes                  []string
	onDemandMaxVCPUs, spotMaxVCPUs int
	vpc                            awsec2.IVpc
	subnets                        *awsec2.SubnetSelection
	securityGroup                  awsec2.ISecurityGroup
}

// newBatchQueue creates a job queue, its instances' launch template and its two managed EC2 compute environments,
// the GPU and the CPU queue alike.
//
// The launch template requires IMDSv2 with a hop limit of 1: a container on the bridge network is one hop further
// and cannot reach the instance role's credentials (the trainer gets its own role's through the ECS agent). The root
// volume is encrypted.
//
// Batch places a job in the first compute environment of the queue's order that has room, and moves on to the next
// only when that one is at its MaxvCpus (AWS Batch User Guide, "Job queues"): a Spot environment first would leave
// every job RUNNABLE through a Spot shortage, however long. So the queue fills a small on-demand baseline first,
// which a Spot shortage cannot starve, and spills to Spot for the rest. Jobs that no environment could ever run, and
// jobs that wait too long on capacity, are cancelled (job state time limit actions), which fails their task instead
// of leaving it waiting until its timeout.
func newBatchQueue(stack awscdk.Stack, q batchQueueSpec) (awsbatch.JobQueue, awsec2.LaunchTemplate, error) {
	lt := awsec2.NewLaunchTemplate(stack, jsii.String(q.id+"Instances"), &awsec2.LaunchTemplateProps{
		RequireImdsv2:           jsii.Bool(true),
		HttpTokens:              awsec2.LaunchTemplateHttpTokens_REQUIRED,
		HttpPutResponseHopLimit: jsii.Number(1),
		HttpEndpoint:            jsii.Bool(true),
		BlockDevices: &[]*awsec2.BlockDevice{{
			DeviceName: jsii.String("/dev/xvda"),
			Volume: awsec2.BlockDeviceVolume_Ebs(jsii.Number(float64(q.rootVolumeGiB)), &awsec2.EbsDeviceOptions{
				Encrypted: jsii.Bool(true), VolumeType: awsec2.EbsDeviceVolumeType_GP3, DeleteOnTermination: jsii.Bool(true),
			}),
		}},
	})
	instanceTypes := make([]awsec2.InstanceType, 0, len(q.instanceTypes))
	for _, t := range q.instanceTypes {
		instanceTypes = append(instanceTypes, awsec2.NewInstanceType(jsii.String(t)))
	}
	images := &[]*awsbatch.EcsMachineImage{{ImageType: q.machineImage}}
	ce := func(suffix string, spot bool, maxVCPUs int, strategy awsbatch.AllocationStrategy) (awsbatch.ManagedEc2EcsComputeEnvironment, error) {
		c := awsbatch.NewManagedEc2EcsComputeEnvironment(stack, jsii.String(q.id+suffix), &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
			Vpc: q.vpc, VpcSubnets: q.subnets, SecurityGroups: &[]awsec2.ISecurityGroup{q.securityGroup}, LaunchTemplate: lt,
			Spot: jsii.Bool(spot), AllocationStrategy: strategy,
			InstanceTypes: &instanceTypes, UseOptimalInstanceClasses: jsii.Bool(false), Images: images,
			MinvCpus: jsii.Number(0), MaxvCpus: jsii.Number(float64(maxVCPUs)),
		})
		return c, constructs.Suppress(c.InstanceRole(), constructs.Suppression{
			Rule:      "AwsSolutions-IAM4",
			Reason:    "AmazonEC2ContainerServiceforEC2Role is the ECS container-instance policy AWS Batch documents for managed EC2 compute environments; it only lets the ECS agent register, poll and pull images.",
			AppliesTo: []string{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"},
		})
	}
	onDemand, err := ce("OnDemand", false, q.onDemandMaxVCPUs, awsbatch.AllocationStrategy_BEST_FIT_PROGRESSIVE)
	if err != nil {
		return nil, nil, err
	}
	spot, err := ce("Spot", true, q.spotMaxVCPUs, awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED)
	if err != nil {
		return nil, nil, err
	}
	runnable := func(reason awsbatch.JobStateTimeLimitActionsReason, wait awscdk.Duration) *awsbatch.JobStateTimeLimitAction {
		return &awsbatch.JobStateTimeLimitAction{Reason: reason, MaxTime: wait,
			Action: awsbatch.JobStateTimeLimitActionsAction_CANCEL, State: awsbatch.JobStateTimeLimitActionsState_RUNNABLE}
	}
	queue := awsbatch.NewJobQueue(stack, jsii.String(q.id+"Queue"), &awsbatch.JobQueueProps{
		JobQueueName: jsii.String(q.name),
		Priority:     jsii.Number(10),
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{
			{ComputeEnvironment: onDemand, Order: jsii.Number(1)},
			{ComputeEnvironment: spot, Order: jsii.Number(2)},
		},
		JobStateTimeLimitActions: &[]*awsbatch.JobStateTimeLimitAction{
			runnable(awsbatch.JobStateTimeLimitActionsReason_JOB_RESOURCE_REQUIREMENT, awscdk.Duration_Minutes(jsii.Number(10))),
			runnable(awsbatch.JobStateTimeLimitActionsReason_COMPUTE_ENVIRONMENT_MAX_RESOURCE, awscdk.Duration_Minutes(jsii.Number(10))),
			runnable(awsbatch.JobStateTimeLimitActionsReason_INSUFFICIENT_INSTANCE_CAPACITY, awscdk.Duration_Hours(jsii.Number(gpuCapacityWaitHours))),
		},
	})
	return queue, lt, nil
}

// trainerJobSpec describes one of the trainer's job definitions (construct ids id and id+"Container").
type trainerJobSpec struct {
	id, name               string
	image                  awsecs.ContainerImage
	vcpus, memoryGiB, gpus int
	jobRole, executionRole awsiam.Role
	environment            map[string]*string
	logs                   awslogs.ILogGroup
	streamPrefix           string
}

// newTrainerJobDefinition creates a job definition of the trainer (the GPU train-gpu and the CPU evaluate-cpu):
// pipeline.BatchJobRetryStrategy as its retry strategy, the environment's training timeout per attempt, tags
// propagated. A new revision (every trainer change) leaves the previous ones ACTIVE (SkipDeregisterOnUpdate): a
// job that one submitted may still be retried under it, and Step Functions executions started before the deploy
// keep submitting by name. The execution role's ecr:GetAuthorizationToken (Resource *) is suppressed with its
// reason.
func newTrainerJobDefinition(stack awscdk.Stack, env Environment, j trainerJobSpec) (awsbatch.EcsJobDefinition, error) {
	container := &awsbatch.EcsEc2ContainerDefinitionProps{
		Image:         j.image,
		Cpu:           jsii.Number(float64(j.vcpus)),
		Memory:        awscdk.Size_Gibibytes(jsii.Number(float64(j.memoryGiB))),
		JobRole:       j.jobRole,
		ExecutionRole: j.executionRole,
		Environment:   &j.environment,
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			StreamPrefix: jsii.String(j.streamPrefix),
			LogGroup:     j.logs,
		}),
	}
	if j.gpus > 0 {
		container.Gpu = jsii.Number(float64(j.gpus))
	}
	def := awsbatch.NewEcsJobDefinition(stack, jsii.String(j.id), &awsbatch.EcsJobDefinitionProps{
		JobDefinitionName: jsii.String(j.name),
		Container:         awsbatch.NewEcsEc2ContainerDefinition(stack, jsii.String(j.id+"Container"), container),
		RetryAttempts:     jsii.Number(float64(pipeline.BatchJobRetryStrategy().Attempts)),
		RetryStrategies:   trainerRetryStrategies(),
		Timeout:           awscdk.Duration_Hours(jsii.Number(float64(env.TrainingTimeoutHours))),
		PropagateTags:     jsii.Bool(true),
	})
	cfn := def.Node().DefaultChild().(awsbatch.CfnJobDefinition)
	cfn.SetResourceRetentionPolicy(&awsbatch.CfnJobDefinition_ResourceRetentionPolicyProperty{SkipDeregisterOnUpdate: jsii.Bool(true)})
	return def, constructs.Suppress(j.executionRole, constructs.Suppression{
		Rule: "AwsSolutions-IAM5", Reason: reasonECRToken, AppliesTo: []string{"Resource::*"},
	})
}

// trainerImageSource is where a trainer image comes from: promoted, an image by digest (the environment's
// TrainerImage or TrainerCPUImage), or else a Dockerfile (file, relative to the build context dir) built as an
// asset.
type trainerImageSource struct {
	promoted  string
	dir, file string
}

// trainerImageFor returns the source of the image built from dockerfile, or promoted (by digest) when that is not
// empty; see trainerImageSourceFor for a missing Dockerfile.
func trainerImageFor(repoRoot, dockerfile, promoted string, requireBuilt bool) (trainerImageSource, error) {
	if promoted != "" {
		return trainerImageSource{promoted: promoted}, nil
	}
	dir, file, err := trainerImageSourceFor(repoRoot, dockerfile, requireBuilt)
	return trainerImageSource{dir: dir, file: file}, err
}

// containerImage returns the image for a container definition and its URI: the promoted image, pulled from its
// repository (construct repoID) by digest, or the Docker image asset (construct assetID, linux/amd64, the build
// context cut to what the Dockerfile copies), which it also returns (nil for a promoted image).
func (src trainerImageSource) containerImage(stack awscdk.Stack, repoID, assetID string) (awsecs.ContainerImage, *string, awsecrassets.DockerImageAsset) {
	if src.promoted != "" {
		account, region, repository, digest, _ := trainerImageParts(src.promoted)
		repo := awsecr.Repository_FromRepositoryAttributes(stack, jsii.String(repoID), &awsecr.RepositoryAttributes{
			RepositoryName: jsii.String(repository),
			RepositoryArn:  jsii.String(fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", *awscdk.Aws_PARTITION(), region, account, repository)),
		})
		return awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(digest)), jsii.String(src.promoted), nil
	}
	asset := awsecrassets.NewDockerImageAsset(stack, jsii.String(assetID), &awsecrassets.DockerImageAssetProps{
		Directory:  jsii.String(src.dir),
		File:       jsii.String(src.file),
		Platform:   awsecrassets.Platform_LINUX_AMD64(),
		Exclude:    jsii.Strings(trainerContextExcludes...),
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})
	return awsecs.ContainerImage_FromDockerImageAsset(asset), asset.ImageUri(), asset
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

// trainerImageSourceFor returns a trainer image's build context and Dockerfile (relative to it): the repository
// root and name (TrainerDockerfile, TrainerCPUDockerfile), or the placeholder while that file is absent and
// placeholders are allowed.
func trainerImageSourceFor(repoRoot, name string, requireBuilt bool) (dir, file string, err error) {
	dockerfile := filepath.Join(repoRoot, name)
	switch _, err := os.Stat(dockerfile); {
	case err == nil:
		return repoRoot, name, nil
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
