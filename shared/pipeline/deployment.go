package pipeline

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/orrery-ml/orrery/shared/ml/deployment"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// The AWS SDK service integrations of the deployment state machine
// (Step Functions developer guide, "AWS SDK service integrations": the
// resource is arn:aws:states:::aws-sdk:<service>:<apiAction>, the
// parameters the API's members). On the embedded runtime the same
// resources are bound to Go handlers (DeploymentServices).
const (
	LambdaGetAlias                    = "arn:aws:states:::aws-sdk:lambda:getAlias"
	LambdaGetFunctionConfiguration    = "arn:aws:states:::aws-sdk:lambda:getFunctionConfiguration"
	LambdaUpdateFunctionConfiguration = "arn:aws:states:::aws-sdk:lambda:updateFunctionConfiguration"
	LambdaPublishVersion              = "arn:aws:states:::aws-sdk:lambda:publishVersion"
	LambdaUpdateAlias                 = "arn:aws:states:::aws-sdk:lambda:updateAlias"
	CloudWatchPutMetricAlarm          = "arn:aws:states:::aws-sdk:cloudwatch:putMetricAlarm"
	CloudWatchDescribeAlarms          = "arn:aws:states:::aws-sdk:cloudwatch:describeAlarms"
	CloudWatchDeleteAlarms            = "arn:aws:states:::aws-sdk:cloudwatch:deleteAlarms"
)

// State names of the deployment state machine (Start, Validate, MarkFailed
// and Failed as in the other machines).
const (
	StateValidate          = "Validate"
	StateFindLive          = "FindLive"
	StateReadConfiguration = "ReadConfiguration"
	StateHasEnvironment    = "HasEnvironment"
	StateBindModel         = "BindModel"
	StateBindModelAlone    = "BindModelAlone"
	StatePublish           = "Publish"
	StateCheckBinding      = "CheckBinding"
	StateBindingLost       = "BindingLost"
	StateCreateAlarms      = "CreateAlarms"
	StatePutAlarm          = "PutAlarm"
	StateRecordPublished   = "RecordPublished"
	StateBeginShift        = "BeginShift"
	StateShift             = "Shift"
	StateRoute             = "Route"
	StateRouteSplit        = "RouteSplit"
	StateRouteAll          = "RouteAll"
	StateMoveTraffic       = "MoveTraffic"
	StateRecordShift       = "RecordShift"
	StateWatch             = "Watch"
	StateWait              = "Wait"
	StateCheck             = "Check"
	StateReadAlarms        = "ReadAlarms"
	StateJudge             = "Judge"
	StateAlarmState        = "AlarmState"
	StateFiring            = "Firing"
	StateQuiet             = "Quiet"
	StateAlarmFired        = "AlarmFired"
	StateForget            = "Forget"
	StateTick              = "Tick"
	StateNextStep          = "NextStep"
	StateAdvance           = "Advance"
	StatePromote           = "Promote"
	StateRemoveAlarms      = "RemoveAlarms"
	StateStartRollback     = "StartRollback"
	StateRollback          = "Rollback"
	StateRollbackFailed    = "RollbackFailed"
	StateRecordRollback    = "RecordRollback"
	StateRollbackCleanUp   = "RollbackCleanUp"
	StateAlertRollback     = "AlertRollback"
	StateRolledBack        = "RolledBack"
	StateFailureCleanUp    = "FailureCleanUp"
	StateAlertFailure      = "AlertFailure"
)

// Errors a deployment execution that did not promote ends with; the cause
// starts with the name of the error that stopped it.
const (
	ErrorDeploymentFailed     = "Orrery.DeploymentFailed"
	ErrorDeploymentRolledBack = "Orrery.DeploymentRolledBack"
)

// DeploymentResources are what the deployment state machine refers to.
type DeploymentResources struct {
	// StagesFunction runs the deployment's steps: invoked with
	// {"deployment": deployment.StepRequest}.
	StagesFunction string
	// AlertTopic, when set, is an SNS topic told about every deployment
	// that rolls back or fails.
	AlertTopic string
	// TimeoutSeconds bounds the whole execution (default 8 days: the
	// longest plan, a day's bake after 99 linear steps of an hour, is
	// about 5).
	TimeoutSeconds int
}

// DeploymentPlaceholders returns the resources as the CDK app substitutes
// them: the stages function and the alert topic of the training machine
// (${StagesFunctionArn}, ${AlertTopicArn}).
func DeploymentPlaceholders() DeploymentResources {
	p := Placeholders()
	return DeploymentResources{StagesFunction: p.StagesFunction, AlertTopic: p.AlertTopic}
}

// LocalDeploymentResources names the resources on the embedded runtime,
// where DeploymentHandlers binds them. There is no alert topic, as in the
// CDK app (whose executions-failed alarm notifies the operators): the steps
// that end a deployment put the alert in its timeline and the log.
func LocalDeploymentResources() DeploymentResources {
	return DeploymentResources{StagesFunction: LocalResources().StagesFunction}
}

// DeploymentInput is the execution input of the deployment state machine.
// Everything the traffic shifts and alarm checks need is in it, so that the
// flow never depends on what the stages function answers (its steps keep
// the record; their results are discarded).
type DeploymentInput struct {
	DeploymentID string `json:"deployment_id"`
	// FunctionName is the predict function (its name or ARN) and Endpoint
	// the name of its alias that serves the endpoint.
	FunctionName string `json:"function_name"`
	Endpoint     string `json:"endpoint"`
	ModelID      string `json:"model_id"`
	// ModelEnv are the environment variables that bind a version of the
	// predict function to the model ({"ORRERY_MODEL_ID": model_id}).
	ModelEnv map[string]string `json:"model_env"`
	// Steps is the traffic plan (deployment.Plan.Steps); the last is 100 %.
	Steps []deployment.Step `json:"steps"`
	// AlarmSpecs are the PutMetricAlarm requests of the deployment's own
	// alarms, CreatedAlarms their names (deleted at the end), and Alarms
	// every alarm watched (those and the ones the request named).
	AlarmSpecs    []map[string]any `json:"alarm_specs"`
	CreatedAlarms []string         `json:"created_alarms"`
	Alarms        []string         `json:"alarms"`
	// AutoRollback rolls back when an alarm fires; without it an alarm is
	// recorded and the deployment goes on.
	AutoRollback bool `json:"auto_rollback"`
}

// JSON encodes the input.
func (in DeploymentInput) JSON() json.RawMessage {
	b, _ := json.Marshal(in)
	return b
}

// jsonPieces are the fixed strings the RouteSplit state builds the alias's
// AdditionalVersionWeights object from ({"<version>": weight}), a map whose
// key is known only at run time: ASL's payload templates have fixed keys,
// and brace escapes in States.Format are not portable, so the braces come
// from the state's input.
var jsonPieces = map[string]string{"open": `{"`, "colon": `":`, "close": `}`}

// awsRetry retries the throttling and transient service errors of an AWS
// SDK integration, with backoff and full jitter (their names are
// <Service>.<Exception>).
func awsRetry(service string) []asl.Retrier {
	return []asl.Retrier{{
		ErrorEquals: []string{service + ".TooManyRequestsException", service + ".ServiceException",
			service + ".ThrottlingException", service + ".LimitExceededException", service + ".InternalServiceException"},
		IntervalSeconds: 1, MaxAttempts: asl.Attempts(6), BackoffRate: 2, MaxDelaySeconds: 30, JitterStrategy: "FULL",
	}}
}

// conflictRetry retries Lambda's ResourceConflictException: a version is
// published, or an alias moved, while the function's last update is still
// in progress.
func conflictRetry() asl.Retrier {
	return asl.Retrier{ErrorEquals: []string{"Lambda.ResourceConflictException"}, IntervalSeconds: 2,
		MaxAttempts: asl.Attempts(10), BackoffRate: 1.5, MaxDelaySeconds: 20, JitterStrategy: "FULL"}
}

func catchTo(next string) []asl.Catcher {
	return []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.error"), Next: next}}
}

// deploymentStep is a Task of the stages function running one deployment
// step; its result is discarded (ResultPath null), so the execution's
// state is its input's.
func deploymentStep(r DeploymentResources, step string, extra map[string]any, next string, catch []asl.Catcher) asl.State {
	p := map[string]any{"step": step, "deployment_id.$": "$.deployment_id"}
	for k, v := range extra {
		p[k] = v
	}
	return asl.State{
		Type: asl.TypeTask, Resource: r.StagesFunction, Comment: "deployment step " + step + " (deployment.StepRequest in)",
		Parameters: map[string]any{deployment.Kind: p}, ResultPath: asl.NullPath,
		TimeoutSeconds: 900, Retry: lambdaRetry(), Catch: catch, Next: next,
	}
}

// Deployment builds the `deployment` state machine:
//
//	Start -> Validate (stages: the model validator's gates) -> FindLive
//	(lambda:getAlias: the version the endpoint's alias serves) ->
//	ReadConfiguration -> BindModel (lambda:updateFunctionConfiguration: the
//	model id into the function's environment) -> Publish
//	(lambda:publishVersion) -> CheckBinding (the version carries the model)
//	-> CreateAlarms (Map of cloudwatch:putMetricAlarm) -> RecordPublished ->
//	for each plan step: Shift -> Route -> MoveTraffic (lambda:updateAlias:
//	the new version's weight, or all of it) -> RecordShift -> Watch loop
//	(Wait -> Check (stages: the alarms' figures) -> ReadAlarms
//	(cloudwatch:describeAlarms) -> Judge (a Map that fails on an alarm in
//	ALARM) -> Tick) -> NextStep ->
//	Promote -> RemoveAlarms -> Succeeded
//
// An alarm in ALARM (with auto_rollback) or any failure after publishing
// is caught -> StartRollback -> Rollback (lambda:updateAlias: all traffic
// back to the previous version) -> RecordRollback -> RollbackCleanUp ->
// (AlertRollback) -> RolledBack (Fail); a failure before any traffic moved
// -> MarkFailed -> FailureCleanUp -> (AlertFailure) -> Failed. The stages
// function's results are never read (ResultPath null): the flow runs on
// its input and the service integrations' answers alone.
func Deployment(r DeploymentResources) (asl.Definition, error) {
	if r.TimeoutSeconds == 0 {
		r.TimeoutSeconds = 8 * 24 * 3600
	}
	if err := checkResource("StagesFunction", r.StagesFunction, true); err != nil {
		return asl.Definition{}, err
	}
	if err := checkResource("AlertTopic", r.AlertTopic, false); err != nil {
		return asl.Definition{}, err
	}
	if r.TimeoutSeconds < 0 {
		return asl.Definition{}, fmt.Errorf("%w: TimeoutSeconds %d must be positive", ErrResources, r.TimeoutSeconds)
	}
	pieces, _ := json.Marshal(jsonPieces)
	description := "States.Format('orrery deployment {}', $.deployment_id)"
	toMarkFailed, toRollback := catchTo(StateMarkFailed), catchTo(StateStartRollback)
	afterRollback, afterFailure := StateRolledBack, StateFailed
	states := map[string]asl.State{
		StateStart: {
			Type: asl.TypePass, Comment: "the pieces of the alias's weights object (see RouteSplit)",
			Result: pieces, ResultPath: asl.P("$.json"), Next: StateValidate,
		},
		StateValidate: deploymentStep(r, deployment.StepValidate, nil, StateFindLive, toMarkFailed),
		StateFindLive: {
			Type: asl.TypeTask, Resource: LambdaGetAlias, Comment: "the version the endpoint's alias serves: what a rollback returns to",
			Parameters:     map[string]any{"FunctionName.$": "$.function_name", "Name.$": "$.endpoint"},
			ResultSelector: map[string]any{"version.$": "$.FunctionVersion"}, ResultPath: asl.P("$.previous"),
			TimeoutSeconds: 60, Retry: awsRetry("Lambda"), Catch: toMarkFailed, Next: StateReadConfiguration,
		},
		StateReadConfiguration: {
			Type: asl.TypeTask, Resource: LambdaGetFunctionConfiguration, Comment: "the function's environment, which BindModel extends",
			Parameters: map[string]any{"FunctionName.$": "$.function_name"}, ResultPath: asl.P("$.configuration"),
			TimeoutSeconds: 60, Retry: awsRetry("Lambda"), Catch: toMarkFailed, Next: StateHasEnvironment,
		},
		StateHasEnvironment: {
			Type:    asl.TypeChoice,
			Choices: asl.ChoiceList{{Variable: "$.configuration.Environment.Variables", Op: "IsPresent", Value: true, Next: StateBindModel}},
			Default: StateBindModelAlone,
		},
		StateBindModel:      bindModel("States.JsonMerge($.configuration.Environment.Variables, $.model_env, false)", toMarkFailed),
		StateBindModelAlone: bindModel("$.model_env", toMarkFailed),
		StatePublish: {
			Type: asl.TypeTask, Resource: LambdaPublishVersion, Comment: "a version bound to the model",
			Parameters: map[string]any{"FunctionName.$": "$.function_name",
				"Description.$": "States.Format('orrery model {} (deployment {})', $.model_id, $.deployment_id)"},
			ResultPath: asl.P("$.published"), TimeoutSeconds: 60,
			Retry: append([]asl.Retrier{conflictRetry()}, awsRetry("Lambda")...), Catch: toMarkFailed, Next: StateCheckBinding,
		},
		StateCheckBinding: {
			Type: asl.TypeChoice, Comment: "another update of the function's environment may have come between BindModel and Publish",
			Choices: asl.ChoiceList{{
				And: []asl.ChoiceRule{
					asl.Compare("$.published.Environment.Variables."+deploymentModelEnv, "IsPresent", true),
					asl.Compare("$.published.Environment.Variables."+deploymentModelEnv, "StringEqualsPath", "$.model_id"),
				},
				Next: StateCreateAlarms,
			}},
			Default: StateBindingLost,
		},
		StateBindingLost: {
			Type: asl.TypePass, Comment: "the published version serves another model",
			Parameters: map[string]any{"Error": "Orrery.Conflict",
				"Cause.$": "States.Format('version {} of {} does not carry model {}: another deployment updated the function meanwhile', $.published.Version, $.function_name, $.model_id)"},
			ResultPath: asl.P("$.error"), Next: StateMarkFailed,
		},
		StateCreateAlarms: {
			Type: asl.TypeMap, Comment: "the deployment's own alarms, on the new model's metrics",
			ItemsPath: "$.alarm_specs", MaxConcurrency: 1, ResultPath: asl.NullPath,
			ItemProcessor: &asl.Machine{
				ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"},
				StartAt:         StatePutAlarm,
				States: map[string]asl.State{
					StatePutAlarm: {Type: asl.TypeTask, Resource: CloudWatchPutMetricAlarm, Comment: "the item is the PutMetricAlarm request",
						Parameters: alarmParameters(), ResultPath: asl.NullPath, TimeoutSeconds: 60, Retry: awsRetry("CloudWatch"), End: true},
				},
			},
			Catch: toMarkFailed, Next: StateRecordPublished,
		},
		StateRecordPublished: deploymentStep(r, deployment.StepPublished,
			map[string]any{"version.$": "$.published.Version", "previous_version.$": "$.previous.version"}, StateBeginShift, toMarkFailed),
		StateBeginShift: {
			Type: asl.TypePass, Parameters: map[string]any{"index": 0}, ResultPath: asl.P("$.cursor"), Next: StateShift,
		},
		StateShift: {
			Type: asl.TypePass, Comment: "the plan step at $.cursor.index",
			Parameters: map[string]any{"index.$": "$.cursor.index", "step.$": "States.ArrayGetItem($.steps, $.cursor.index)", "check": 0},
			ResultPath: asl.P("$.cursor"), Next: StateRoute,
		},
		StateRoute: {
			Type:    asl.TypeChoice,
			Choices: asl.ChoiceList{{Variable: "$.cursor.step.percent", Op: "NumericEquals", Value: 100, Next: StateRouteAll}},
			Default: StateRouteSplit,
		},
		StateRouteSplit: {
			Type: asl.TypePass, Comment: "the previous version keeps serving; the new one gets the step's weight",
			Parameters: map[string]any{"function_version.$": "$.previous.version",
				"weights.$": "States.StringToJson(States.Format('{}{}{}{}{}', $.json.open, $.published.Version, $.json.colon, $.cursor.step.weight, $.json.close))"},
			ResultPath: asl.P("$.routing"), Next: StateMoveTraffic,
		},
		StateRouteAll: {
			Type: asl.TypePass, Comment: "all traffic to the new version",
			Parameters: map[string]any{"function_version.$": "$.published.Version", "weights": map[string]any{}},
			ResultPath: asl.P("$.routing"), Next: StateMoveTraffic,
		},
		StateMoveTraffic: {
			Type: asl.TypeTask, Resource: LambdaUpdateAlias, Comment: "shift the endpoint's alias",
			Parameters: map[string]any{"FunctionName.$": "$.function_name", "Name.$": "$.endpoint",
				"FunctionVersion.$": "$.routing.function_version", "Description.$": description,
				"RoutingConfig": map[string]any{"AdditionalVersionWeights.$": "$.routing.weights"}},
			ResultPath: asl.NullPath, TimeoutSeconds: 60,
			Retry: append([]asl.Retrier{conflictRetry()}, awsRetry("Lambda")...), Catch: toRollback, Next: StateRecordShift,
		},
		StateRecordShift: deploymentStep(r, deployment.StepShifted,
			map[string]any{"percent.$": "$.cursor.step.percent", "stage.$": "$.cursor.step.stage"}, StateWatch, toRollback),
		StateWatch: {
			Type: asl.TypeChoice, Comment: "watch the alarms cursor.step.checks times at this share",
			Choices: asl.ChoiceList{{Variable: "$.cursor.check", Op: "NumericLessThanPath", Value: "$.cursor.step.checks", Next: StateWait}},
			Default: StateNextStep,
		},
		StateWait: {Type: asl.TypeWait, SecondsPath: "$.cursor.step.check_seconds", Next: StateCheck},
		StateCheck: deploymentStep(r, deployment.StepCheck,
			map[string]any{"percent.$": "$.cursor.step.percent", "stage.$": "$.cursor.step.stage", "check.$": "$.cursor.check"},
			StateReadAlarms, toRollback),
		StateReadAlarms: {
			Type: asl.TypeTask, Resource: CloudWatchDescribeAlarms, Comment: "the watched alarms (the deployment's own always among them)",
			Parameters:     map[string]any{"AlarmNames.$": "$.alarms"},
			ResultSelector: map[string]any{"alarms.$": "$.MetricAlarms"},
			ResultPath:     asl.P("$.alarm_check"), TimeoutSeconds: 60, Retry: awsRetry("CloudWatch"), Catch: toRollback, Next: StateJudge,
		},
		StateJudge: {
			Type: asl.TypeMap, Comment: "an alarm in ALARM fails its iteration, and the Map, with Orrery.AlarmFired",
			ItemsPath: "$.alarm_check.alarms",
			ItemSelector: map[string]any{"name.$": "$$.Map.Item.Value.AlarmName", "state.$": "$$.Map.Item.Value.StateValue",
				"reason.$": "$$.Map.Item.Value.StateReason"},
			ItemProcessor: &asl.Machine{
				ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"},
				StartAt:         StateAlarmState,
				States: map[string]asl.State{
					StateAlarmState: {
						Type:    asl.TypeChoice,
						Choices: asl.ChoiceList{{Variable: "$.state", Op: "StringEquals", Value: deployment.StateAlarm, Next: StateFiring}},
						Default: StateQuiet,
					},
					StateFiring: {Type: asl.TypeFail, Error: deployment.ErrorAlarmFired,
						CausePath: "States.Format('alarm {} is in ALARM: {}', $.name, $.reason)"},
					StateQuiet: {Type: asl.TypeSucceed},
				},
			},
			ResultPath: asl.NullPath,
			Catch: []asl.Catcher{
				{ErrorEquals: []string{deployment.ErrorAlarmFired}, ResultPath: asl.P("$.error"), Next: StateAlarmFired},
				{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.error"), Next: StateStartRollback},
			},
			Next: StateForget,
		},
		StateForget: {
			Type: asl.TypePass, Comment: "drop the alarms read: their timestamps need not travel on",
			Result: json.RawMessage(`{}`), ResultPath: asl.P("$.alarm_check"), Next: StateTick,
		},
		StateAlarmFired: {
			Type: asl.TypeChoice, Comment: "without auto_rollback an alarm is recorded (by the check step) and the deployment goes on",
			Choices: asl.ChoiceList{{Variable: "$.auto_rollback", Op: "BooleanEquals", Value: true, Next: StateStartRollback}},
			Default: StateForget,
		},
		StateTick: {
			Type:       asl.TypePass,
			Parameters: map[string]any{"index.$": "$.cursor.index", "step.$": "$.cursor.step", "check.$": "States.MathAdd($.cursor.check, 1)"},
			ResultPath: asl.P("$.cursor"), Next: StateWatch,
		},
		StateNextStep: {
			Type:    asl.TypeChoice,
			Choices: asl.ChoiceList{{Variable: "$.cursor.step.percent", Op: "NumericEquals", Value: 100, Next: StatePromote}},
			Default: StateAdvance,
		},
		StateAdvance: {
			Type: asl.TypePass, Parameters: map[string]any{"index.$": "States.MathAdd($.cursor.index, 1)"},
			ResultPath: asl.P("$.cursor"), Next: StateShift,
		},
		StatePromote:      deploymentStep(r, deployment.StepPromote, nil, StateRemoveAlarms, toRollback),
		StateRemoveAlarms: removeAlarms(StateSucceeded),
		StateSucceeded:    {Type: asl.TypeSucceed, Comment: "promoted"},

		StateStartRollback: deploymentStep(r, deployment.StepRollingBack, map[string]any{"error.$": "$.error"}, StateRollback,
			// The traffic goes back even when the record cannot say so.
			[]asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.NullPath, Next: StateRollback}}),
		StateRollback: {
			Type: asl.TypeTask, Resource: LambdaUpdateAlias, Comment: "all traffic back to the previous version",
			Parameters: map[string]any{"FunctionName.$": "$.function_name", "Name.$": "$.endpoint",
				"FunctionVersion.$": "$.previous.version", "Description.$": description,
				"RoutingConfig": map[string]any{"AdditionalVersionWeights": map[string]any{}}},
			ResultPath: asl.NullPath, TimeoutSeconds: 60,
			Retry: append([]asl.Retrier{conflictRetry()}, asl.Retrier{ErrorEquals: []string{asl.ErrorAll}, IntervalSeconds: 2,
				MaxAttempts: asl.Attempts(8), BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: "FULL"}),
			Catch: []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.rollback_error"), Next: StateRollbackFailed}},
			Next:  StateRecordRollback,
		},
		StateRollbackFailed: {
			Type: asl.TypePass, Comment: "the failure to report is the rollback's, after the one that caused it",
			Parameters: map[string]any{"Error.$": "$.rollback_error.Error",
				"Cause.$": "States.Format('the rollback after {} ({}) failed: {}', $.error.Error, $.error.Cause, $.rollback_error.Cause)"},
			ResultPath: asl.P("$.error"), Next: StateMarkFailed,
		},
		StateRecordRollback: deploymentStep(r, deployment.StepRolledBack, map[string]any{"error.$": "$.error"}, StateRollbackCleanUp,
			[]asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.record_error"), Next: StateRollbackCleanUp}}),
		StateMarkFailed: deploymentStep(r, deployment.StepMarkFailed, map[string]any{"error.$": "$.error"}, StateFailureCleanUp, nil),
		StateRolledBack: {Type: asl.TypeFail, Error: ErrorDeploymentRolledBack, CausePath: "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
		StateFailed:     {Type: asl.TypeFail, Error: ErrorDeploymentFailed, CausePath: "States.Format('{}: {}', $.error.Error, $.error.Cause)"},
	}
	if r.AlertTopic != "" {
		afterRollback, afterFailure = StateAlertRollback, StateAlertFailure
		states[StateAlertRollback] = alert(r, "Orrery deployment rolled back",
			"States.Format('Deployment {} of model {} to endpoint {} was rolled back: {}: {}', $.deployment_id, $.model_id, $.endpoint, $.error.Error, $.error.Cause)",
			StateRolledBack)
		states[StateAlertFailure] = alert(r, "Orrery deployment failed",
			"States.Format('Deployment {} of model {} to endpoint {} failed: {}: {}', $.deployment_id, $.model_id, $.endpoint, $.error.Error, $.error.Cause)",
			StateFailed)
	}
	states[StateRollbackCleanUp] = removeAlarms(afterRollback)
	states[StateFailureCleanUp] = removeAlarms(afterFailure)
	def := asl.Definition{
		Comment: "Orrery deployment: validate -> publish a version bound to the model -> shift the endpoint's alias step by step, " +
			"watching alarms -> promote; an alarm or a failure rolls back",
		StartAt: StateStart, States: states, TimeoutSeconds: r.TimeoutSeconds,
	}
	if err := def.Validate(); err != nil {
		return asl.Definition{}, err
	}
	return def, nil
}

// deploymentModelEnv is the variable of a published version that names its
// model (config.EnvModelID).
const deploymentModelEnv = "ORRERY_MODEL_ID"

// alarmParameters passes the members of a PutMetricAlarm request
// (deployment.CloudWatchAlarms) from the Map item: named one by one, as a
// Task without Parameters is not portable (moto's interpreter then sends
// none).
func alarmParameters() map[string]any {
	p := map[string]any{}
	for _, m := range []string{"AlarmName", "AlarmDescription", "ComparisonOperator", "Threshold", "EvaluationPeriods",
		"DatapointsToAlarm", "TreatMissingData", "ActionsEnabled", "Metrics"} {
		p[m+".$"] = "$." + m
	}
	return p
}

// bindModel is the updateFunctionConfiguration task that sets the
// function's environment to variables (a path or an intrinsic).
func bindModel(variables string, catch []asl.Catcher) asl.State {
	return asl.State{
		Type: asl.TypeTask, Resource: LambdaUpdateFunctionConfiguration, Comment: "fix the model id in the function's environment",
		Parameters: map[string]any{"FunctionName.$": "$.function_name", "Environment": map[string]any{"Variables.$": variables}},
		ResultPath: asl.NullPath, TimeoutSeconds: 60,
		Retry: append([]asl.Retrier{conflictRetry()}, awsRetry("Lambda")...), Catch: catch, Next: StatePublish,
	}
}

// removeAlarms deletes the deployment's own alarms, whatever happens.
func removeAlarms(next string) asl.State {
	return asl.State{
		Type: asl.TypeTask, Resource: CloudWatchDeleteAlarms, Comment: "the deployment's own alarms are done with",
		Parameters: map[string]any{"AlarmNames.$": "$.created_alarms"}, ResultPath: asl.NullPath, TimeoutSeconds: 60,
		Retry: awsRetry("CloudWatch"),
		Catch: []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.cleanup_error"), Next: next}},
		Next:  next,
	}
}

func alert(r DeploymentResources, subject, message, next string) asl.State {
	return asl.State{
		Type: asl.TypeTask, Resource: SNSPublish, Comment: "tell the operators",
		Parameters: map[string]any{"TopicArn": r.AlertTopic, "Subject": subject, "Message.$": message},
		ResultPath: asl.NullPath, TimeoutSeconds: 60, Retry: lambdaRetry(),
		Catch: []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.alert_error"), Next: next}},
		Next:  next,
	}
}

// DeploymentStepper runs one deployment step (*deploymentjob.Service
// satisfies it).
type DeploymentStepper interface {
	Step(ctx context.Context, req deployment.StepRequest) (deployment.StepOutput, error)
}

// DeploymentServices are the Go handlers the embedded runtime binds the
// deployment machine's service integrations to: the predict function's
// aliases and versions are the EndpointStore's routes there, its alarms
// are read from the serving traffic, and alerts go to the log. Each takes
// the integration's parameters and answers in the API's response shape.
type DeploymentServices struct {
	GetAlias, GetFunctionConfiguration, UpdateFunctionConfiguration, PublishVersion, UpdateAlias asl.Handler
	PutMetricAlarm, DescribeAlarms, DeleteAlarms                                                 asl.Handler
	Publish                                                                                      asl.Handler
}

// DeploymentHandlers binds the deployment machine's tasks for the local
// executor: the stages function to steps.Step (the task's {"deployment":
// ...} event decoded as the `stages` Lambda decodes it) and the service
// integrations to svc. Errors become the *asl.Error TaskError names.
func DeploymentHandlers(r DeploymentResources, steps DeploymentStepper, svc DeploymentServices) map[string]asl.Handler {
	wrap := func(h asl.Handler) asl.Handler {
		return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			out, err := h(ctx, raw)
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				return nil, TaskError(err)
			}
			return out, nil
		}
	}
	handlers := map[string]asl.Handler{
		r.StagesFunction: wrap(func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			req, err := deployment.DecodeStepTask(raw)
			if err != nil {
				return nil, err
			}
			out, err := steps.Step(ctx, req)
			if err != nil {
				return nil, err
			}
			return json.Marshal(out)
		}),
		LambdaGetAlias:                    wrap(svc.GetAlias),
		LambdaGetFunctionConfiguration:    wrap(svc.GetFunctionConfiguration),
		LambdaUpdateFunctionConfiguration: wrap(svc.UpdateFunctionConfiguration),
		LambdaPublishVersion:              wrap(svc.PublishVersion),
		LambdaUpdateAlias:                 wrap(svc.UpdateAlias),
		CloudWatchPutMetricAlarm:          wrap(svc.PutMetricAlarm),
		CloudWatchDescribeAlarms:          wrap(svc.DescribeAlarms),
		CloudWatchDeleteAlarms:            wrap(svc.DeleteAlarms),
	}
	if r.AlertTopic != "" {
		handlers[SNSPublish] = wrap(svc.Publish)
	}
	return handlers
}
