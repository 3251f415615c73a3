package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/embedded"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/pipeline"
	"github.com/orrery-ml/orrery/shared/pipeline/localexec"
	"github.com/orrery-ml/orrery/shared/store"
)

// cmdTrain implements `orrery train` and, with sample=true, `orrery run`
// (the same on the bundled HTRU2 data).
func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer, sample bool) error {
	name := "train"
	if sample {
		name = "run"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configPath := fs.String("config", "", "TrainingConfig JSON file; the flags below override its fields")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	progress := fs.String("progress", "", "bar, json or none")
	quiet := fs.Bool("quiet", false, "no progress display")
	resume := fs.String("resume", "", "continue the interrupted training job JOB_ID from where it stopped")
	fromTrial := fs.String("from-trial", "", "start from study STUDY's best trial's configuration (STUDY/N: trial N)")
	noDeploy := fs.Bool("no-deploy", false, "run: do not deploy the trained model to its local endpoint")
	model := fs.String("model", "", "model type: mlp, logistic_regression, gradient_boosting, random_forest or auto (default: the config's, else mlp); its defaults are the starting point")
	fields := addConfigFlags(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q", name, pos[0])
	}
	if *resume != "" {
		if *configPath != "" || *fromTrial != "" || *model != "" || len(fields) > 0 {
			return usagef("%s: --resume continues a job with its own configuration; it takes no --config, --from-trial, --model or config field flags", name)
		}
		return resumeTraining(ctx, *resume, *home, *progress, *quiet, *jsonOut, stdout, stderr)
	}
	if *configPath != "" && *fromTrial != "" {
		return usagef("%s: --config and --from-trial both give the starting configuration; choose one", name)
	}
	_, hasData := fields["dataset_path"]
	_, hasTarget := fields["target_column"]
	if sample && (hasData || hasTarget || *fromTrial != "") {
		return usagef("run trains on the bundled sample; use 'orrery train --data PATH --target COL' for your own data")
	}

	cfg := training.DefaultsFor(*model)
	if *model != "" {
		if _, err := cfg.Normalize(); errors.Is(err, training.ErrInvalidConfig) && strings.Contains(err.Error(), "model_type") {
			return usagef("%s: --model %q is not mlp, logistic_regression, gradient_boosting, random_forest or auto", name, *model)
		}
	}
	if *configPath != "" {
		body, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if mt := training.PeekModelType(body); *model != "" && mt != "" && mt != *model {
			return usagef("%s: --model %s, but %s says model_type %q", name, *model, *configPath, mt)
		}
		cfg, err = training.DecodeConfigAs(body, *model)
		if err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	if *fromTrial != "" {
		if cfg, err = trialConfig(ctx, *home, *fromTrial, stderr); err != nil {
			return err
		}
	}
	if cfg, err = fields.Apply(cfg); err != nil {
		return usagef("%s: %v", name, flagError(err, fields))
	}
	if _, err := cfg.Normalize(); err != nil {
		return usagef("%s: %v", name, flagError(err, fields))
	}
	if !sample {
		if cfg.DatasetPath == "" {
			return usagef("train: --data is required (or dataset_path in --config)")
		}
		if cfg.TargetColumn == "" {
			return usagef("train: --target is required (or target_column in --config)")
		}
		if !fileExists(dataFile(cfg.DatasetPath)) && !strings.HasPrefix(cfg.DatasetPath, "s3://") {
			return fmt.Errorf("train: data file %s does not exist", cfg.DatasetPath)
		}
	}

	rec, flush, err := progressRecorder(*progress, *quiet, *jsonOut, stderr)
	if err != nil {
		return err
	}
	rt, err := openRuntime(ctx, *home, rec)
	if err != nil {
		flush()
		return err
	}
	defer rt.Close()
	if sample {
		path, err := events.WriteSample(rt.SamplesDir())
		if err != nil {
			flush()
			return err
		}
		cfg.DatasetPath = path
		cfg.TargetColumn = events.SampleTarget
		if cfg.PositiveClass == "" {
			cfg.PositiveClass = events.SamplePositive
		}
		if cfg.Name == "" {
			cfg.Name = "htru2-pulsar-" + orDefault(cfg.ModelType, training.ModelMLP)
		}
	}
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	if err != nil {
		flush()
		return err
	}
	noteInterrupted(ctx, rt, x, stderr)
	res, err := rt.Train(ctx, x, cfg)
	if err := finishTraining(ctx, x, res, err, flush, *jsonOut, stdout); err != nil || !sample || *noDeploy {
		return err
	}
	out := stdout
	if *jsonOut {
		out = stderr // stdout holds the result's JSON alone
	}
	return deployTrained(ctx, *home, res.ModelID, out, stderr)
}

// resumeTraining implements `orrery train --resume JOB_ID`: the job's
// execution continues from its last completed state (a Train state that
// was interrupted resumes from the job's last checkpoint).
func resumeTraining(ctx context.Context, jobID, home, progress string, quiet, jsonOut bool, stdout, stderr io.Writer) error {
	rec, flush, err := progressRecorder(progress, quiet, jsonOut, stderr)
	if err != nil {
		return err
	}
	rt, err := openRuntime(ctx, home, rec)
	if err != nil {
		flush()
		return err
	}
	defer rt.Close()
	x, err := rt.Executions(embedded.ExecutionOptions{Parallel: 1})
	if err != nil {
		flush()
		return err
	}
	res, err := rt.ResumeTraining(ctx, x, jobID)
	switch {
	case errors.Is(err, localexec.ErrEnded):
		job, jerr := rt.DB.GetJob(ctx, jobID)
		if jerr == nil {
			err = fmt.Errorf("train --resume %s: the job has ended (%s); nothing to resume", jobID, job.Status)
		}
	case errors.Is(err, localexec.ErrBusy):
		err = fmt.Errorf("train --resume %s: another orrery process is running it", jobID)
	case errors.Is(err, store.ErrNotFound):
		err = fmt.Errorf("train --resume %s: no training job of that id in %s", jobID, rt.Home)
	}
	return finishTraining(ctx, x, res, err, flush, jsonOut, stdout)
}

// finishTraining stops the executions, then prints the result or says how
// to go on after an interruption.
func finishTraining(ctx context.Context, x *localexec.Executions, res *training.Result, err error, flush func(),
	jsonOut bool, stdout io.Writer) error {
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	closeErr := x.Close(closeCtx)
	flush()
	var stopped *embedded.Interrupted
	if errors.As(err, &stopped) {
		return fmt.Errorf("interrupted: training job %s is saved at its last checkpoint; 'orrery train --resume %s' continues it",
			stopped.JobID, stopped.JobID)
	}
	if err != nil {
		return err
	}
	if closeErr != nil {
		return closeErr
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printSummary(stdout, res, filepath.Base(res.Config.DatasetPath))
	return nil
}

// noteInterrupted tells the user about training jobs an earlier process
// left interrupted on this home, and how to continue them.
func noteInterrupted(ctx context.Context, rt *embedded.Runtime, x *localexec.Executions, stderr io.Writer) {
	list, err := rt.DB.ListExecutions(ctx, store.ExecutionRunning)
	if err != nil {
		return
	}
	for _, e := range list {
		if e.Machine != string(pipeline.MachineTraining) {
			continue
		}
		if ok, _ := x.Interrupted(ctx, pipeline.MachineTraining, e.Name); ok {
			fmt.Fprintf(stderr, "note: training job %s was interrupted; 'orrery train --resume %s' continues it (orrery serve resumes every one)\n",
				e.Name, e.Name)
		}
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
