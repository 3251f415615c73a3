package batchjob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Exit statuses of the trainer. The Batch job definition's retry strategy
// retries ExitRetryable and exits on the others.
const (
	ExitOK          = 0
	ExitApplication = 1  // bad configuration or data, diverged training: retrying cannot help
	ExitUsage       = 2  // the container was started wrongly (environment, arguments)
	ExitRetryable   = 75 // EX_TEMPFAIL: interrupted (SIGTERM, Spot reclaim) or a transient failure
)

var (
	// ErrSpec is wrapped by errors about the trainer's configuration
	// (FromEnv, a Task without its input).
	ErrSpec = fault.New(fault.Invalid, "batchjob: invalid job spec")
	// ErrBackendUnavailable is returned when the chosen backend is not built
	// into this binary.
	ErrBackendUnavailable = fault.New(fault.Invalid, "batchjob: backend not available in this build")
)

// Trainer trains one network: the training package's Trainer port, which
// training.ModelTrainer and the libtorch backend's Trainer both satisfy.
// The runner builds one per job or trial with its recorder and
// checkpointer.
type Trainer = training.Trainer

// NewTrainer makes the backend's Trainer for a job.
type NewTrainer = training.NewTrainerFunc

// DataReader opens a dataset_path (a local file or s3://bucket/key) as a
// table.
type DataReader func(ctx context.Context, uri string) (*dataset.Table, error)

// Runner carries out the state machines' Batch tasks: the training
// machine's Train stage (RunTrainStage) and one optimization trial
// (RunTrial). Both checkpoint to the artifact store after every epoch (and,
// with the torch backend, when interrupted), resume from the checkpoint on
// a later attempt, and send task heartbeats while they run.
type Runner struct {
	// Jobs and Models are the job records and the model registry of the
	// Train stage.
	Jobs      store.JobStore
	Models    store.ModelRegistry
	Artifacts store.ArtifactStore
	// Backend is the name written to the model manifest; NewTrainer makes
	// its trainer.
	Backend    string
	NewTrainer NewTrainer
	// Large, when set, takes the Train stage's networks too large for the
	// gonum backend (BackendAuto in a torch build): see
	// training.TrainingPipeline.Large.
	Large *training.LargeNetworks
	// ReadData reads dataset_path; nil reads local files only.
	ReadData DataReader
	// Recorder receives every progress event besides the job record (the
	// container's log).
	Recorder tracking.Recorder
	// Retry governs retries of transient store failures.
	Retry training.RetryPolicy
	// Heartbeat tells the state machine's task the trainer is alive (Step
	// Functions SendTaskHeartbeat with the task token); RunTrainStage and
	// RunTrial call it when they start and every HeartbeatEvery (default
	// DefaultHeartbeatEvery) until they end. nil sends none.
	Heartbeat      func(ctx context.Context, taskToken string) error
	HeartbeatEvery time.Duration
	// Studies and Trials are the optimization stores of RunTrial.
	Studies store.StudyStore
	Trials  store.TrialStore
}

// Retryable reports whether a failed run may succeed when run again
// (ExitCode is ExitRetryable): it was interrupted, or failed on something
// transient or unclassified, not on its input.
func Retryable(err error) bool { return ExitCode(err) == ExitRetryable }

// ExitCode maps a run's error to the trainer's exit status: ExitOK for nil,
// ExitUsage for a container started wrongly (ErrSpec), and otherwise by the
// error's fault code — invalid, not found, conflict, diverged and data
// changed are ExitApplication (the same input fails the same way again),
// cancelled, unavailable and internal are ExitRetryable. A missing local
// file (fs.ErrNotExist, which carries no code) is ExitApplication: a retry
// does not make it appear.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrSpec):
		return ExitUsage
	case errors.Is(err, fs.ErrNotExist):
		return ExitApplication
	}
	switch fault.CodeOf(err) {
	case fault.Cancelled, fault.Unavailable, fault.Internal:
		return ExitRetryable
	}
	return ExitApplication
}

// readLocal reads a local dataset file; s3:// paths need a DataReader.
func readLocal(ctx context.Context, uri string) (*dataset.Table, error) {
	if strings.HasPrefix(uri, "s3://") {
		return nil, fmt.Errorf("%w: %s: this trainer was started without S3 access", training.ErrDataPath, uri)
	}
	if uri == "" {
		return nil, fmt.Errorf("%w: dataset_path is empty", training.ErrDataPath)
	}
	return dataset.Read(ctx, uri)
}

// Checkpoints keeps a job's checkpoints in the artifact store under
// checkpoints/<job>/: latest.ckpt for the gonum backend (the key the
// embedded pipeline uses), <backend>.ckpt for another, so the backends never
// read each other's state. With Dir set they are <Dir>/<job>.ckpt instead
// (a study's trials: TrialCheckpointDir).
type Checkpoints struct {
	Store   store.ArtifactStore
	Backend string
	Dir     string
}

func (c Checkpoints) key(jobID string) string {
	if c.Dir != "" {
		return path.Join(c.Dir, jobID+".ckpt")
	}
	return training.CheckpointKey(jobID, c.Backend)
}

// SaveCheckpoint stores data as the job's checkpoint.
func (c Checkpoints) SaveCheckpoint(ctx context.Context, jobID string, data []byte) error {
	if err := c.Store.Put(ctx, c.key(jobID), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("save checkpoint of job %s: %w", jobID, err)
	}
	return nil
}

// LoadCheckpoint returns the job's checkpoint; found is false when there is
// none.
func (c Checkpoints) LoadCheckpoint(ctx context.Context, jobID string) ([]byte, bool, error) {
	rc, err := c.Store.Get(ctx, c.key(jobID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load checkpoint of job %s: %w", jobID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, false, fmt.Errorf("read checkpoint of job %s: %w", jobID, err)
	}
	return b, true, nil
}
