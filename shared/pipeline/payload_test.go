package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// The local executor fails any state whose input or output, and any task
// whose input or result, passes Step Functions' 256 KiB quota
// (asl.MaxPayloadBytes) with States.DataLimitExceeded, as AWS does. These
// tests run each machine with its largest realistic payloads and require it
// to succeed, with headroom: every task input and result under an eighth
// of the quota. The machines pass references (study ids, trial numbers,
// job ids, object keys) between states, never the bodies they name, which
// stay in the stores.

// headroom is the most a task payload of the shipped machines may be.
const headroom = asl.MaxPayloadBytes / 8

// payloadMeter records the largest input and result, in bytes of JSON, of
// each Task resource it wraps.
type payloadMeter struct {
	mu      sync.Mutex
	largest map[string]int
}

func (m *payloadMeter) wrap(handlers map[string]asl.Handler) map[string]asl.Handler {
	m.largest = map[string]int{}
	out := make(map[string]asl.Handler, len(handlers))
	for res, h := range handlers {
		out[res] = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			m.note(res+" input", len(in))
			r, err := h(ctx, in)
			m.note(res+" result", len(r))
			return r, err
		}
	}
	return out
}

func (m *payloadMeter) note(what string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.largest[what] = max(m.largest[what], n)
}

// check requires every recorded payload under headroom and logs them.
func (m *payloadMeter) check(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.NotEmpty(t, m.largest)
	names := make([]string, 0, len(m.largest))
	for n := range m.largest {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("largest %s: %d bytes", n, m.largest[n])
		assert.Less(t, m.largest[n], headroom, n)
	}
}

// describeJob is a DescribeJobs-shaped answer, with the PascalCase names
// and the size Step Functions returns from batch:submitJob.sync for a
// trial's job (the RunTrial task's raw result, before its ResultSelector
// keeps the id and status): three
// attempts, the container's environment with the trial and a task token of
// the length AWS issues, the GPU resource requirements.
func describeJob(raw json.RawMessage, token string) json.RawMessage {
	var in struct {
		JobName, JobQueue, JobDefinition string
		ContainerOverrides               struct{ Environment []map[string]string }
	}
	_ = json.Unmarshal(raw, &in)
	env := append([]map[string]string{}, in.ContainerOverrides.Environment...)
	for i := range env {
		if env[i]["Name"] == pipeline.EnvTaskToken {
			env[i]["Value"] = token
		}
	}
	id := asl.NewUUID()
	attempt := func(n int) map[string]any {
		return map[string]any{
			"Container": map[string]any{
				"ContainerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/orrery-train/" + asl.NewUUID(),
				"TaskArn":              "arn:aws:ecs:us-east-1:123456789012:task/orrery-train/" + asl.NewUUID(),
				"ExitCode":             75, "LogStreamName": fmt.Sprintf("orrery-train/default/%s-%d", id, n),
				"NetworkInterfaces": []any{map[string]any{"AttachmentId": asl.NewUUID(), "PrivateIpv4Address": "10.0.12.34"}},
			},
			"StartedAt": 1767225600000 + n, "StoppedAt": 1767229200000 + n, "StatusReason": "Host EC2 (instance i-0123456789abcdef0) terminated.",
		}
	}
	job := map[string]any{
		"JobArn": "arn:aws:batch:us-east-1:123456789012:job/" + id, "JobName": in.JobName, "JobId": id,
		"JobQueue": in.JobQueue, "Status": "SUCCEEDED", "StatusReason": "Essential container in task exited",
		"Attempts":  []any{attempt(1), attempt(2), attempt(3)},
		"CreatedAt": 1767225500000, "StartedAt": 1767236400000, "StoppedAt": 1767240000000,
		"RetryStrategy": map[string]any{"Attempts": 3, "EvaluateOnExit": []any{
			map[string]any{"OnStatusReason": "Host EC2*", "Action": "RETRY"}, map[string]any{"OnExitCode": "75", "Action": "RETRY"},
			map[string]any{"OnReason": "*", "Action": "EXIT"}}},
		"DependsOn": []any{}, "JobDefinition": in.JobDefinition + ":7", "Parameters": map[string]any{},
		"Container": map[string]any{
			"Image":            "123456789012.dkr.ecr.us-east-1.amazonaws.com/orrery-trainer:2026.03.1-torch",
			"Command":          []any{"/orrery-trainer"},
			"JobRoleArn":       "arn:aws:iam::123456789012:role/orrery-trainer-job-role",
			"ExecutionRoleArn": "arn:aws:iam::123456789012:role/orrery-trainer-execution-role",
			"Volumes":          []any{}, "Environment": env, "MountPoints": []any{}, "Ulimits": []any{},
			"ExitCode": 0, "ContainerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/orrery-train/" + asl.NewUUID(),
			"TaskArn": "arn:aws:ecs:us-east-1:123456789012:task/orrery-train/" + asl.NewUUID(), "LogStreamName": "orrery-train/default/" + id,
			"NetworkInterfaces": []any{}, "ResourceRequirements": []any{map[string]any{"Value": "1", "Type": "GPU"},
				map[string]any{"Value": "4", "Type": "VCPU"}, map[string]any{"Value": "15360", "Type": "MEMORY"}},
			"Secrets":          []any{},
			"LogConfiguration": map[string]any{"LogDriver": "awslogs", "Options": map[string]any{}, "SecretOptions": []any{}},
		},
		"Tags": map[string]any{"ResourceArn": "arn:aws:batch:us-east-1:123456789012:job/" + id}, "PropagateTags": true,
		"PlatformCapabilities": []any{"EC2"}, "EksAttempts": []any{},
	}
	b, _ := json.Marshal(job)
	return b
}

// TestOptimizationRoundOf200TrialsFitsThePayloadQuota runs one round of 200
// trials (a study whose Parallel is 200) over a 12-dimension space on the
// real step functions and store, every trial's Batch task answering as Step
// Functions does (a full job description with a 1,000-character task
// token). The Map runs them one at a time: no payload depends on how many
// run at once, and SQLite serialises the trials' writes anyway.
func TestOptimizationRoundOf200TrialsFitsThePayloadQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 200 trials against SQLite")
	}
	ctx := t.Context()
	db, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "orrery.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st := optimization.Stores{Studies: db, Trials: db}
	var dims []optimization.Dimension
	for i := range 4 {
		dims = append(dims,
			optimization.Dimension{Name: fmt.Sprintf("learning_rate_%d", i), Kind: optimization.Float, Low: 1e-5, High: 1e-1, Log: true},
			optimization.Dimension{Name: fmt.Sprintf("hidden_units_%d", i), Kind: optimization.Int, Low: 8, High: 1024},
			optimization.Dimension{Name: fmt.Sprintf("activation_%d", i), Kind: optimization.Categorical, Choices: []any{"relu", "tanh", "gelu", "silu"}})
	}
	const trials = 200
	spec := optimization.StudySpec{Space: optimization.Space{Dimensions: dims}, Directions: []optimization.Direction{optimization.Maximize},
		Strategy: "random", Parallel: trials, Budget: optimization.Budget{Trials: trials}}
	require.NoError(t, optimization.CreateStudy(ctx, st, "round200", "", spec))
	obj := optimization.ObjectiveFunc(func(ctx context.Context, tr optimization.Trial, report optimization.ReportFunc) (optimization.Outcome, error) {
		// No intermediate reports: they stay in the trial store, and each
		// one makes the pruner read every trial of the study.
		lr, _ := tr.Params.Float("learning_rate_0")
		v := 1 - lr
		return optimization.Outcome{Values: []float64{v}, Cost: 3, Attrs: map[string]any{
			"backend": "torch", "best_epoch": 3, "epochs_run": 3, "stop_reason": "early_stopping"}}, nil
	})
	steps := optimization.StepRunner{Stores: st, Objective: func(context.Context, string, optimization.StudySpec) (optimization.Objective, error) {
		return obj, nil
	}}
	res := pipeline.LocalOptimizationResources()
	def, err := pipeline.Optimization(res)
	require.NoError(t, err)
	handlers := pipeline.OptimizationHandlers(res, steps)
	local := handlers[pipeline.BatchSubmitJobSync]
	token := strings.Repeat("AQCEAAAAKgAAAAMAAAAA", 50)
	handlers[pipeline.BatchSubmitJobSync] = func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
		if _, err := local(ctx, raw); err != nil {
			return nil, err
		}
		return describeJob(raw, token), nil
	}
	var meter payloadMeter
	x := asl.Executor{Resources: meter.wrap(handlers)}
	out, err := x.Execute(ctx, def, asl.Execution{Name: "round200", Input: pipeline.OptimizationInput{StudyID: "round200", MaxParallel: 1}.JSON()})
	require.NoError(t, err, "a state past the quota fails with States.DataLimitExceeded")
	var fin optimization.FinalizeOutput
	require.NoError(t, json.Unmarshal(out, &fin))
	assert.Equal(t, trials, fin.Trials)
	require.NotNil(t, fin.BestTrial)
	assert.Len(t, fin.BestTrial.Params, len(dims))
	meter.check(t)
	// The RunTrials Map's own result (200 selected results) is discarded
	// by its ResultPath null; it is well under the quota too.
	selected, err := json.Marshal(map[string]any{"batch_job_id": asl.NewUUID(), "status": "SUCCEEDED"})
	require.NoError(t, err)
	mapResult := trials*(len(selected)+1) + 1
	t.Logf("RunTrials result: about %d bytes", mapResult)
	assert.Less(t, mapResult, headroom)
	t.Logf("execution output: %d bytes", len(out))
}

// TestEvaluationOf10FoldCrossValidationFitsThePayloadQuota runs the
// evaluation machine on a 10-fold cross-validation of a trained model: the
// evaluation result (metrics, intervals, the folds) goes into the job
// record, and only the job's ids travel through the machine.
func TestEvaluationOf10FoldCrossValidationFitsThePayloadQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model and cross-validates it ten times")
	}
	env := newEvaluationEnv(t)
	var meter payloadMeter
	env.exec.Resources = meter.wrap(env.exec.Resources)
	job, out, err := env.run(t, evaluation.EvaluateRequest{ModelID: env.modelID, CVFolds: 10, BootstrapResamples: 200, SliceColumn: "a"})
	require.NoError(t, err)
	require.Equal(t, store.Succeeded, job.Status, job.Error)
	var res evaluationjob.Result
	require.NoError(t, json.Unmarshal(job.Result, &res))
	require.NotEmpty(t, res.Evaluation)
	assert.Contains(t, string(res.Evaluation), "fold", "the job record holds the cross-validation")
	meter.check(t)
	t.Logf("evaluation result kept in the job record: %d bytes; execution output: %d bytes", len(job.Result), len(out))
}

// TestTrainingFitsThePayloadQuota runs the training machine: the stages
// pass training.Refs (object keys), not the data, model or history.
func TestTrainingFitsThePayloadQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	env := newTrainingEnv(t, pipeline.LocalResources(), &tracking.Memory{})
	var meter payloadMeter
	env.exec.Resources = meter.wrap(env.exec.Resources)
	job, err := env.rt.Pipeline.Submit(t.Context(), quickConfig(syntheticCSV(t, 2000, 5)))
	require.NoError(t, err)
	out, err := env.exec.Execute(t.Context(), env.def, asl.Execution{Name: job.ID, StateMachine: "training",
		Input: pipeline.TrainingInput{JobID: job.ID}.JSON()})
	require.NoError(t, err)
	meter.check(t)
	got, err := env.rt.DB.GetJob(t.Context(), job.ID)
	require.NoError(t, err)
	t.Logf("training result kept in the job record: %d bytes; execution output: %d bytes", len(got.Result), len(out))
}
