package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/orrery-ml/orrery/events"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// cmdTrain implements `orrery train` and, with sample=true, `orrery run`
// (the same on the bundled HTRU2 data).
func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer, sample bool) error {
	name := "train"
	if sample {
		name = "run"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	data := fs.String("data", "", "CSV, Parquet, FITS or VOTable file to train on")
	hdu := fs.String("hdu", "", "FITS HDU (number or EXTNAME) or VOTable TABLE (index or name); default: the first table")
	target := fs.String("target", "", "target (label) column")
	positive := fs.String("positive", "", "positive class, as written in the data")
	configPath := fs.String("config", "", "TrainingConfig JSON file")
	jsonOut := fs.Bool("json", false, "print the result as one JSON object")
	home := fs.String("home", "", "state directory")
	progress := fs.String("progress", "", "bar, json or none")
	quiet := fs.Bool("quiet", false, "no progress display")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("%s: unexpected argument %q", name, pos[0])
	}

	cfg := training.Defaults()
	if *configPath != "" {
		f, err := os.Open(*configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		cfg, err = training.DecodeConfig(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
	}
	if sample && (*data != "" || *target != "") {
		return usagef("run trains on the bundled sample; use 'orrery train --data PATH --target COL' for your own data")
	}
	if *data != "" {
		cfg.DatasetPath = *data
	}
	if *target != "" {
		cfg.TargetColumn = *target
	}
	if *positive != "" {
		cfg.PositiveClass = *positive
	}
	if *hdu != "" {
		cfg.HDU = *hdu
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
	res, err := rt.Pipeline.Train(ctx, cfg)
	flush()
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printSummary(stdout, res, filepath.Base(cfg.DatasetPath))
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
