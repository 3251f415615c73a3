package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// Resource ARNs of the service integrations the training state machine uses.
const (
	// BatchSubmitJobSync submits an AWS Batch job and waits for it to end
	// (the "Run a Job (.sync)" integration pattern).
	BatchSubmitJobSync = "arn:aws:states:::batch:submitJob.sync"
	// SNSPublish publishes a message to an SNS topic.
	SNSPublish = "arn:aws:states:::sns:publish"
)

// Environment variables the Train task passes to the Batch container (named
// in shared/config, where the trainer reads them).
const (
	// EnvStageRefs holds the train stage's input, training.Refs, as JSON.
	EnvStageRefs = config.EnvStageRefs
	// EnvTaskToken holds the Step Functions task token, with which the
	// trainer sends heartbeats (SendTaskHeartbeat) while it trains.
	EnvTaskToken = config.EnvTaskToken
)

// ErrResources is returned by Training for missing or malformed resources.
var ErrResources = fault.New(fault.Internal, "pipeline: bad state machine resources")

// Resources are what the training state machine refers to. On AWS they are
// ARNs (or the placeholders of Placeholders, which the CDK app substitutes
// with DefinitionSubstitutions); on the embedded runtime any names the local
// executor binds to handlers.
type Resources struct {
	// StagesFunction is the `stages` Lambda function, invoked with a
	// training.StageRequest for validate, preprocess, evaluate, register
	// and mark_failed.
	StagesFunction string
	// JobQueue and JobDefinition run the Train stage as an AWS Batch job.
	JobQueue, JobDefinition string
	// DeployFunction, when set, adds the optional Deploy stage, taken when
	// the execution input has "deploy": true.
	DeployFunction string
	// AlertTopic, when set, is an SNS topic told about every failed job.
	AlertTopic string
	// TrainTimeoutSeconds bounds the Train stage, queue time and every
	// attempt of its Batch job together (default 6 hours). The stage has no
	// HeartbeatSeconds: see batch.go.
	TrainTimeoutSeconds int
}

// Placeholders returns Resources whose values are CDK
// DefinitionSubstitutions keys: ${StagesFunctionArn}, ${TrainJobQueueArn},
// ${TrainJobDefinitionArn}, ${DeployFunctionArn} and ${AlertTopicArn}.
func Placeholders() Resources {
	return Resources{
		StagesFunction: "${StagesFunctionArn}", JobQueue: "${TrainJobQueueArn}", JobDefinition: "${TrainJobDefinitionArn}",
		DeployFunction: "${DeployFunctionArn}", AlertTopic: "${AlertTopicArn}",
	}
}

// State names of the training state machine.
const (
	StateStart        = "Start"
	StateValidateData = "ValidateData"
	StatePreprocess   = "Preprocess"
	StateTrain        = "Train"
	StateEvaluate     = "Evaluate"
	StateRegister     = "Register"
	StateShouldDeploy = "ShouldDeploy"
	StateDeploy       = "Deploy"
	StateSucceeded    = "Succeeded"
	StateMarkFailed   = "MarkFailed"
	StateAlert        = "Alert"
	StateFailed       = "Failed"
)

// ErrorTrainingFailed is the error a failed training execution ends with;
// its cause starts with the name of the error that failed it.
const ErrorTrainingFailed = "Orrery.TrainingFailed"

// lambdaRetry retries the Lambda service's transient errors (the retry the
// AWS documentation recommends for Lambda tasks), with exponential backoff
// and full jitter.
func lambdaRetry() []asl.Retrier {
	return []asl.Retrier{{
		ErrorEquals: []string{"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
			"Lambda.TooManyRequestsException"},
		IntervalSeconds: 2, MaxAttempts: asl.Attempts(6), BackoffRate: 2, MaxDelaySeconds: 60, JitterStrategy: "FULL",
	}}
}

// batchJobRetryStrategy is the RetryStrategy of every Batch job the state
// machines submit: BatchJobRetryStrategy, the job definition's own.
func batchJobRetryStrategy() map[string]any {
	return BatchJobRetryStrategy().Map()
}

// batchServiceRetry retries the Batch service's transient errors on
// submitting or polling a job, with exponential backoff and full jitter.
func batchServiceRetry() []asl.Retrier {
	return []asl.Retrier{{
		ErrorEquals:     []string{"Batch.AWSBatchException", "Batch.ServerException", "Batch.TooManyRequestsException"},
		IntervalSeconds: 5, MaxAttempts: asl.Attempts(5), BackoffRate: 2, MaxDelaySeconds: 120, JitterStrategy: "FULL",
	}}
}

// batchResultSelector keeps the job id and final status of a Batch job.
func batchResultSelector() map[string]any {
	return map[string]any{"batch_job_id.$": "$.JobId", "status.$": "$.Status"}
}

func catchAll() []asl.Catcher {
	return []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.error"), Next: StateMarkFailed}}
}

func stageTask(r Resources, stage, next string) asl.State {
	return asl.State{
		Type: asl.TypeTask, Resource: r.StagesFunction,
		Comment:        "stage " + stage + " (training.StageRequest in, training.Refs out)",
		Parameters:     map[string]any{"stage": stage, "refs.$": "$.refs"},
		ResultPath:     asl.P("$.refs"),
		TimeoutSeconds: 900, Retry: lambdaRetry(), Catch: catchAll(), Next: next,
	}
}

func checkResource(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return fmt.Errorf("%w: %s is required", ErrResources, field)
	case v == "":
		return nil
	case strings.HasPrefix(v, "arn:") || (strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}")):
		return nil
	}
	return fmt.Errorf("%w: %s %q is neither an ARN nor a ${Placeholder}", ErrResources, field, v)
}

// Training builds the `training` state machine: Start -> ValidateData ->
// Preprocess -> Train (an AWS Batch job, .sync; Batch retries a job whose
// Spot host was reclaimed, and the trainer resumes from its checkpoint) ->
// Evaluate -> Register -> optional Deploy. Every task retries transient
// service errors with backoff and full jitter, and any failure is caught ->
// MarkFailed -> (Alert) -> Failed.
//
// The execution input is {"job_id": "...", "deploy": false}; the stages pass
// training.Refs along in $.refs.
func Training(r Resources) (asl.Definition, error) {
	if r.TrainTimeoutSeconds == 0 {
		r.TrainTimeoutSeconds = 6 * 3600
	}
	for _, c := range []struct {
		field, v string
		required bool
	}{
		{"StagesFunction", r.StagesFunction, true}, {"JobQueue", r.JobQueue, true}, {"JobDefinition", r.JobDefinition, true},
		{"DeployFunction", r.DeployFunction, false}, {"AlertTopic", r.AlertTopic, false},
	} {
		if err := checkResource(c.field, c.v, c.required); err != nil {
			return asl.Definition{}, err
		}
	}
	if r.TrainTimeoutSeconds < 0 {
		return asl.Definition{}, fmt.Errorf("%w: TrainTimeoutSeconds %d must be positive", ErrResources, r.TrainTimeoutSeconds)
	}
	afterRegister := StateSucceeded
	states := map[string]asl.State{
		StateStart: {
			Type: asl.TypePass, Comment: "start the references passed between stages",
			Parameters: map[string]any{"job_id.$": "$.job_id"}, ResultPath: asl.P("$.refs"), Next: StateValidateData,
		},
		StateValidateData: stageTask(r, "validate", StatePreprocess),
		StatePreprocess:   stageTask(r, "preprocess", StateTrain),
		StateTrain: {
			Type: asl.TypeTask, Resource: BatchSubmitJobSync,
			Comment: "train on AWS Batch; the trainer writes its Refs to the job's artifacts, where Evaluate reads them",
			Parameters: map[string]any{
				"JobName.$":     "States.Format('orrery-train-{}', $.job_id)",
				"JobQueue":      r.JobQueue,
				"JobDefinition": r.JobDefinition,
				// The job id as a Batch parameter: the `events` function
				// finds the job of a Batch state change by it
				// (shared/jobevents).
				"Parameters": map[string]any{"job_id.$": "$.job_id"},
				"ContainerOverrides": map[string]any{
					"Environment": []any{
						map[string]any{"Name": EnvStageRefs, "Value.$": "States.JsonToString($.refs)"},
						map[string]any{"Name": EnvTaskToken, "Value.$": "$$.Task.Token"},
					},
				},
				"RetryStrategy": batchJobRetryStrategy(),
			},
			ResultSelector: batchResultSelector(),
			ResultPath:     asl.P("$.train"),
			TimeoutSeconds: r.TrainTimeoutSeconds,
			Retry:          batchServiceRetry(),
			Catch:          catchAll(),
			Next:           StateEvaluate,
		},
		StateEvaluate: stageTask(r, "evaluate", StateRegister),
		StateSucceeded: {
			Type: asl.TypeSucceed, OutputPath: asl.P("$.refs"),
		},
		StateMarkFailed: {
			Type: asl.TypeTask, Resource: r.StagesFunction, Comment: "record the failure in the job and remove half-written output",
			Parameters: map[string]any{"stage": "mark_failed", "refs.$": "$.refs", "error.$": "$.error"},
			ResultPath: asl.NullPath, TimeoutSeconds: 300, Retry: lambdaRetry(),
		},
		StateFailed: {
			// The original error's name goes into the cause: a Fail state's
			// Error must not be a States.* name, and a failure may be one.
			Type: asl.TypeFail, Error: ErrorTrainingFailed, CausePath: "States.Format('{}: {}', $.error.Error, $.error.Cause)",
		},
	}
	if r.DeployFunction != "" {
		afterRegister = StateShouldDeploy
		states[StateShouldDeploy] = asl.State{
			Type: asl.TypeChoice,
			Choices: asl.ChoiceList{{
				And:  []asl.ChoiceRule{asl.Compare("$.deploy", "IsPresent", true), asl.Compare("$.deploy", "BooleanEquals", true)},
				Next: StateDeploy,
			}},
			Default: StateSucceeded,
		}
		states[StateDeploy] = asl.State{
			Type: asl.TypeTask, Resource: r.DeployFunction, Comment: "deploy the registered model (the deployment flow)",
			Parameters: map[string]any{"model_id.$": "$.refs.model_id", "job_id.$": "$.job_id"},
			ResultPath: asl.P("$.deployment"), TimeoutSeconds: 900, Retry: lambdaRetry(),
			Catch: []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.error"), Next: StateFailed}},
			Next:  StateSucceeded,
		}
	}
	afterMarkFailed(states, r.AlertTopic, "Orrery training job failed",
		"States.Format('Training job {} failed: {}', $.job_id, States.JsonToString($.error))")
	reg := stageTask(r, "register", afterRegister)
	states[StateRegister] = reg
	def := asl.Definition{
		Comment: "Orrery training: validate -> preprocess -> train (AWS Batch) -> evaluate -> register -> optional deploy; " +
			"any failure -> MarkFailed",
		StartAt:        StateStart,
		States:         states,
		TimeoutSeconds: r.TrainTimeoutSeconds + 2*3600,
	}
	if err := def.Validate(); err != nil {
		return asl.Definition{}, err
	}
	return def, nil
}

// afterMarkFailed sets where a machine goes once its MarkFailed state has
// recorded a failure: with an alert topic, to an Alert state that publishes
// subject and the message (a States.Format expression) to it and then fails
// the execution, its own failure caught so that the execution still ends
// in Failed; without one, straight to Failed.
func afterMarkFailed(states map[string]asl.State, topic, subject, message string) {
	next := StateFailed
	if topic != "" {
		next = StateAlert
		states[StateAlert] = asl.State{
			Type: asl.TypeTask, Resource: SNSPublish, Comment: "tell the operators",
			Parameters: map[string]any{"TopicArn": topic, "Subject": subject, "Message.$": message},
			ResultPath: asl.NullPath, TimeoutSeconds: 60, Retry: lambdaRetry(),
			Catch: []asl.Catcher{{ErrorEquals: []string{asl.ErrorAll}, ResultPath: asl.P("$.alert_error"), Next: StateFailed}},
			Next:  StateFailed,
		}
	}
	mf := states[StateMarkFailed]
	mf.Next = next
	states[StateMarkFailed] = mf
}

// TrainingInput is the execution input of the training state machine.
type TrainingInput struct {
	JobID  string `json:"job_id"`
	Deploy bool   `json:"deploy,omitempty"`
}

// JSON encodes the input.
func (in TrainingInput) JSON() json.RawMessage {
	b, _ := json.Marshal(in)
	return b
}
