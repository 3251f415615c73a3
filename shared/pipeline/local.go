package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline/asl"
)

// StageRunner runs one stage of a training job (*training.TrainingPipeline
// satisfies it).
type StageRunner interface {
	RunStage(ctx context.Context, req training.StageRequest) (training.Refs, error)
}

// LocalResources names the training state machine's resources on the
// embedded runtime, where TrainingHandlers binds them.
func LocalResources() Resources {
	return Resources{
		StagesFunction: "arn:aws:lambda:local:000000000000:function:orrery-stages",
		JobQueue:       "arn:aws:batch:local:000000000000:job-queue/orrery-train",
		JobDefinition:  "arn:aws:batch:local:000000000000:job-definition/orrery-train",
	}
}

// TrainingHandlers binds the training state machine's Task resources for the
// local executor: the stages function to stages.RunStage, and the Batch
// submitJob.sync task to the train stage run in-process. A stage's error
// becomes the *asl.Error TaskError names. The train stage's progress
// recorder should call Heartbeat with the ctx it is given, as the trainer
// heartbeats on AWS (a Train state given HeartbeatSeconds then holds
// locally as there).
func TrainingHandlers(r Resources, stages StageRunner) map[string]asl.Handler {
	run := func(ctx context.Context, req training.StageRequest) (training.Refs, error) {
		out, err := stages.RunStage(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			return out, TaskError(err)
		}
		return out, nil
	}
	return map[string]asl.Handler{
		r.StagesFunction: asl.HandlerFunc(run),
		BatchSubmitJobSync: func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
			var refs training.Refs
			job, err := decodeBatchEnv(raw, EnvStageRefs, &refs)
			if err != nil {
				return nil, err
			}
			if _, err := run(ctx, training.StageRequest{Stage: training.StageTrain, Refs: refs}); err != nil {
				return nil, err
			}
			return job.succeeded(fmt.Sprintf("trained in-process (job %s)", refs.JobID))
		},
	}
}

// batchJob is what the local executor's batch:submitJob.sync handlers read
// of the task's parameters.
type batchJob struct {
	JobName, JobQueue, JobDefinition string
	ContainerOverrides               struct {
		Environment []struct{ Name, Value string }
	}
}

// decodeBatchEnv decodes the parameters of a batch:submitJob.sync task and
// the JSON value of its container environment variable name into v. A
// missing or malformed value is a States.TaskFailed error naming the job and
// the variable.
func decodeBatchEnv(raw json.RawMessage, name string, v any) (batchJob, error) {
	var job batchJob
	if err := json.Unmarshal(raw, &job); err != nil {
		return job, asl.Errorf(asl.ErrorTaskFailed, "batch submitJob: decode parameters: %v", err)
	}
	for _, e := range job.ContainerOverrides.Environment {
		if e.Name == name {
			if err := json.Unmarshal([]byte(e.Value), v); err != nil {
				return job, asl.Errorf(asl.ErrorTaskFailed, "batch submitJob %s: %s is not JSON: %v", job.JobName, name, err)
			}
			return job, nil
		}
	}
	return job, asl.Errorf(asl.ErrorTaskFailed, "batch submitJob %s: no %s in ContainerOverrides.Environment", job.JobName, name)
}

// succeeded is the DescribeJobs-shaped answer of a job the local executor
// ran in-process, as Step Functions returns it from submitJob.sync.
func (j batchJob) succeeded(reason string) (json.RawMessage, error) {
	id := asl.NewUUID()
	return json.Marshal(map[string]any{
		"JobId": id, "JobName": j.JobName, "JobQueue": j.JobQueue, "JobDefinition": j.JobDefinition,
		"Status": "SUCCEEDED", "StatusReason": reason,
	})
}

// RunTraining stores a QUEUED training job for cfg and runs it through the
// training state machine on an in-process executor that keeps no journal —
// the one-shot form of what the local executions do, for tests and
// programs that train one model and wait. On failure the job is FAILED (by
// MarkFailed) and the error is returned; when ctx ends first the job is
// CANCELLED.
func RunTraining(ctx context.Context, p *training.TrainingPipeline, cfg training.TrainingConfig) (*training.Result, error) {
	job, err := p.Submit(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return RunTrainingJob(ctx, p, job.ID)
}

// RunTrainingJob runs the QUEUED job jobID as RunTraining does.
func RunTrainingJob(ctx context.Context, p *training.TrainingPipeline, jobID string) (*training.Result, error) {
	res := LocalResources()
	def, err := Training(res)
	if err != nil {
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	var last training.Refs
	x := asl.Executor{Resources: TrainingHandlers(res, p)}
	out, err := x.Execute(ctx, def, asl.Execution{Name: jobID, StateMachine: string(MachineTraining),
		Input: TrainingInput{JobID: jobID}.JSON(),
		Record: func(_ context.Context, e asl.Event) error {
			var o struct {
				Refs training.Refs `json:"refs"`
			}
			if e.Type == asl.StateExited && json.Unmarshal(e.Data, &o) == nil && o.Refs.JobID != "" {
				last = o.Refs
			}
			return nil
		}})
	if err != nil {
		if ctx.Err() != nil {
			// The execution stopped between states, before any Catch: mark
			// the job as MarkFailed would have.
			last.JobID = jobID
			_, _ = p.MarkFailed(context.WithoutCancel(ctx), last, fault.Failure{Error: fault.Cancelled.Name(), Cause: err.Error()})
			return nil, fmt.Errorf("run job %s: %w", jobID, ctx.Err())
		}
		var e *asl.Error
		if errors.As(err, &e) {
			// The failure crossed the state machine as a name and a cause:
			// keep its code.
			return nil, fmt.Errorf("run job %s: %w", jobID, fault.New(CodeOf(e), e.Cause))
		}
		return nil, fmt.Errorf("run job %s: %w", jobID, err)
	}
	var refs training.Refs
	if err := json.Unmarshal(out, &refs); err != nil {
		return nil, fmt.Errorf("run job %s: decode the execution's output: %w", jobID, err)
	}
	return p.LoadResult(ctx, refs)
}
