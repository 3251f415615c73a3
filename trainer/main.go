// Command trainer is the AWS Batch training container program: it runs one
// training job (trainer/batchjob) with the backend named by ORRERY_BACKEND
// (gonum, or torch when built with -tags torch) on ORRERY_DEVICE (cpu or
// cuda), the training machine's Train stage (ORRERY_STAGE_REFS), or one
// trial of an optimization study (ORRERY_TRIAL; trials train with the same
// backend and device as jobs), reading the spec from the
// environment and the flags, and exits with 0, 1 (do not retry), 2 (usage)
// or 75 (retry). See trainer/README.md.
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
	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/store/dynamostore"
	"github.com/orrery-ml/orrery/shared/store/filestore"
	"github.com/orrery-ml/orrery/shared/store/s3store"
	"github.com/orrery-ml/orrery/shared/store/sqlitestore"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/trainer/batchjob"
)

// backends maps ORRERY_BACKEND to the trainers this binary has; the torch
// build adds "torch" (backend_torch.go).
var backends = map[string]func(spec batchjob.Spec) batchjob.NewTrainer{
	batchjob.BackendGonum: func(batchjob.Spec) batchjob.NewTrainer {
		return func(rec tracking.Recorder, ckpt training.Checkpointer) (batchjob.Trainer, error) {
			return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
		}
	},
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	os.Exit(run(log, os.Args[1:]))
}

func run(log *slog.Logger, args []string) int {
	spec, err := specFrom(args)
	if err != nil {
		log.Error("trainer: bad job spec", "error", err.Error())
		return batchjob.ExitUsage
	}
	if spec.Threads > 0 {
		// libtorch sizes its thread pool from OMP_NUM_THREADS on first use.
		_ = os.Setenv("OMP_NUM_THREADS", strconv.Itoa(spec.Threads))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log = log.With("job_id", spec.JobID, "attempt", spec.Attempt, "backend", spec.Backend, "device", spec.Device)

	runner, closeStores, err := wire(ctx, spec, log)
	if err != nil {
		log.Error("trainer: set-up failed", "error", err.Error())
		return batchjob.ExitCode(err)
	}
	defer closeStores()
	if spec.Trial != nil {
		return runTrial(ctx, log, runner, spec)
	}
	if spec.StageRefs != nil {
		return runTrainStage(ctx, log, runner, spec)
	}
	res, err := runner.Run(ctx, spec)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: job failed", "error", err.Error(), "exit_code", code, "retryable", code == batchjob.ExitRetryable)
		return code
	}
	if res == nil {
		log.Info("trainer: job already finished; nothing to do")
		return batchjob.ExitOK
	}
	log.Info("trainer: job succeeded", "model_id", res.ModelID, "auc_roc", res.Metrics.AUCROC,
		"epochs_run", res.Training.EpochsRun, "resumed_from", res.Training.ResumedFrom)
	return batchjob.ExitOK
}

// runTrainStage is train-only mode: the training state machine's Train task.
func runTrainStage(ctx context.Context, log *slog.Logger, runner *batchjob.Runner, spec batchjob.Spec) int {
	log = log.With("mode", "train-only", "heartbeats", spec.TaskToken != "")
	refs, err := runner.RunTrainStage(ctx, spec)
	if err != nil {
		code := batchjob.ExitCode(err)
		log.Error("trainer: train stage failed", "error", err.Error(), "exit_code", code, "retryable", code == batchjob.ExitRetryable)
		return code
	}
	log.Info("trainer: train stage finished", "network_key", refs.NetworkKey, "training_key", refs.TrainingKey,
		"seconds", refs.StageSeconds[training.StageTrain])
	return batchjob.ExitOK
}

// runTrial is trial mode: the optimization state machine's RunTrial task,
// trained with the runner's backend (ORRERY_BACKEND / --backend) on
// ORRERY_DEVICE, as training mode.
func runTrial(ctx context.Context, log *slog.Logger, runner *batchjob.Runner, spec batchjob.Spec) int {
	log = log.With("mode", "trial", "study_id", spec.Trial.StudyID, "trial", spec.Trial.Number,
		"worker", spec.Worker, "heartbeats", spec.TaskToken != "")
	out, err := runner.RunTrial(ctx, spec)
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

// specFrom reads the spec from the environment, lets flags override it, and
// checks it.
func specFrom(args []string) (batchjob.Spec, error) {
	spec, err := batchjob.SpecFromEnv(os.Getenv)
	if err != nil {
		return spec, err
	}
	fs := flag.NewFlagSet("trainer", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&spec.JobID, "job", spec.JobID, "training job id ("+batchjob.EnvJobID+")")
	configFile := fs.String("config", "", "TrainingConfig JSON file (instead of "+batchjob.EnvConfig+")")
	fs.StringVar(&spec.Artifacts, "artifacts", spec.Artifacts, "artifact store: directory or s3://bucket/prefix ("+batchjob.EnvArtifacts+")")
	fs.StringVar(&spec.Records, "records", spec.Records, "job records: SQLite file or dynamodb://jobs/models ("+batchjob.EnvRecords+")")
	fs.StringVar(&spec.Backend, "backend", spec.Backend, "gonum or torch ("+batchjob.EnvBackend+")")
	fs.StringVar(&spec.Device, "device", spec.Device, "cpu or cuda ("+batchjob.EnvDevice+")")
	if err := fs.Parse(args); err != nil {
		return spec, fmt.Errorf("%w: %w", batchjob.ErrSpec, err)
	}
	if fs.NArg() > 0 {
		return spec, fmt.Errorf("%w: unexpected arguments %q", batchjob.ErrSpec, fs.Args())
	}
	if *configFile != "" {
		f, err := os.Open(*configFile)
		if err != nil {
			return spec, fmt.Errorf("%w: -config: %w", batchjob.ErrSpec, err)
		}
		cfg, err := training.DecodeConfig(f)
		f.Close()
		if err != nil {
			return spec, fmt.Errorf("%w: -config %s: %w", batchjob.ErrSpec, *configFile, err)
		}
		spec.Config = &cfg
	}
	if spec.Backend == "" {
		spec.Backend = batchjob.BackendGonum
	}
	if spec.Device == "" {
		spec.Device = "cpu"
	}
	return spec, spec.Validate()
}

// wire opens the stores the spec names and builds the runner.
func wire(ctx context.Context, spec batchjob.Spec, log *slog.Logger) (*batchjob.Runner, func(), error) {
	newBackend, ok := backends[spec.Backend]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s (build the trainer with -tags torch)", batchjob.ErrBackendUnavailable, spec.Backend)
	}
	var awsCfg *aws.Config
	loadAWS := func() (aws.Config, error) {
		if awsCfg == nil {
			cfg, err := awsclient.Load(ctx, awsclient.Options{})
			if err != nil {
				return aws.Config{}, err
			}
			awsCfg = &cfg
		}
		return *awsCfg, nil
	}
	r := &batchjob.Runner{Backend: spec.Backend, NewTrainer: newBackend(spec),
		Recorder: tracking.RecorderFunc(func(_ context.Context, e tracking.Event) error {
			log.Info("progress", "kind", e.Kind, "stage", e.Stage, "step", e.Step, "total", e.Total,
				"metrics", e.Metrics, "eta_seconds", e.ETASeconds, "error", e.Err)
			return nil
		})}

	if spec.TaskToken != "" {
		cfg, err := loadAWS()
		if err != nil {
			return nil, nil, err
		}
		r.Heartbeat = sendHeartbeat(sfn.NewFromConfig(cfg))
	}

	if bucket, prefix, isS3 := splitS3(spec.Artifacts); isS3 {
		cfg, err := loadAWS()
		if err != nil {
			return nil, nil, err
		}
		a, err := s3store.New(s3.NewFromConfig(cfg, awsclient.S3Options(cfg)), bucket, prefix)
		if err != nil {
			return nil, nil, err
		}
		r.Artifacts = a
	} else {
		a, err := filestore.New(spec.Artifacts)
		if err != nil {
			return nil, nil, err
		}
		r.Artifacts = a
	}

	var closers []func()
	closeStores := func() {
		for _, c := range closers {
			c()
		}
	}
	if tables, isDynamo := strings.CutPrefix(spec.Records, "dynamodb://"); spec.Records == "" {
		// Trial mode writes no job record.
	} else if isDynamo {
		jobs, models, _ := strings.Cut(tables, "/")
		if models == "" {
			models = jobs
		}
		cfg, err := loadAWS()
		if err != nil {
			return nil, nil, err
		}
		d, err := dynamostore.New(dynamodb.NewFromConfig(cfg), dynamostore.Tables{Jobs: jobs, Models: models})
		if err != nil {
			return nil, nil, err
		}
		r.Jobs, r.Models = d, d
	} else {
		db, err := sqlitestore.Open(ctx, spec.Records)
		if err != nil {
			return nil, nil, err
		}
		r.Jobs, r.Models = db, db
		closers = append(closers, func() { db.Close() })
	}

	if spec.Trial != nil {
		if table, isDynamo := strings.CutPrefix(spec.Studies, "dynamodb://"); isDynamo {
			cfg, err := loadAWS()
			if err != nil {
				closeStores()
				return nil, nil, err
			}
			d, err := dynamostore.New(dynamodb.NewFromConfig(cfg, awsclient.DynamoDBOptions(cfg)), dynamostore.Tables{Studies: table})
			if err != nil {
				closeStores()
				return nil, nil, err
			}
			r.Studies, r.Trials = d, d
		} else {
			db, err := sqlitestore.Open(ctx, spec.Studies)
			if err != nil {
				closeStores()
				return nil, nil, err
			}
			r.Studies, r.Trials = db, db
			closers = append(closers, func() { db.Close() })
		}
	}

	r.ReadData = func(ctx context.Context, uri string) (*dataset.Table, error) {
		if _, _, isS3 := splitS3(uri); !isS3 {
			return dataset.Read(ctx, uri)
		}
		cfg, err := loadAWS()
		if err != nil {
			return nil, err
		}
		return readS3(ctx, cfg, uri)
	}
	return r, closeStores, nil
}

// sendHeartbeat sends Step Functions task heartbeats (train-only mode, when
// the Train task passed its token). TaskTimedOut and TaskDoesNotExist mean the
// execution no longer waits for this run: batchjob.ErrTaskGone.
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

// splitS3 splits s3://bucket/key.
func splitS3(uri string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, key, true
}

// readS3 reads an s3:// data set (a FITS or VOTable one with its table
// selector) with s3store.ReadTable, the reader every runtime shares.
func readS3(ctx context.Context, cfg aws.Config, uri string) (*dataset.Table, error) {
	t, err := s3store.ReadTable(ctx, s3.NewFromConfig(cfg, awsclient.S3Options(cfg)), uri)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s does not exist", training.ErrDataPath, uri)
	}
	return t, err
}
