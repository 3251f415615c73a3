package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	awsconstructs "github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/orrery-ml/orrery/infra/constructs"
	"github.com/orrery-ml/orrery/shared/config"
)

// Timeouts of the backbone functions, in seconds. The queues' visibility timeouts are six times those of their
// consumers (Lambda's guidance for SQS event sources).
const (
	stagesTimeoutSeconds  = 900
	triggerTimeoutSeconds = 30
	eventsTimeoutSeconds  = 30
)

// PipelineStack holds the backbone functions (stages, trigger, events) and the state machines.
type PipelineStack struct {
	awscdk.Stack
	Stages, Trigger, Events constructs.GoFunction
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

	function := func(id, name, description string, memory, timeout int, extraEnv map[string]*string) (constructs.GoFunction, error) {
		fnEnv := storageEnvironment(data)
		for k, v := range extraEnv {
			fnEnv[k] = v
		}
		fn, err := constructs.NewGoFunction(stack, id, constructs.GoFunctionProps{
			Name: name, FunctionName: env.Prefix() + name, Description: description,
			RepoRoot: props.RepoRoot, RequireZip: env.RequireBuiltAssets,
			Environment: fnEnv, MemoryMB: memory, Timeout: awscdk.Duration_Seconds(jsii.Number(float64(timeout))),
			LogRetention: env.LogRetention, RemovalPolicy: env.RemovalPolicy,
		})
		if err != nil {
			return constructs.GoFunction{}, fmt.Errorf("pipeline stack: %w", err)
		}
		return fn, nil
	}
	var err error
	if s.Stages, err = function("Stages", "stages", "Orrery stage handlers (training stages, optimization steps, evaluations)",
		2*env.FunctionMemoryMB, stagesTimeoutSeconds, nil); err != nil {
		return nil, err
	}
	constructs.GrantObjects(s.Stages.Role, data.Datasets, data.Key, constructs.Read)
	constructs.GrantObjects(s.Stages.Role, data.Artifacts, data.Key, constructs.ReadWrite)
	constructs.GrantItems(s.Stages.Role, constructs.ReadWrite, data.Tables[TableJobs], data.Tables[TableModels], data.Tables[TableDeployments],
		data.Tables[TableStudies])

	if s.Events, err = function("Events", "events", "Orrery status events: Batch and Step Functions state changes to job records",
		env.FunctionMemoryMB, eventsTimeoutSeconds, nil); err != nil {
		return nil, err
	}
	constructs.GrantItems(s.Events.Role, constructs.ReadWrite, data.Tables[TableJobs])
	s.Events.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(props.Backbone.StatusEvents.Queue,
		&awslambdaeventsources.SqsEventSourceProps{BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true)}))

	logs := awslogs.NewLogGroup(stack, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/vendedlogs/states/" + env.Prefix() + "pipeline"),
		Retention:     env.LogRetention,
		RemovalPolicy: env.RemovalPolicy,
	})
	values := map[string]*string{
		PlaceholderStagesFunction: s.Stages.Function.FunctionArn(),
		PlaceholderTrainJobQueue:  props.Compute.GPUQueue.JobQueueArn(),
		PlaceholderTrainJobDef:    props.Compute.GPUJob.JobDefinitionArn(),
	}
	for _, m := range props.Machines {
		sm, definition, err := newStateMachine(stack, env, m, values, logs)
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
		env.FunctionMemoryMB, triggerTimeoutSeconds, triggerEnv); err != nil {
		return nil, err
	}
	constructs.GrantObjects(s.Trigger.Role, data.Datasets, data.Key, constructs.Read, IncomingPrefix)
	constructs.GrantItems(s.Trigger.Role, constructs.Read, data.Tables[TableModels])
	constructs.GrantItems(s.Trigger.Role, constructs.ReadWrite, data.Tables[TableJobs], data.Tables[TableIdempotency])
	if sm, ok := s.StateMachines[MachineTraining]; ok {
		sm.GrantStartExecution(s.Trigger.Role)
	}
	s.Trigger.Function.AddEventSource(awslambdaeventsources.NewSqsEventSource(data.Incoming.Queue,
		&awslambdaeventsources.SqsEventSourceProps{BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true)}))

	for _, fn := range []constructs.GoFunction{s.Stages, s.Events, s.Trigger} {
		if err := suppressFunctionFindings(fn); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Names of the state machines the pipeline stack knows by name.
const (
	MachineTraining     = "training"
	MachineOptimization = "optimization"
	MachineDeployment   = "deployment"
	MachineEvaluation   = "evaluation"
)

func newStateMachine(stack awscdk.Stack, env Environment, m Machine, values map[string]*string, logs awslogs.LogGroup) (awsstepfunctions.StateMachine, string, error) {
	definition := m.Definition
	used, err := usedRefs(m.Name, definition, values)
	if err != nil {
		return nil, "", err
	}
	statements, err := taskStatements(m.Name, definition, used)
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
	if err := constructs.Suppress(sm.Role(),
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonStateMachineStar, AppliesTo: []string{"Resource::*"}},
		constructs.Suppression{Rule: "AwsSolutions-IAM5", Reason: reasonBatchJobs,
			AppliesTo: []string{"Resource::arn:<AWS::Partition>:batch:<AWS::Region>:<AWS::AccountId>:job/*"}},
	); err != nil {
		return nil, "", err
	}
	return sm, string(definition), nil
}
