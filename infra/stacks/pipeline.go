package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/ml/deployment"
)

// Timeouts of the backbone functions, in seconds. The queues' visibility timeouts are six times those of their
// consumers (Lambda's guidance for SQS event sources).
const (
	stagesTimeoutSeconds  = 900
	triggerTimeoutSeconds = 30
	eventsTimeoutSeconds  = 30
)

// stagesEphemeralStorageMB is the stages function's /tmp: evaluations and stages download a data set and a model
// there and write reports and plots (Lambda's default is 512 MB).
const stagesEphemeralStorageMB = 4096

// PipelineStack holds the backbone functions (stages, trigger, events) and the state machines.
type PipelineStack struct {
	awscdk.Stack
	Stages, Trigger, Events constructs.GoFunction
	// Tracking drains the MLflow mirror's outbox; nil with the mirror off (tracking.go).
	Tracking *constructs.GoFunction
	// StagesVersion is the version of the stages function this deploy published; the state machines invoke it,
	// never $LATEST.
	StagesVersion awslambda.Version
	// LogsKey encrypts the state machines' log group, which holds execution data (inputs and outputs).
	LogsKey awskms.Key
	// StateMachines by Machine.Name.
	StateMachines map[string]awsstepfunctions.StateMachine
	// Definitions are the ASL JSON documents as Build returned them (with placeholders), by Machine.Name.
	Definitions map[string]string
}

// PipelineProps are the pipeline stack's inputs.
type PipelineProps struct {
	awscdk.StackProps
	RepoRoot string
	Data     *DataStack
	Backbone *BackboneStack
	Compute  *ComputeStack
	// Machines are built in order; a machine named "training" makes TrainingStateMachineArn available to those
	// after it.
	Machines []Machine
}

// NewPipelineStack creates the pipeline stack.
func NewPipelineStack(scope awsconstructs.Construct, env Environment, props PipelineProps) (*PipelineStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(env.Prefix()+"pipeline"), &props.StackProps)
	s := &PipelineStack{Stack: stack, StateMachines: map[string]awsstepfunctions.StateMachine{}, Definitions: map[string]string{}}
	data := props.Data

	function := func(id, name, description string, memory, timeout, concurrency, storage int, extraEnv map[string]*string) (constructs.GoFunction, error) {
		fnEnv := storageEnvironment(data)
		for k, v := range extraEnv {
			fnEnv[k] = v
		}
		fn, err := constructs.NewGoFunction(stack, id, constructs.GoFunctionProps{
			Name: name, FunctionName: env.Prefix() + name, Description: description,
			RepoRoot: props.RepoRoot, RequireZip: env.RequireBuiltAssets,
			Environment: fnEnv, MemoryMB: memory, Timeout: awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
			LogRetention: env.LogRetention, RemovalPolicy: env.RemovalPolicy,
			ReservedConcurrency: concurrency, EphemeralStorageMB: storage,
		})
		if err != nil {
			return constructs.GoFunction{}, fmt.Errorf("pipeline stack: %w", err)
		}
		return fn, nil
	}
	var err error
	stagesEnv := map[string]*string{
		config.EnvPredictFunction: jsii.String(predictFunctionName(env)),
		config.EnvEnvironment:     jsii.String(env.Name),
		config.EnvAlarmPrefix:     jsii.String(deploymentAlarmPrefix(env)),
	}
	if s.Stages, err = function("Stages", "stages", "Orrery stage handlers (training stages, optimization steps, evaluations, deployment steps)",
		2*env.FunctionMemoryMB, stagesTimeoutSeconds, env.Concurrency.Stages, stagesEphemeralStorageMB, stagesEnv); err != nil {
		return nil, err
	}
	// The deployment steps read the predict function's traffic (its EMF metrics) and put the score-drift and
	// positive-rate figures the deployment's alarms watch.
	s.Stages.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudwatch:GetMetricData"), Resources: jsii.Strings("*"),
	}))
	s.Stages.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("cloudwatch:PutMetricData"), Resources: jsii.Strings("*"),
		Conditions: &map[string]any{"StringEquals": map[string]any{"cloudwatch:namespace": deployment.MetricNamespace}},
	}))
	constructs.GrantObjects(s.Stages.Role, data.Datasets, data.Key, constructs.Read)
	constructs.GrantObjects(s.Stages.Role, data.Artifacts, data.Key, constructs.ReadWrite)
	constructs.GrantItems(s.Stages.Role, constructs.ReadWrite, data.Tables[TableJobs], data.Tables[TableModels], data.Tables[TableDeployments],
		data.Tables[TableStudies])

	if s.Events, err = function("Events", "events", "Orrery status events: Batch and Step Functions state changes to job records",
		env.FunctionMemoryMB, eventsTimeoutSeconds, env.Concurrency.Events, 0, nil); err != nil {
		return nil, err
	}
	constructs.GrantItems(s.Events.Role, constructs.ReadWrite, data.Tables[TableJobs])
	s.Events.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(props.Backbone.StatusEvents.Queue,
		&awslambdaeventsources.SqsEventSourceProps{BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true),
			MaxConcurrency: jsii.Number(float64(sqsMaxConcurrency(env.Concurrency.Events)))}))

	if err := s.addTracking(env, data, function); err != nil {
		return nil, err
	}

	logGroupName := "/aws/vendedlogs/states/" + env.Prefix() + "pipeline"
	s.LogsKey = awskms.NewKey(stack, jsii.String("StateMachineLogsKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/" + env.Prefix() + "state-machine-logs"),
		Description:       jsii.String("Encrypts the execution data in Orrery's " + env.Name + " state-machine logs"),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     env.RemovalPolicy,
	})
	// CloudWatch Logs encrypts and decrypts the log group's events with the key, for that log group only
	// (CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs using AWS KMS").
	s.LogsKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("CloudWatchLogsUse"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(
			awscdk.Fn_Join(jsii.String(""), jsii.Strings("logs.", *awscdk.Aws_REGION(), ".amazonaws.com")), nil)},
		Actions: jsii.Strings("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
			"kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{"ArnEquals": map[string]any{
			"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:"+logGroupName),
		}},
	}), nil)
	logs := awslogs.NewLogGroup(stack, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(logGroupName),
		EncryptionKey: s.LogsKey,
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	logs.Node().AddDependency(s.LogsKey)

	// The machines invoke the version of the stages function this deploy published, never $LATEST: an
	// execution keeps the definition it started with (Step Functions runs started executions on their
	// definition when the machine is updated), so a long study keeps the stages code it began with while new
	// executions get the new version. Versions are retained (CDK's default for currentVersion); the role may
	// invoke any of them for that reason.
	s.StagesVersion = s.Stages.Function.CurrentVersion()
	stagesArn := s.Stages.Function.FunctionArn()
	jobDefinition := arn("batch", "job-definition/"+props.Compute.GPUJobName)
	evalJobDefinition := arn("batch", "job-definition/"+props.Compute.EvaluateJobName)
	values := map[string]*string{
		PlaceholderStagesFunction: s.StagesVersion.FunctionArn(),
		// By name (an ARN without revision): Batch runs the latest ACTIVE revision, and no export ties this stack
		// to the revision the compute stack deployed last.
		PlaceholderTrainJobQueue: arn("batch", "job-queue/"+props.Compute.GPUQueueName),
		PlaceholderTrainJobDef:   jobDefinition,
		// Heavy evaluations' fold jobs: the CPU queue and job definition, by name as well.
		PlaceholderEvalJobQueue: arn("batch", "job-queue/"+props.Compute.CPUQueueName),
		PlaceholderEvalJobDef:   evalJobDefinition,
	}
	grants := map[string][]*string{
		PlaceholderStagesFunction: {stagesArn, awscdk.Fn_Join(jsii.String(""), jsii.Strings(*stagesArn, ":*"))},
		// SubmitJob is authorized on the revision it resolves to (AWS Batch User Guide, "Accounting for job
		// definition revisions").
		PlaceholderTrainJobDef: {awscdk.Fn_Join(jsii.String(""), jsii.Strings(*jobDefinition, ":*"))},
		PlaceholderEvalJobDef:  {awscdk.Fn_Join(jsii.String(""), jsii.Strings(*evalJobDefinition, ":*"))},
	}
	stack.AddStackDependency(props.Compute.Stack, jsii.String("the machines submit to the compute stack's queues and job definitions by name"))
	for _, m := range props.Machines {
		sm, definition, err := newStateMachine(stack, env, m, values, grants, deploymentGrants(env), logs)
		if err != nil {
			return nil, fmt.Errorf("pipeline stack: %w", err)
		}
		s.StateMachines[m.Name] = sm
		s.Definitions[m.Name] = definition
		if m.Name == MachineTraining {
			values[PlaceholderTrainingMachine] = sm.StateMachineArn()
		}
	}

	triggerEnv := map[string]*string{}
	if sm, ok := s.StateMachines[MachineTraining]; ok {
		triggerEnv[config.EnvTrainingStateMachineARN] = sm.StateMachineArn()
	}
	if s.Trigger, err = function("Trigger", "trigger", "Orrery retraining trigger: uploads under incoming/ start training executions",
		env.FunctionMemoryMB, triggerTimeoutSeconds, env.Concurrency.Trigger, 0, triggerEnv); err != nil {
		return nil, err
	}
	constructs.GrantObjects(s.Trigger.Role, data.Datasets, data.Key, constructs.Read, IncomingPrefix)
	constructs.GrantItems(s.Trigger.Role, constructs.Read, data.Tables[TableModels])
	constructs.GrantItems(s.Trigger.Role, constructs.ReadWrite, data.Tables[TableJobs], data.Tables[TableIdempotency])
	if sm, ok := s.StateMachines[MachineTraining]; ok {
		sm.GrantStartExecution(s.Trigger.Role)
	}
	s.Trigger.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(data.Incoming.Queue,
		&awslambdaeventsources.SqsEventSourceProps{BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true),
			MaxConcurrency: jsii.Number(float64(sqsMaxConcurrency(env.Concurrency.Trigger)))}))

	for _, fn := range []constructs.GoFunction{s.Stages, s.Events, s.Trigger} {
		if err := suppressFunctionFindings(fn); err != nil {
			return nil, err
		}
	}
	if err := constructs.Suppress(s.Stages.Role, constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonMetrics,
		AppliesTo: []string{"Resource::*"}}); err != nil {
		return nil, err
	}
	return s, nil
}

// predictFunctionName is the physical name of the environment's predict function (the serving stack's), which
// the deployment machine and the stages function name without a cross-stack reference: the pipeline stack deploys
// before the serving stack.
func predictFunctionName(env Environment) string { return env.Prefix() + "predict" }

// deploymentAlarmPrefix starts the names of the CloudWatch alarms of the environment's deployments
// (shared/ml/deployment.AlarmName: <prefix>-deploy-<deployment_id>-<kind>).
func deploymentAlarmPrefix(env Environment) string { return strings.TrimSuffix(env.Prefix(), "-") }

// deploymentGrants are the resources of the deployment machine's AWS SDK integrations: the predict function's
// configuration and versions and its aliases (one per endpoint), and the deployment's own CloudWatch alarms —
// created, read and deleted by each deployment, whose alarms are named after it (its thresholds and dimensions are
// the model's, unknown when the stack deploys). describeAlarms also reads the alarms a request names, which must
// belong to the environment (<prefix>-...).
func deploymentGrants(env Environment) map[string][]*string {
	fn := arn("lambda", "function:"+predictFunctionName(env))
	fnAll := awscdk.Fn_Join(jsii.String(""), jsii.Strings(*fn, ":*"))
	own := arn("cloudwatch", "alarm:"+deploymentAlarmPrefix(env)+"-deploy-*")
	envAlarms := arn("cloudwatch", "alarm:"+deploymentAlarmPrefix(env)+"-*")
	return map[string][]*string{
		"lambda:getAlias":                    {fnAll},
		"lambda:updateAlias":                 {fnAll},
		"lambda:getFunctionConfiguration":    {fn},
		"lambda:updateFunctionConfiguration": {fn},
		"lambda:publishVersion":              {fn},
		"cloudwatch:putMetricAlarm":          {own},
		"cloudwatch:deleteAlarms":            {own},
		"cloudwatch:describeAlarms":          {envAlarms},
	}
}

// Names of the state machines the pipeline stack knows by name.
const (
	MachineTraining     = "training"
	MachineOptimization = "optimization"
	MachineDeployment   = "deployment"
	MachineEvaluation   = "evaluation"
)

// sqsMaxConcurrency is the MaximumConcurrency of an SQS event source whose function has that reserved
// concurrency: no more pollers than the function can run, so messages are not throttled back onto the queue
// (Lambda developer guide, "Configuring maximum concurrency for Amazon SQS event sources"); at least 2, the
// least the setting allows.
func sqsMaxConcurrency(reserved int) int {
	return max(2, reserved)
}

func newStateMachine(stack awscdk.Stack, env Environment, m Machine, values map[string]*string, grants map[string][]*string,
	sdk map[string][]*string, logs awslogs.LogGroup) (awsstepfunctions.StateMachine, string, error) {
	definition := m.Definition
	used, err := usedRefs(m.Name, definition, values)
	if err != nil {
		return nil, "", err
	}
	for i, r := range used {
		used[i].grant = grants[r.placeholder[2:len(r.placeholder)-1]]
	}
	statements, err := taskStatements(m.Name, definition, used, sdk)
	if err != nil {
		return nil, "", err
	}
	substitutions := map[string]*string{}
	for _, r := range used {
		name := r.placeholder[2 : len(r.placeholder)-1]
		substitutions[name] = r.value
	}
	id := tableID(Table(m.Name)) // "training" -> "Training..."
	id = id[:len(id)-len("Table")]
	sm := awsstepfunctions.NewStateMachine(stack, jsii.String(id+"StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(env.Prefix() + m.Name),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(string(definition))),
		DefinitionSubstitutions: &substitutions,
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logs,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(true),
		},
		TracingEnabled: jsii.Bool(true),
		RemovalPolicy:  awscdk.RemovalPolicy_DESTROY,
	})
	for _, st := range statements {
		sm.AddToRolePolicy(st)
	}
	// cfn-lint's schema of the definition (E3601) has no OutputPath on Succeed states, which the States
	// Language allows on every state but Fail (https://states-language.net/spec.html, "Filters"); the
	// definition is validated by shared/pipeline's asl.Definition.Validate instead.
	sm.Node().DefaultChild().(awscdk.CfnResource).AddMetadata(jsii.String("cfn-lint"),
		map[string]any{"config": map[string]any{"ignore_checks": []string{"E3601"}}})
	if err := constructs.Suppress(sm.Role(),
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonStateMachineStar, AppliesTo: []string{"Resource::*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonBatchJobs,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonFunctionVersions,
			AppliesToRegex: []string{`/^Resource::<Stages[0-9A-F]{8}\.Arn>:\*$/`}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonJobDefinitionRevisions,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition/" + env.Prefix() + "train-gpu:*",
				"Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job-definition/" + env.Prefix() + "evaluate-cpu:*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonPredictAliases,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:" + predictFunctionName(env) + ":*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonDeploymentAlarms,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:" + deploymentAlarmPrefix(env) + "-deploy-*",
				"Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:" + deploymentAlarmPrefix(env) + "-*"}},
	); err != nil {
		return nil, "", err
	}
	return sm, string(definition), nil
}
