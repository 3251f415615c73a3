package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/awsclient/awstest"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/jobevents"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// This file injects faults on the AWS path of a training job and checks
// what the job ends as. Everything a job touches is in the AWS emulator
// (moto): the jobs and models tables in DynamoDB, the data set and the
// artifacts in S3, the alert topic in SNS with a queue subscribed to it in
// SQS. The shipped training state machine runs on the local executor
// (whose semantics shared/pipeline/sfnexec checks against moto's Step
// Functions interpreter), because moto's Lambda without Docker only echoes
// its payload and its "simple" Batch marks every job SUCCEEDED without
// running it and ignores RetryStrategy, so neither can fail the way the
// real ones do. Instead its Task resources are bound to what runs them on
// AWS:
//
//   - the stages function: this function's handler, wired by newHandler as
//     main wires it, its errors handed to the machine as Step Functions
//     hands on a Lambda function error (Error = errorType, Cause = the
//     runtime's {"errorMessage", "errorType"} payload);
//   - batch:submitJob.sync: the trainer container's RunTrainStage over the
//     same tables and bucket, one run per Batch attempt with
//     AWS_BATCH_JOB_ATTEMPT set, its exit status judged by the task's own
//     RetryStrategy as AWS Batch judges it (EvaluateOnExit: first matching
//     rule decides, none matching retries), emitting the Batch Job State
//     Change statuses a job goes through;
//   - sns:publish: SNS Publish in the emulator.
//
// The Batch and execution state changes are applied to the job as the
// events function applies them (jobevents.Service), live and then once more
// shuffled and duplicated, which must never move a finished job.

// faultCounts counts the faults a test injected and those the job came
// through as it should (retried to success, or failed cleanly).
type faultCounts struct {
	mu                 sync.Mutex
	injected, survived int
}

func (c *faultCounts) add(survived bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.injected++
	if survived {
		c.survived++
	}
}

// awsPath is one training job's world in the emulator.
type awsPath struct {
	h               *handler
	p               *training.TrainingPipeline
	db              *dynamostore.Store
	s3c             *s3.Client
	sqsc            *sqs.Client
	sns             *sns.Client
	table           string
	artifacts, data string
	// dataKey holds HTRU2 in the data bucket.
	dataKey string
}

func newAWSPath(t *testing.T) *awsPath {
	t.Helper()
	cfg := awstest.Config(t)
	ctx := t.Context()
	awstest.UseEmulator(t)
	w := &awsPath{s3c: s3.NewFromConfig(cfg, awsclient.S3Options(cfg)), sqsc: sqs.NewFromConfig(cfg), sns: sns.NewFromConfig(cfg),
		table: awstest.Name(t, "faults"), artifacts: awstest.Name(t, "artifacts"), data: awstest.Name(t, "datasets"),
		dataKey: "incoming/htru2.csv"}

	ddb := dynamodb.NewFromConfig(cfg)
	require.NoError(t, dynamostore.CreateTable(ctx, ddb, w.table))
	t.Cleanup(func() {
		_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(w.table)})
	})
	db, err := dynamostore.New(ddb, dynamostore.Tables{Jobs: w.table, Models: w.table, Studies: w.table})
	require.NoError(t, err)
	w.db = db
	for _, b := range []string{w.artifacts, w.data} {
		_, err := w.s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		t.Cleanup(func() { awstest.RemoveBucket(w.s3c, b) })
	}
	w.putData(t, htru2(t))

	c, err := FromEnv(func(k string) string {
		return map[string]string{config.EnvJobsTable: w.table, config.EnvModelsTable: w.table, config.EnvStudiesTable: w.table,
			config.EnvArtifactsBucket: w.artifacts}[k]
	})
	require.NoError(t, err)
	h, err := newHandler(ctx, c, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	p, ok := h.stages.(*training.TrainingPipeline)
	require.True(t, ok, "main wires the training pipeline")
	w.h, w.p = h, p
	return w
}

// alertTopic creates an alert topic in the emulator with a queue
// subscribed to it (raw delivery), and returns the topic's ARN and the
// queue's URL.
func (w *awsPath) alertTopic(t *testing.T) (topicARN, alerts string) {
	t.Helper()
	ctx := t.Context()
	topic, err := w.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(awstest.Name(t, "orrery-alerts"))})
	require.NoError(t, err)
	topicARN = aws.ToString(topic.TopicArn)
	t.Cleanup(func() {
		_, _ = w.sns.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: topic.TopicArn})
	})
	queue, err := w.sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(awstest.Name(t, "orrery-alerts"))})
	require.NoError(t, err)
	alerts = aws.ToString(queue.QueueUrl)
	t.Cleanup(func() {
		_, _ = w.sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: queue.QueueUrl})
	})
	qa, err := w.sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	require.NoError(t, err)
	_, err = w.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	require.NoError(t, err)
	return topicARN, alerts
}

func htru2(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", "data", "htru2.csv"))
	require.NoError(t, err)
	return b
}

// oneRowMore is the CSV data with its last row repeated.
func oneRowMore(data []byte) []byte {
	rows := bytes.TrimRight(data, "\n")
	last := rows[bytes.LastIndexByte(rows, '\n')+1:]
	return bytes.Join([][]byte{rows, last, nil}, []byte("\n"))
}

func (w *awsPath) putData(t *testing.T, body []byte) {
	t.Helper()
	_, err := w.s3c.PutObject(context.WithoutCancel(t.Context()), &s3.PutObjectInput{Bucket: aws.String(w.data),
		Key: aws.String(w.dataKey), Body: bytes.NewReader(body)})
	require.NoError(t, err)
}

// submit stores a QUEUED job training a small network on HTRU2 for epochs.
func (w *awsPath) submit(t *testing.T, epochs int) store.Job {
	t.Helper()
	job, err := w.p.Submit(t.Context(), training.TrainingConfig{DatasetPath: "s3://" + w.data + "/" + w.dataKey,
		TargetColumn: "class", PositiveClass: "1", Epochs: epochs, HiddenLayers: []int{8}, BatchSize: 256, LearningRate: 0.01})
	require.NoError(t, err)
	return job
}

// keys lists the artifact keys under prefix.
func (w *awsPath) keys(t *testing.T, prefix string) []string {
	t.Helper()
	a, err := s3store.New(w.s3c, w.artifacts, "")
	require.NoError(t, err)
	keys, err := a.List(t.Context(), prefix)
	require.NoError(t, err)
	return keys
}

// invocation is one call of a bound Task resource.
type invocation struct {
	resource, stage string
}

// run is one execution of the shipped training state machine on the AWS
// path, with its injected faults.
type run struct {
	w *awsPath
	// lambdaFault, when it returns an error for a stage request, answers
	// that invocation with it instead of the function (a Lambda service
	// error) — after before, if set, ran.
	lambdaFault func(stage string, call int) *asl.Error
	before      func(stage string)
	// batchFault answers the call'th SubmitJob with a Batch service error.
	batchFault func(call int) *asl.Error
	// beforeJob, if set, runs when Batch accepts the job, before its first
	// attempt.
	beforeJob func()
	// interruptAttempt is the Batch attempt whose container is stopped
	// (SIGTERM, as on a Spot reclaim) after its second epoch; 0: none.
	interruptAttempt int
	// counts counts the late and duplicated events replayed.
	counts *faultCounts
	// topicARN is the alert topic, alerts the queue subscribed to it.
	topicARN, alerts string

	mu          sync.Mutex
	calls       []invocation
	stageCalls  map[string]int
	submits     int
	exits       []int
	batchEvents []jobevents.BatchJobChange
	delays      []time.Duration
}

// lambda binds the stages function: an invocation runs the handler main
// runs, and its error reaches the machine as Step Functions reports a
// Lambda function error.
func (r *run) lambda(t *testing.T) asl.Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var req struct {
			Stage string `json:"stage"`
		}
		_ = json.Unmarshal(raw, &req)
		r.mu.Lock()
		r.calls = append(r.calls, invocation{resource: "stages", stage: req.Stage})
		r.stageCalls[req.Stage]++
		call := r.stageCalls[req.Stage]
		r.mu.Unlock()
		if r.before != nil {
			r.before(req.Stage)
		}
		if r.lambdaFault != nil {
			if e := r.lambdaFault(req.Stage, call); e != nil {
				return nil, e
			}
		}
		out, err := r.w.h.Handle(ctx, raw)
		if err != nil {
			var ie messages.InvokeResponse_Error
			if !errors.As(err, &ie) {
				t.Errorf("stage %s: the function answered %T, not a Lambda function error: %v", req.Stage, err, err)
				return nil, &asl.Error{Name: asl.ErrorTaskFailed, Cause: err.Error()}
			}
			cause, _ := json.Marshal(map[string]string{"errorMessage": ie.Message, "errorType": ie.Type})
			return nil, &asl.Error{Name: ie.Type, Cause: string(cause)}
		}
		return json.Marshal(out)
	}
}

// batchParameters is what the emulated Batch reads of a SubmitJob request.
type batchParameters struct {
	JobName            string
	JobQueue           string
	JobDefinition      string
	Parameters         map[string]string
	ContainerOverrides struct {
		Environment []struct{ Name, Value string }
	}
	RetryStrategy struct {
		Attempts       int
		EvaluateOnExit []map[string]string
	}
}

// batch binds batch:submitJob.sync to the trainer container run as AWS
// Batch runs it: the job definition's environment (the tables and the
// bucket, as infra/ sets them) plus the task's ContainerOverrides, one run
// per attempt, each exit judged by the task's RetryStrategy.
func (r *run) batch(t *testing.T) asl.Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		r.mu.Lock()
		r.submits++
		call := r.submits
		r.calls = append(r.calls, invocation{resource: "batch"})
		r.mu.Unlock()
		if r.batchFault != nil {
			if e := r.batchFault(call); e != nil {
				return nil, e
			}
		}
		var job batchParameters
		if err := json.Unmarshal(raw, &job); err != nil {
			return nil, &asl.Error{Name: "Batch.ClientException", Cause: err.Error()}
		}
		batchID := fmt.Sprintf("batch-%s-%d", job.Parameters["job_id"], call)
		emit := func(status, reason string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.batchEvents = append(r.batchEvents, jobevents.BatchJobChange{JobID: job.Parameters["job_id"], BatchJobID: batchID,
				Status: status, StatusReason: reason})
		}
		emit(jobevents.BatchSubmitted, "")
		emit(jobevents.BatchPending, "")
		if r.beforeJob != nil {
			r.beforeJob()
		}
		env := map[string]string{config.EnvJobsTable: r.w.table, config.EnvModelsTable: r.w.table, config.EnvStudiesTable: r.w.table,
			config.EnvArtifactsBucket: r.w.artifacts, config.EnvBackend: batchjob.BackendGonum, config.EnvBatchJobID: batchID}
		for _, e := range job.ContainerOverrides.Environment {
			env[e.Name] = e.Value
		}
		attempts := max(job.RetryStrategy.Attempts, 1)
		for attempt := 1; ; attempt++ {
			emit(jobevents.BatchRunnable, "")
			emit(jobevents.BatchStarting, "")
			env[config.EnvBatchJobAttempt] = strconv.Itoa(attempt)
			code := r.container(ctx, t, env, attempt == r.interruptAttempt)
			r.mu.Lock()
			r.exits = append(r.exits, code)
			r.mu.Unlock()
			if code == batchjob.ExitOK {
				emit(jobevents.BatchSucceeded, "Essential container in task exited")
				return json.Marshal(map[string]any{"JobId": batchID, "JobName": job.JobName, "JobQueue": job.JobQueue,
					"JobDefinition": job.JobDefinition, "Status": jobevents.BatchSucceeded, "Attempts": attempt})
			}
			reason := "Essential container in task exited"
			if attempt < attempts && batchRetries(job.RetryStrategy.EvaluateOnExit, code, reason, "") {
				continue // back to RUNNABLE
			}
			emit(jobevents.BatchFailed, reason)
			desc, _ := json.Marshal(map[string]any{"JobId": batchID, "JobName": job.JobName, "Status": jobevents.BatchFailed,
				"StatusReason": fmt.Sprintf("%s (exit code %d)", reason, code)})
			return nil, &asl.Error{Name: asl.ErrorTaskFailed, Cause: string(desc)}
		}
	}
}

// container is one attempt of the trainer's container: batchjob.FromEnv
// and RunTrainStage as trainer/main.go wires them on AWS, returning the
// exit status. With interrupt, the container is stopped after its second
// epoch, as SIGTERM stops it when Batch reclaims a Spot host.
func (r *run) container(ctx context.Context, t *testing.T, env map[string]string, interrupt bool) int {
	cfg, err := batchjob.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Errorf("trainer configuration: %v", err)
		return batchjob.ExitCode(err)
	}
	attempt, stop := context.WithCancel(ctx)
	defer stop()
	var once sync.Once
	runner := &batchjob.Runner{Backend: batchjob.BackendGonum, Jobs: r.w.db, Models: r.w.db,
		NewTrainer: func(rec tracking.Recorder, ckpt training.Checkpointer) (batchjob.Trainer, error) {
			return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
		},
		ReadData: s3table.TableReader(r.w.s3c),
		Recorder: tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
			if interrupt && e.Kind == tracking.Progress && e.Stage == training.StageTrain && e.Step == 2 {
				once.Do(stop)
			}
			return nil
		})}
	a, err := s3store.New(r.w.s3c, cfg.Stores.ArtifactsBucket, cfg.Stores.ArtifactsPrefix)
	if err != nil {
		t.Errorf("artifacts: %v", err)
		return batchjob.ExitCode(err)
	}
	runner.Artifacts = a
	r.mu.Lock()
	r.batchEvents = append(r.batchEvents, jobevents.BatchJobChange{JobID: cfg.Task.StageRefs.JobID,
		BatchJobID: cfg.Task.Worker, Status: jobevents.BatchRunning})
	r.mu.Unlock()
	_, err = runner.RunTrainStage(attempt, cfg.Task)
	return batchjob.ExitCode(err)
}

// batchRetries applies AWS Batch's EvaluateOnExit rules to a failed
// attempt: the first rule whose set conditions (OnExitCode, OnStatusReason,
// OnReason; a pattern may end in *) all match decides by its Action; when
// none matches the job is retried (AWS Batch API reference,
// EvaluateOnExit and RetryStrategy).
func batchRetries(rules []map[string]string, code int, statusReason, reason string) bool {
	match := func(pattern, v string) bool {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
			return strings.HasPrefix(v, prefix)
		}
		return pattern == v
	}
	for _, rule := range rules {
		if (rule["OnExitCode"] == "" || match(rule["OnExitCode"], strconv.Itoa(code))) &&
			(rule["OnStatusReason"] == "" || match(rule["OnStatusReason"], statusReason)) &&
			(rule["OnReason"] == "" || match(rule["OnReason"], reason)) {
			return rule["Action"] == "RETRY"
		}
	}
	return true
}

// sns binds sns:publish to SNS Publish in the emulator.
func (r *run) sns() asl.Handler {
	return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		var in struct{ TopicArn, Subject, Message string }
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, &asl.Error{Name: "SNS.InvalidParameterException", Cause: err.Error()}
		}
		r.mu.Lock()
		r.calls = append(r.calls, invocation{resource: "sns"})
		r.mu.Unlock()
		out, err := r.w.sns.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(in.TopicArn), Subject: aws.String(in.Subject),
			Message: aws.String(in.Message)})
		if err != nil {
			return nil, &asl.Error{Name: "SNS.SnsException", Cause: err.Error()}
		}
		return json.Marshal(map[string]any{"MessageId": aws.ToString(out.MessageId)})
	}
}

// execute runs the job through the shipped training state machine, with
// the execution's and Batch's state changes applied to the job record as
// the events function applies them.
func (r *run) execute(t *testing.T, jobID string) (json.RawMessage, error) {
	t.Helper()
	r.stageCalls = map[string]int{}
	r.topicARN, r.alerts = r.w.alertTopic(t)
	res := pipeline.Resources{
		StagesFunction: "arn:aws:lambda:us-east-1:123456789012:function:orrery-stages",
		JobQueue:       "arn:aws:batch:us-east-1:123456789012:job-queue/orrery-train",
		JobDefinition:  "arn:aws:batch:us-east-1:123456789012:job-definition/orrery-train:1",
		AlertTopic:     r.topicARN,
	}
	def, err := pipeline.Training(res)
	require.NoError(t, err)
	events := &jobevents.Service{Jobs: r.w.db}
	x := asl.Executor{Region: "us-east-1", Account: "123456789012",
		Resources: map[string]asl.Handler{res.StagesFunction: r.lambda(t), pipeline.BatchSubmitJobSync: r.batch(t),
			pipeline.SNSPublish: r.sns()},
		// Retry back-offs are recorded, not waited for.
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.mu.Lock()
			r.delays = append(r.delays, d)
			r.mu.Unlock()
			return ctx.Err()
		}}
	_, err = events.Execution(t.Context(), jobevents.ExecutionChange{JobID: jobID, Status: jobevents.ExecutionRunning})
	require.NoError(t, err)
	out, runErr := x.Execute(t.Context(), def, asl.Execution{Name: jobID, StateMachine: "orrery-test-training",
		Input: pipeline.TrainingInput{JobID: jobID}.JSON()})
	end := jobevents.ExecutionChange{JobID: jobID, Status: jobevents.ExecutionSucceeded}
	var e *asl.Error
	if errors.As(runErr, &e) {
		end = jobevents.ExecutionChange{JobID: jobID, Status: jobevents.ExecutionFailed, Error: e.Name, Cause: e.Cause}
	}
	r.mu.Lock()
	live := append([]jobevents.BatchJobChange(nil), r.batchEvents...)
	r.mu.Unlock()
	for _, c := range live {
		_, err := events.BatchJob(t.Context(), c)
		require.NoError(t, err, "batch event %+v", c)
	}
	_, err = events.Execution(t.Context(), end)
	require.NoError(t, err)
	r.replay(t, events, jobID, live, end)
	return out, runErr
}

// replay applies every event of the run again, twice each, in a shuffled
// order, as an at-least-once queue may deliver them late: none moves the
// finished job.
func (r *run) replay(t *testing.T, events *jobevents.Service, jobID string, batch []jobevents.BatchJobChange, end jobevents.ExecutionChange) {
	t.Helper()
	before, err := r.w.db.GetJob(t.Context(), jobID)
	require.NoError(t, err)
	require.True(t, before.Status.Terminal(), "job %s is %s after its execution ended", jobID, before.Status)
	var apply []func() (jobevents.Outcome, error)
	for _, c := range batch {
		apply = append(apply, func() (jobevents.Outcome, error) { return events.BatchJob(t.Context(), c) })
	}
	for _, c := range []jobevents.ExecutionChange{{JobID: jobID, Status: jobevents.ExecutionRunning}, end} {
		apply = append(apply, func() (jobevents.Outcome, error) { return events.Execution(t.Context(), c) })
	}
	apply = append(apply, apply...)
	rand.Shuffle(len(apply), func(i, j int) { apply[i], apply[j] = apply[j], apply[i] })
	for _, f := range apply {
		out, err := f()
		require.NoError(t, err)
		assert.NotEqual(t, jobevents.Applied, out, "a replayed event changed finished job %s", jobID)
		r.counts.add(err == nil && out != jobevents.Applied)
	}
	after, err := r.w.db.GetJob(t.Context(), jobID)
	require.NoError(t, err)
	assert.Equal(t, before.Status, after.Status, "replayed events moved job %s", jobID)
	assert.Equal(t, before.Error, after.Error)
	assert.Equal(t, before.ModelID, after.ModelID)
}

// TestFaultsOnTheAWSPath injects faults into training jobs on the AWS path
// (see the top of this file) and checks how each ends.
func TestFaultsOnTheAWSPath(t *testing.T) {
	if testing.Short() {
		t.Skip("trains small networks on HTRU2 against the AWS emulator")
	}
	w := newAWSPath(t)
	var faults, replays faultCounts
	t.Cleanup(func() {
		t.Logf("faults injected: %d, survived: %d; late or duplicated events replayed: %d, none moved a job: %v",
			faults.injected, faults.survived, replays.injected, replays.survived == replays.injected)
	})

	t.Run("a retryable Batch exit and transient service errors are retried, the job SUCCEEDS", func(t *testing.T) {
		job := w.submit(t, 3)
		r := &run{w: w, counts: &replays, interruptAttempt: 1,
			// A throttled invoke of Preprocess, as Lambda answers when the
			// account's concurrency is spent.
			lambdaFault: func(stage string, call int) *asl.Error {
				if stage == training.StagePreprocess && call == 1 {
					return &asl.Error{Name: "Lambda.TooManyRequestsException", Cause: "Rate Exceeded. (Service: Lambda, Status Code: 429)"}
				}
				return nil
			},
			// A throttled SubmitJob.
			batchFault: func(call int) *asl.Error {
				if call == 1 {
					return &asl.Error{Name: "Batch.TooManyRequestsException", Cause: "Too Many Requests (Service: AWSBatch, Status Code: 429)"}
				}
				return nil
			}}
		out, err := r.execute(t, job.ID)
		require.NoError(t, err)

		assert.Equal(t, []int{batchjob.ExitRetryable, batchjob.ExitOK}, r.exits,
			"attempt 1 stopped (exit %d) and retried by the task's RetryStrategy; attempt 2 finished", batchjob.ExitRetryable)
		assert.Equal(t, 2, r.stageCalls[training.StagePreprocess], "the throttled invoke was retried")
		assert.Equal(t, 2, r.submits, "the throttled SubmitJob was retried")
		assert.Len(t, r.delays, 2, "one back-off per retried service error")
		got, err := w.db.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Succeeded, got.Status)
		assert.Empty(t, got.Error)
		var refs training.Refs
		require.NoError(t, json.Unmarshal(out, &refs))
		assert.Equal(t, got.ModelID, refs.ModelID)
		model, err := w.db.GetModel(t.Context(), refs.ModelID)
		require.NoError(t, err, "the model is registered")
		assert.Equal(t, job.ID, model.JobID)
		var res training.Result
		require.NoError(t, json.Unmarshal(got.Result, &res))
		assert.Equal(t, 2, res.Training.ResumedFrom, "attempt 2 resumed from attempt 1's checkpoint")
		assert.Equal(t, 3, res.Training.EpochsRun)
		assert.NotContains(t, w.keys(t, "jobs/"+job.ID+"/"), "jobs/"+job.ID+"/refs/train_failure.json",
			"attempt 2's success removed attempt 1's failure")
		assert.Greater(t, res.Metrics.AUCROC, 0.9)
		assert.NotContains(t, r.calls, invocation{resource: "sns"}, "no alert for a job that succeeded")
		for range 3 { // the Batch exit, the two throttles
			faults.add(!t.Failed())
		}
	})

	t.Run("a trainer exit that is not retryable FAILS the job at once", func(t *testing.T) {
		job := w.submit(t, 3)
		original := htru2(t)
		// The data set is overwritten in S3 after Preprocess: the trainer
		// refuses it (exit 1), which the RetryStrategy does not retry.
		r := &run{w: w, counts: &replays, beforeJob: func() { w.putData(t, oneRowMore(original)) }}
		t.Cleanup(func() { w.putData(t, original) })
		_, err := r.execute(t, job.ID)
		var e *asl.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
		assert.True(t, strings.HasPrefix(e.Cause, asl.ErrorTaskFailed+": "), "cause %q", e.Cause)
		assert.Equal(t, []int{batchjob.ExitApplication}, r.exits, "one attempt: exit 1 is not retried")
		assert.Zero(t, r.stageCalls[training.StageEvaluate])
		got, err := w.db.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, got.Status)
		// Batch says only that the container exited; the job says why, as
		// the trainer saved it.
		assert.Contains(t, got.Error, "data changed since validation", "the job record carries the trainer's reason")
		assert.Contains(t, got.Error, "batch job: Essential container in task exited (exit code 1)")
		assert.Empty(t, w.keys(t, "checkpoints/"+job.ID+"/"), "no checkpoint left behind")
		assert.NotContains(t, w.keys(t, "jobs/"+job.ID+"/"), "jobs/"+job.ID+"/network.safetensors")
		msg, err := w.sqsc.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.alerts),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
		require.NoError(t, err)
		require.Len(t, msg.Messages, 1, "one alert on the topic")
		assert.Contains(t, aws.ToString(msg.Messages[0].Body), "Training job "+job.ID+" failed")
		faults.add(!t.Failed())
	})

	t.Run("a stage error that is not retryable FAILS the job with its cause, alerts, registers nothing", func(t *testing.T) {
		job := w.submit(t, 1)
		original := htru2(t)
		// The data set is overwritten in S3 after the model was trained:
		// Evaluate finds it changed (Orrery.DataChanged), which no retry
		// mends.
		r := &run{w: w, counts: &replays, before: func(stage string) {
			if stage == training.StageEvaluate {
				w.putData(t, oneRowMore(original))
			}
		}}
		t.Cleanup(func() { w.putData(t, original) })
		_, err := r.execute(t, job.ID)
		var e *asl.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, pipeline.ErrorTrainingFailed, e.Name)
		assert.True(t, strings.HasPrefix(e.Cause, fault.DataChanged.Name()+": "), "cause %q", e.Cause)
		assert.Contains(t, e.Cause, "data changed since validation")

		assert.Equal(t, 1, r.stageCalls[training.StageEvaluate], "a non-retryable error is not retried")
		assert.Equal(t, 1, r.stageCalls[training.StageMarkFailed])
		assert.Zero(t, r.stageCalls[training.StageRegister], "Register never ran")
		got, err := w.db.GetJob(t.Context(), job.ID)
		require.NoError(t, err)
		assert.Equal(t, store.Failed, got.Status)
		assert.Contains(t, got.Error, "data changed since validation", "the job record carries the cause")
		assert.Contains(t, got.Error, w.dataKey)

		models, err := w.db.ListModels(t.Context())
		require.NoError(t, err)
		registered := map[string]bool{}
		for _, m := range models {
			assert.NotEqual(t, job.ID, m.JobID, "model %s of the failed job is registered", m.ID)
			registered[m.ID] = m.JobID != job.ID
		}
		for _, k := range w.keys(t, "models/") {
			id, _, _ := strings.Cut(strings.TrimPrefix(k, "models/"), "/")
			assert.True(t, registered[id], "model files %s left behind by the failed job", k)
		}
		assert.Empty(t, w.keys(t, "checkpoints/"+job.ID+"/"), "no checkpoint left behind")
		left := w.keys(t, "jobs/"+job.ID+"/")
		assert.NotContains(t, left, "jobs/"+job.ID+"/network.safetensors", "no trained weights left behind")
		assert.Contains(t, left, "jobs/"+job.ID+"/validation_report.json", "the reports stay: they explain the failure")

		// The alert, as the topic's subscribers receive it.
		msg, err := w.sqsc.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(r.alerts),
			MaxNumberOfMessages: 10, WaitTimeSeconds: 20})
		require.NoError(t, err)
		require.Len(t, msg.Messages, 1, "one alert on the topic")
		body := aws.ToString(msg.Messages[0].Body)
		assert.Contains(t, body, "Training job "+job.ID+" failed")
		assert.Contains(t, body, fault.DataChanged.Name())
		assert.Contains(t, body, "data changed since validation")
		faults.add(!t.Failed())
	})
}
