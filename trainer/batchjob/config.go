package batchjob

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/evaluationjob"
	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// Backend names (config.EnvBackend).
const (
	BackendGonum = "gonum"
	BackendTorch = "torch"
	// BackendAuto (the default) trains with gonum, except that a trainer
	// built with the torch backend hands it the networks too large for the
	// pure-Go engine (training.LargeNetworks, from
	// training.LargeNetworkMACs() multiply-adds per sample), and on cuda
	// every network.
	BackendAuto = "auto"
)

// Layout of an embedded home directory (Stores.Home), the one shared/embedded
// opens: the SQLite file of job records, the model registry, studies and
// trials, and the artifact directory beside it.
const (
	HomeDB        = "orrery.db"
	HomeArtifacts = "artifacts"
)

// Config is the trainer binary's configuration, read from the environment
// by FromEnv (trainer/main.go lets flags stand in for some variables on a
// local run).
type Config struct {
	// Task is what this run does.
	Task Task
	// Backend (BackendAuto, BackendGonum or BackendTorch) trains the
	// network on Device ("cpu" or "cuda"; cuda with torch only, which is
	// what auto means there).
	Backend string
	Device  string
	// Threads caps libtorch's CPU threads (0: libtorch's own default).
	Threads int
	// Stores says where job records, the model registry, studies, trials
	// and artifacts are.
	Stores Stores
	// LogLevel is the level of the JSON log on stderr.
	LogLevel slog.Level
}

// Task is the state machine task this run carries out: the training
// machine's Train task (StageRefs set: RunTrainStage), one trial of the
// optimization machine's RunTrials Map (Trial set: RunTrial) or one fold of
// the evaluation machine's RunFolds Map (EvaluationFold set:
// RunEvaluationFold). Exactly one of them is set.
type Task struct {
	// EvaluationFold names the heavy evaluation job's fold to run
	// (config.EnvEvaluationFold).
	EvaluationFold *evaluationjob.FoldTask
	// StageRefs are the Refs the Preprocess stage returned
	// (config.EnvStageRefs); their job_id names the job.
	StageRefs *training.Refs
	// Trial names the study's trial to run (config.EnvTrial).
	Trial *optimization.TrialInput
	// Token is the Step Functions task token heartbeats carry
	// (config.EnvTaskToken; empty: no heartbeats).
	Token string
	// Attempt is AWS Batch's attempt number, 1 for the first
	// (config.EnvBatchJobAttempt); later attempts resume from the
	// checkpoint.
	Attempt int
	// Worker names this run when it claims a trial: the Batch job id
	// (config.EnvBatchJobID), else "trainer-<pid>".
	Worker string
}

// Stores says where the trainer's stores are: with Home set, the embedded
// runtime's SQLite file and artifact directory under it (HomeDB,
// HomeArtifacts); otherwise DynamoDB tables and an S3 bucket, named as the
// CDK app names them on the job definitions.
type Stores struct {
	// Home is the embedded home directory (config.EnvHome).
	Home string
	// JobsTable and ModelsTable hold the job records and the model registry
	// (config.EnvJobsTable, config.EnvModelsTable; the Train task needs
	// them), StudiesTable the studies and trials (config.EnvStudiesTable;
	// a trial needs it).
	JobsTable, ModelsTable, StudiesTable string
	// ArtifactsBucket is the S3 bucket of models, checkpoints and stage
	// references (config.EnvArtifactsBucket), ArtifactsPrefix an optional
	// key prefix inside it (config.EnvArtifactsPrefix; the stages Lambda
	// uses none, so a prefix is for runs by hand against a shared bucket).
	ArtifactsBucket, ArtifactsPrefix string
}

// Embedded reports whether the stores are the embedded ones under Home.
func (s Stores) Embedded() bool { return s.Home != "" }

// DBPath is the SQLite file of the embedded stores.
func (s Stores) DBPath() string { return filepath.Join(s.Home, HomeDB) }

// ArtifactsDir is the artifact directory of the embedded stores.
func (s Stores) ArtifactsDir() string { return filepath.Join(s.Home, HomeArtifacts) }

// FromEnv reads the Config through getenv (os.Getenv in production). Every
// variable that is missing, malformed or inconsistent with another is named
// in the error, which wraps ErrSpec (exit status ExitUsage). None of
// config.EnvStageRefs, config.EnvTrial and config.EnvEvaluationFold set is
// such an error: the trainer runs state machine tasks only.
func FromEnv(getenv func(string) string) (Config, error) {
	r := config.Reader{Getenv: getenv}
	c := Config{
		Backend:  r.String(config.EnvBackend, BackendAuto),
		Device:   r.String(config.EnvDevice, "cpu"),
		Threads:  int(r.Int(config.EnvThreads, 0, 0, 4096)),
		LogLevel: r.LogLevel(config.EnvLogLevel),
		Task: Task{
			Token:   r.String(config.EnvTaskToken, ""),
			Attempt: int(r.Int(config.EnvBatchJobAttempt, 1, 1, math.MaxInt32)),
			Worker:  r.String(config.EnvBatchJobID, "trainer-"+strconv.Itoa(os.Getpid())),
		},
	}
	readTask(&r, &c.Task)
	switch c.Backend {
	case BackendGonum, BackendTorch:
	case BackendAuto:
		if c.Device == "cuda" {
			c.Backend = BackendTorch
		}
	default:
		r.Fail(fmt.Errorf("%s: %q is not %s, %s or %s: %w", config.EnvBackend, c.Backend, BackendAuto, BackendGonum, BackendTorch, config.ErrMalformed))
	}
	switch c.Device {
	case "cpu", "cuda":
		if c.Backend == BackendGonum && c.Device == "cuda" {
			r.Fail(fmt.Errorf("%s: the gonum backend runs on the CPU only; set %s=%s for cuda: %w",
				config.EnvDevice, config.EnvBackend, BackendTorch, config.ErrMalformed))
		}
	default:
		r.Fail(fmt.Errorf("%s: %q is not cpu or cuda: %w", config.EnvDevice, c.Device, config.ErrMalformed))
	}
	c.Stores = readStores(&r, c.Task)
	if err := r.Err(); err != nil {
		return c, fmt.Errorf("%w: %w", ErrSpec, err)
	}
	return c, nil
}

// readTask reads the task's input: exactly one of the stage references and
// the trial. Unknown JSON fields are tolerated in both: the state machine
// may be a newer release than this image.
func readTask(r *config.Reader, t *Task) {
	refs, trial, fold := r.String(config.EnvStageRefs, ""), r.String(config.EnvTrial, ""), r.String(config.EnvEvaluationFold, "")
	var set []string
	for _, v := range []struct{ name, value string }{
		{config.EnvStageRefs, refs}, {config.EnvTrial, trial}, {config.EnvEvaluationFold, fold},
	} {
		if v.value != "" {
			set = append(set, v.name)
		}
	}
	switch {
	case len(set) == 0:
		r.Fail(fmt.Errorf("%w: set %s (the training state machine's Train task: training.Refs JSON), %s "+
			"(the optimization state machine's RunTrial task: optimization.TrialInput JSON) or %s "+
			"(the evaluation state machine's RunFold task: evaluationjob.FoldTask JSON)",
			config.ErrMissing, config.EnvStageRefs, config.EnvTrial, config.EnvEvaluationFold))
		return
	case len(set) > 1:
		r.Fail(fmt.Errorf("%s select different tasks; set one: %w", strings.Join(set, " and "), config.ErrMalformed))
		return
	case fold != "":
		var in evaluationjob.FoldTask
		if err := json.Unmarshal([]byte(fold), &in); err != nil {
			r.Fail(fmt.Errorf("%s: not evaluationjob.FoldTask JSON: %w: %w", config.EnvEvaluationFold, config.ErrMalformed, err))
			return
		}
		if err := in.Validate(); err != nil {
			r.Fail(fmt.Errorf("%s needs a job_id and a non-negative fold, a bootstrap range or a comparison range (%v): %w", config.EnvEvaluationFold, err, config.ErrMalformed))
			return
		}
		t.EvaluationFold = &in
	case refs != "":
		var in training.Refs
		if err := json.Unmarshal([]byte(refs), &in); err != nil {
			r.Fail(fmt.Errorf("%s: not training.Refs JSON: %w: %w", config.EnvStageRefs, config.ErrMalformed, err))
			return
		}
		if in.JobID == "" {
			r.Fail(fmt.Errorf("%s has no job_id: %w", config.EnvStageRefs, config.ErrMalformed))
			return
		}
		t.StageRefs = &in
	default:
		var in optimization.TrialInput
		if err := json.Unmarshal([]byte(trial), &in); err != nil {
			r.Fail(fmt.Errorf("%s: not optimization.TrialInput JSON: %w: %w", config.EnvTrial, config.ErrMalformed, err))
			return
		}
		if in.StudyID == "" || in.Number < 0 {
			r.Fail(fmt.Errorf("%s needs a study_id and a non-negative number: %w", config.EnvTrial, config.ErrMalformed))
			return
		}
		t.Trial = &in
	}
}

// readStores reads where the stores are: the embedded home, or the AWS
// tables and bucket the task needs.
func readStores(r *config.Reader, t Task) Stores {
	s := Stores{
		Home:            r.String(config.EnvHome, ""),
		JobsTable:       r.String(config.EnvJobsTable, ""),
		ModelsTable:     r.String(config.EnvModelsTable, ""),
		StudiesTable:    r.String(config.EnvStudiesTable, ""),
		ArtifactsBucket: r.String(config.EnvArtifactsBucket, ""),
		ArtifactsPrefix: strings.Trim(r.String(config.EnvArtifactsPrefix, ""), "/"),
	}
	if s.Home != "" {
		for _, v := range []struct{ name, value string }{
			{config.EnvJobsTable, s.JobsTable}, {config.EnvModelsTable, s.ModelsTable},
			{config.EnvStudiesTable, s.StudiesTable}, {config.EnvArtifactsBucket, s.ArtifactsBucket},
			{config.EnvArtifactsPrefix, s.ArtifactsPrefix},
		} {
			if v.value != "" {
				r.Fail(fmt.Errorf("%s and %s are both set: the stores are the embedded ones under the home directory "+
					"or the AWS ones, not both: %w", config.EnvHome, v.name, config.ErrMalformed))
			}
		}
		return s
	}
	need := func(name, value, why string) {
		if value == "" {
			r.Fail(fmt.Errorf("%s: %w (%s; or %s, an embedded home directory)", name, config.ErrMissing, why, config.EnvHome))
		}
	}
	need(config.EnvArtifactsBucket, s.ArtifactsBucket, "the S3 bucket of artifacts")
	if t.StageRefs != nil || t.EvaluationFold != nil {
		need(config.EnvJobsTable, s.JobsTable, "the DynamoDB table of job records")
		need(config.EnvModelsTable, s.ModelsTable, "the DynamoDB table of the model registry")
	}
	if t.Trial != nil {
		need(config.EnvStudiesTable, s.StudiesTable, "the DynamoDB table of studies and trials")
	}
	if s.ArtifactsPrefix != "" {
		if err := store.CheckKey(s.ArtifactsPrefix); err != nil {
			r.Fail(fmt.Errorf("%s: %w", config.EnvArtifactsPrefix, err))
		}
	}
	return s
}
