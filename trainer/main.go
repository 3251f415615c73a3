package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/orrery-ml/orrery/shared/awsclient"
	"github.com/orrery-ml/orrery/shared/config"
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/resources"
	"github.com/orrery-ml/orrery/shared/serving/emf"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/s3store/s3table"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/trainer/batchjob"

	// The Parquet and FITS readers of dataset.Read and its writers.
	_ "github.com/orrery-ml/orrery/shared/dataset/parquetfits"
)

// backends maps ORRERY_BACKEND to the trainers this binary has; the torch
// build adds "torch" (backend_torch.go).
var backends = map[string]func(cfg batchjob.Config) batchjob.NewTrainer{
	batchjob.BackendGonum: func(batchjob.Config) batchjob.NewTrainer {
		return func(rec tracking.Recorder, ckpt training.Checkpointer) (batchjob.Trainer, error) {
			return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
		}
	},
}

func main() {
	resources.HoldDataGC() // the process holds a data set until it exits
	os.Exit(run(os.Stderr, os.Args[1:]))
}

// run carries out the task the environment and args name, logging JSON to
// stderr, and returns the exit status.
func run(stderr io.Writer, args []string) int {
	cfg, err := configFrom(os.Getenv, args)
	if err != nil {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("trainer: bad configuration", "error", err.Error())
		return batchjob.ExitCode(err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfg.Threads > 0 {
		// libtorch sizes its thread pool from OMP_NUM_THREADS on first use.
		_ = os.Setenv("OMP_NUM_THREADS", strconv.Itoa(cfg.Threads))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log = log.With("attempt", cfg.Task.Attempt, "backend", cfg.Backend, "device", cfg.Device)

	runner, closeStores, err := wire(ctx, cfg, log)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: set-up failed", "error", err.Error(), "exit_code", code)
		return code
	}
	defer closeStores()
	if cfg.Task.Trial != nil {
		return runTrial(ctx, log, runner, cfg.Task)
	}
	if cfg.Task.EvaluationFold != nil {
		return runEvaluationFold(ctx, log, runner, cfg.Task)
	}
	return runTrainStage(ctx, log, runner, cfg.Task)
}

// runTrainStage is the training state machine's Train task.
func runTrainStage(ctx context.Context, log *slog.Logger, runner *batchjob.Runner, task batchjob.Task) int {
	log = log.With("task", "train", "job_id", task.StageRefs.JobID, "heartbeats", task.Token != "")
	refs, err := runner.RunTrainStage(ctx, task)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: train stage failed", "error", err.Error(), "exit_code", code, "retryable", code == batchjob.ExitRetryable)
		return code
	}
	log.Info("trainer: train stage finished", "network_key", refs.NetworkKey, "training_key", refs.TrainingKey,
		"seconds", refs.StageSeconds[training.StageTrain])
	return batchjob.ExitOK
}

// runTrial is the optimization state machine's RunTrial task, trained with
// the runner's backend on its device, as the Train stage.
func runTrial(ctx context.Context, log *slog.Logger, runner *batchjob.Runner, task batchjob.Task) int {
	log = log.With("task", "trial", "study_id", task.Trial.StudyID, "trial", task.Trial.Number,
		"worker", task.Worker, "heartbeats", task.Token != "")
	out, err := runner.RunTrial(ctx, task)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: trial failed", "error", err.Error(), "exit_code", code, "retryable", code == batchjob.ExitRetryable)
		return code
	}
	if !out.Claimed {
		log.Info("trainer: no trial left to claim; nothing to do")
		return batchjob.ExitOK
	}
	log.Info("trainer: trial finished", "claimed", out.Number, "state", out.State, "values", out.Values,
		"epochs", out.Cost, "seconds", out.Seconds, "trial_error", out.Error, "trained_by", out.Attrs["backend"],
		"attrs", out.Attrs)
	return batchjob.ExitOK
}

// runEvaluationFold is the evaluation state machine's RunFold task: one
// cross-validation fold of a heavy evaluation, trained with the gonum
// trainer on the CPU.
func runEvaluationFold(ctx context.Context, log *slog.Logger, runner *batchjob.Runner, task batchjob.Task) int {
	log = log.With("task", "evaluation_fold", "job_id", task.EvaluationFold.JobID, "fold", task.EvaluationFold.Fold,
		"heartbeats", task.Token != "")
	out, err := runner.RunEvaluationFold(ctx, task)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: evaluation fold failed", "error", err.Error(), "exit_code", code, "retryable", code == batchjob.ExitRetryable)
		return code
	}
	log.Info("trainer: evaluation fold finished", "key", out.Key, "seconds", out.Seconds)
	return batchjob.ExitOK
}

// configFrom reads the Config from the environment, with the flags in args
// standing in for the variables they name.
func configFrom(getenv func(string) string, args []string) (batchjob.Config, error) {
	fs := flag.NewFlagSet("trainer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flags := map[string]*string{
		config.EnvHome:    fs.String("home", "", "embedded home directory: orrery.db and artifacts/ ("+config.EnvHome+")"),
		config.EnvBackend: fs.String("backend", "", "auto (default), gonum or torch ("+config.EnvBackend+")"),
		config.EnvDevice:  fs.String("device", "", "cpu or cuda ("+config.EnvDevice+")"),
	}
	if err := fs.Parse(args); err != nil {
		return batchjob.Config{}, fmt.Errorf("%w: %w", batchjob.ErrSpec, err)
	}
	if fs.NArg() > 0 {
		return batchjob.Config{}, fmt.Errorf("%w: unexpected arguments %q", batchjob.ErrSpec, fs.Args())
	}
	return batchjob.FromEnv(func(name string) string {
		if v, ok := flags[name]; ok && *v != "" {
			return *v
		}
		return getenv(name)
	})
}

// wire opens the stores cfg names and builds the runner.
func wire(ctx context.Context, cfg batchjob.Config, log *slog.Logger) (*batchjob.Runner, func(), error) {
	backend := cfg.Backend
	var large *training.LargeNetworks
	if backend == batchjob.BackendAuto {
		// gonum, with the large networks to torch where this build has it.
		backend = batchjob.BackendGonum
		if newTorch, ok := backends[batchjob.BackendTorch]; ok {
			large = &training.LargeNetworks{Backend: batchjob.BackendTorch, NewTrainer: newTorch(cfg)}
		}
	}
	newBackend, ok := backends[backend]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s (build the trainer with -tags torch)", batchjob.ErrBackendUnavailable, cfg.Backend)
	}
	var awsCfg *aws.Config
	loadAWS := func() (aws.Config, error) {
		if awsCfg == nil {
			c, err := awsclient.Load(ctx, awsclient.Options{})
			if err != nil {
				return aws.Config{}, err
			}
			awsCfg = &c
		}
		return *awsCfg, nil
	}
	usageMetrics := &emf.Writer{W: os.Stdout}
	r := &batchjob.Runner{Backend: backend, NewTrainer: newBackend(cfg), Large: large,
		Recorder: tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
			log.Info("progress", "kind", e.Kind, "stage", e.Stage, "step", e.Step, "total", e.Total,
				"metrics", e.Metrics, "eta_seconds", e.ETASeconds, "message", e.Message, "error", e.Err)
			if e.Kind == tracking.Progress && e.Unit == "epoch" && e.JobID != "" && !cfg.Stores.Embedded() {
				// Every epoch's CPU, memory and GPU use as EMF metrics of the job.
				return usageMetrics.WriteTraining(e.JobID, e.Step, e.Metrics)
			}
			return nil
		})}
	if cfg.Task.Token != "" {
		c, err := loadAWS()
		if err != nil {
			return nil, nil, err
		}
		r.Heartbeat = sendHeartbeat(sfn.NewFromConfig(c))
	}

	closeStores := func() {}
	if s := cfg.Stores; s.Embedded() {
		if fi, err := os.Stat(s.Home); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("%w: %s=%s is not a directory (an embedded home: %s and %s/)",
				batchjob.ErrSpec, config.EnvHome, s.Home, batchjob.HomeDB, batchjob.HomeArtifacts)
		}
		db, err := sqlitestore.Open(ctx, s.DBPath())
		if err != nil {
			return nil, nil, err
		}
		files, err := filestore.New(s.ArtifactsDir())
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		r.Jobs, r.Models, r.Studies, r.Trials, r.Artifacts = db, db, db, db, files
		closeStores = func() { db.Close() }
	} else {
		c, err := loadAWS()
		if err != nil {
			return nil, nil, err
		}
		d, err := dynamostore.New(dynamodb.NewFromConfig(c),
			dynamostore.Tables{Jobs: s.JobsTable, Models: s.ModelsTable, Studies: s.StudiesTable})
		if err != nil {
			return nil, nil, err
		}
		a, err := s3store.New(s3.NewFromConfig(c, awsclient.S3Options(c)), s.ArtifactsBucket, s.ArtifactsPrefix)
		if err != nil {
			return nil, nil, err
		}
		r.Jobs, r.Models, r.Studies, r.Trials, r.Artifacts = d, d, d, d, a
	}

	// Data sets: local files, or s3://bucket/key read straight from S3
	// (s3table.ReadTable), also on the embedded stores.
	r.ReadData = func(ctx context.Context, uri string) (*dataset.Table, error) {
		if !strings.HasPrefix(uri, "s3://") {
			return dataset.Read(ctx, uri)
		}
		c, err := loadAWS()
		if err != nil {
			return nil, err
		}
		return s3table.ReadTable(ctx, s3.NewFromConfig(c, awsclient.S3Options(c)), uri)
	}
	return r, closeStores, nil
}

// sendHeartbeat sends Step Functions task heartbeats (when the task passed
// its token). TaskTimedOut and TaskDoesNotExist mean the execution no longer
// waits for this run: batchjob.ErrTaskGone.
func sendHeartbeat(client *sfn.Client) func(ctx context.Context, token string) error {
	return func(ctx context.Context, token string) error {
		_, err := client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)})
		var timedOut *sfntypes.TaskTimedOut
		var missing *sfntypes.TaskDoesNotExist
		switch {
		case errors.As(err, &timedOut), errors.As(err, &missing):
			return fmt.Errorf("send task heartbeat: %w: %w", batchjob.ErrTaskGone, err)
		case err != nil:
			return fmt.Errorf("send task heartbeat: %w", err)
		}
		return nil
	}
}
