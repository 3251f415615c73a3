package training

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// StreamingThresholdBytes is the size from which a Parquet dataset_path
// is streamed even when the configuration does not set streaming: 1 GiB
// on disk, about 8 GiB of float64 cells at Snappy's usual ratio on
// numeric columns — more than the in-memory path's copies should take.
// A configuration that streaming cannot train (see streamingConflict)
// stays in memory.
const StreamingThresholdBytes = 1 << 30

// SplitHash is the split method of a streamed job: HashSplit's parts.
const SplitHash = "hash"

// streamingConflict names the first setting streaming cannot honour, or
// returns "".
func (c TrainingConfig) streamingConflict() string {
	switch {
	case c.ModelType != ModelMLP && c.ModelType != ModelLogisticRegression:
		return "model_type " + c.ModelType + " (streaming trains mlp and logistic_regression)"
	case c.GroupColumn != "":
		return "group_column"
	case c.SplitColumn != "":
		return "split_column"
	case c.TestDatasetPath != "":
		return "test_dataset_path"
	case c.SampleWeight == SampleWeightInverseVariance:
		return "sample_weight"
	case len(c.ErrorColumns) > 0:
		return "error_columns"
	}
	return ""
}

// Streams reports whether the job reads its data by streaming (the
// streaming setting, or a Parquet dataset_path of at least
// StreamingThresholdBytes with a configuration streaming can train), and
// with streaming set, the error naming what prevents it.
func (c TrainingConfig) Streams() (bool, error) {
	path := c.DataPath()
	parquetFile := strings.EqualFold(filepath.Ext(path), ".parquet")
	conflict := c.streamingConflict()
	if c.Streaming {
		switch {
		case !parquetFile:
			return false, fmt.Errorf("%w: streaming: reads Parquet files, %s is not one", ErrInvalidConfig, path)
		case strings.HasPrefix(path, "s3://"):
			return false, fmt.Errorf("%w: streaming: reads local files, not %s (copy it to the Batch job's disk first)", ErrInvalidConfig, path)
		case conflict != "":
			return false, fmt.Errorf("%w: streaming: cannot be combined with %s", ErrInvalidConfig, conflict)
		}
		return true, nil
	}
	if !parquetFile || conflict != "" || strings.HasPrefix(path, "s3://") {
		return false, nil
	}
	info, err := os.Stat(path)
	return err == nil && info.Size() >= StreamingThresholdBytes, nil
}

func (c TrainingConfig) hashSplit() HashSplit {
	return HashSplit{Validation: c.ValidationSplit, Test: c.TestSplit, Seed: c.Seed}
}

func (c TrainingConfig) openStream(ctx context.Context) (*dataset.ParquetStream, error) {
	opts := dataset.SelectOptions{Target: c.TargetColumn, Positive: c.PositiveClass, Features: c.Features, Exclude: c.Excluded()}
	return dataset.OpenParquetStream(ctx, c.DataPath(), opts)
}

// loadStreamed is load for a streamed job: it holds only the rows of
// parts (validation, test) of the hash split, and a table that carries the
// file's name and hash.
//
// Once Preprocess has saved the held-out parts (putHeldOut), they are read
// from the artifact store instead of the file, and the stream returned is
// nil: the caller that needs one opens it (openChecked).
func (s *stageRun) loadStreamed(ctx context.Context, parts ...int) (*jobData, *dataset.ParquetStream, error) {
	if d, ok, err := s.savedParts(ctx, parts...); err != nil || ok {
		return d, nil, err
	}
	stream, err := s.openChecked(ctx)
	if err != nil {
		return nil, nil, err
	}
	got, _, err := StreamParts(ctx, stream, s.cfg.hashSplit(), s.cfg.MissingForFeatures(stream.FeatureNames), false, parts...)
	if err != nil {
		stream.Close()
		return nil, nil, err
	}
	split := s.cfg.hashSplit()
	var rows [3]int
	for i := range stream.Rows {
		rows[split.Part(i)]++
	}
	h := heldOutHeader{Source: stream.Source, Features: stream.FeatureNames, Classes: stream.Classes, Positive: stream.Positive,
		Target: stream.Target, Skipped: stream.Skipped,
		Split: map[string]int{"train": rows[PartTrain], "validation": rows[PartValidation], "test": rows[PartTest]}}
	return s.streamedData(h, stream.Hash, stream.Rows, got), stream, nil
}

// savedParts is the jobData of parts from the held-out artifacts; ok is
// false when one of them is not saved.
func (s *stageRun) savedParts(ctx context.Context, parts ...int) (*jobData, bool, error) {
	got := map[int]*dataset.Dataset{}
	var h heldOutHeader
	for _, part := range parts {
		d, hdr, found, err := s.p.getHeldOut(ctx, s.refs.JobID, part)
		if err != nil || !found {
			return nil, false, err
		}
		got[part], h = d, hdr
	}
	if len(got) == 0 || s.refs.DataHash == "" {
		return nil, false, nil
	}
	total := 0
	for _, n := range h.Split {
		total += n
	}
	return s.streamedData(h, s.refs.DataHash, total, got), true, nil
}

// openChecked opens the job's stream and checks its hash against the one
// validated.
func (s *stageRun) openChecked(ctx context.Context) (*dataset.ParquetStream, error) {
	stream, err := s.cfg.openStream(ctx)
	if err != nil {
		return nil, err
	}
	if s.refs.DataHash != "" && stream.Hash != s.refs.DataHash {
		stream.Close()
		return nil, fmt.Errorf("%w: %s had SHA-256 %s when validated, %s now", ErrDataChanged, s.cfg.DatasetPath, s.refs.DataHash, stream.Hash)
	}
	return stream, nil
}

// streamedData assembles the jobData of a streamed job from its held-out
// parts got.
func (s *stageRun) streamedData(h heldOutHeader, hash string, rows int, got map[int]*dataset.Dataset) *jobData {
	meta := &dataset.Dataset{FeatureNames: h.Features, Classes: h.Classes, Positive: h.Positive, Target: h.Target, Skipped: h.Skipped}
	empty := func(p int) *dataset.Dataset {
		if d, ok := got[p]; ok {
			return d
		}
		d := *meta
		return &d
	}
	d := &jobData{
		table: &dataset.Table{Source: h.Source, Hash: hash, Rows: rows},
		data:  meta,
		split: dataset.Split{Train: empty(PartTrain), Validation: empty(PartValidation), Test: empty(PartTest)},
	}
	rec := nn.SplitRecord{Method: SplitHash, Rows: h.Split}
	if t, ok := got[PartTest]; ok {
		rec.TestSetHash = evaluation.DatasetHash(t)
	}
	d.prep = &PreparedData{Data: meta, Split: d.split, Record: rec}
	return d
}

// validateStreamed is ValidateData for a streamed job: the checks that
// one pass with bounded memory can make — the target has two classes or
// more and no missing label (OpenParquetStream), every part of the hash
// split has rows of every class, no feature holds an infinite value or is
// entirely missing — and a warning that the checks needing the whole
// table (duplicates, leakage, ...) were not run.
func (p *TrainingPipeline) validateStreamed(ctx context.Context, s *stageRun) (*ValidationReport, string, error) {
	stream, err := s.cfg.openStream(ctx)
	if err != nil {
		return nil, "", err
	}
	defer stream.Close()
	f := len(stream.FeatureNames)
	split := s.cfg.hashSplit()
	counts := [3][]int{make([]int, len(stream.Classes)), make([]int, len(stream.Classes)), make([]int, len(stream.Classes))}
	inf, firstInf, missing := make([]int, f), make([]int, f), make([]int, f)
	var c dataset.Chunk
	for g := range stream.RowGroups() {
		if err := stream.ReadRowGroup(ctx, g, &c); err != nil {
			return nil, "", err
		}
		for i := range c.Rows {
			counts[split.Part(c.FirstRow+i)][c.Y[i]]++
			for j, v := range c.X[i*f : (i+1)*f] {
				switch {
				case math.IsNaN(v):
					missing[j]++
				case math.IsInf(v, 0):
					if inf[j] == 0 {
						firstInf[j] = c.FirstRow + i + 1
					}
					inf[j]++
				}
			}
		}
	}
	report := &ValidationReport{Source: stream.Source, DataHash: stream.Hash, Rows: stream.Rows, Target: stream.Target,
		Features: stream.FeatureNames, Classes: stream.Classes, ClassCounts: map[string]int{}, ProposedClassWeights: map[string]float64{}}
	for k, label := range stream.Classes {
		report.ClassCounts[label] = stream.ClassCounts[k]
		if n := stream.ClassCounts[k]; n > 0 {
			report.ProposedClassWeights[label] = float64(stream.Rows) / (float64(len(stream.Classes)) * float64(n))
		}
	}
	for j, name := range stream.FeatureNames {
		if inf[j] > 0 {
			report.add(Finding{Check: "non_finite", Severity: SeverityError, Column: name, Row: firstInf[j], Count: inf[j],
				Message: fmt.Sprintf("feature %q holds %d infinite values (first in row %d)", name, inf[j], firstInf[j])})
		}
		if missing[j] == stream.Rows {
			report.add(Finding{Check: "missing", Severity: SeverityError, Column: name, Count: missing[j],
				Message: fmt.Sprintf("feature %q is missing in every row", name)})
		}
	}
	for part, name := range []string{"train", "validation", "test"} {
		for k, n := range counts[part] {
			if n == 0 {
				report.add(Finding{Check: "split", Severity: SeverityError, Column: stream.Target,
					Message: fmt.Sprintf("the %s part of the hash split has no row of class %q (raise validation_split/test_split, or train in memory)", name, stream.Classes[k])})
			}
		}
	}
	report.add(Finding{Check: "streaming", Severity: SeverityWarning,
		Message: "streamed: the checks that need the whole table in memory (duplicates, leakage, train/test overlap, drift) were not run, and the split is by a hash of the row number (not stratified)"})
	rows := map[string]int{}
	for part, name := range []string{"train", "validation", "test"} {
		for _, n := range counts[part] {
			rows[name] += n
		}
	}
	report.Split = &nn.SplitRecord{Method: SplitHash, Rows: rows}
	report.sortFindings()
	return report, stream.Hash, nil
}

// preprocessStreamed is Preprocess's fit for a streamed job: one pass
// over the training part (StreamStats).
func (p *TrainingPipeline) preprocessStreamed(ctx context.Context, s *stageRun) (preprocessing, error) {
	stream, err := s.openChecked(ctx)
	if err != nil {
		return preprocessing{}, err
	}
	defer stream.Close()
	missing := s.cfg.MissingForFeatures(stream.FeatureNames)
	// The same pass keeps the validation and test parts, saved for the
	// later stages (one pass over the file each fewer).
	parts, st, err := StreamParts(ctx, stream, s.cfg.hashSplit(), missing, true, PartValidation, PartTest)
	if err != nil {
		return preprocessing{}, err
	}
	h := heldOutHeader{Source: stream.Source, Features: stream.FeatureNames, Classes: stream.Classes, Positive: stream.Positive,
		Target: stream.Target, Skipped: stream.Skipped,
		Split: map[string]int{"train": st.Rows, "validation": parts[PartValidation].Rows, "test": parts[PartTest].Rows}}
	for _, part := range []int{PartValidation, PartTest} {
		if err := p.putHeldOut(ctx, s.refs.JobID, part, parts[part], h); err != nil {
			return preprocessing{}, err
		}
		parts[part] = nil
	}
	if st.Rows == 0 {
		return preprocessing{}, fmt.Errorf("fit preprocessing: %w: the training split has no rows", ErrInvalidData)
	}
	prep, err := st.Preprocessing()
	if err != nil {
		return preprocessing{}, err
	}
	prep.Missing = missing
	w, err := classWeightsOf(s.cfg.ClassWeights, stream.Classes, st.ClassCounts)
	if err != nil {
		return preprocessing{}, err
	}
	return preprocessing{Transform: prep, ClassWeights: w}, nil
}

// trainStreamed trains the network of a streamed job on the gonum backend:
// the training rows come from a StreamSource over stream, the validation
// part (d's, loaded by loadStreamed) is held, preprocessed, in memory.
func (p *TrainingPipeline) trainStreamed(ctx context.Context, s *stageRun, pp preprocessing, d *jobData, stream *dataset.ParquetStream, in TrainInput) (*TrainResult, error) {
	val, err := p.examplesOf(pp.Transform, d.split.Validation, true)
	if err != nil {
		return nil, err
	}
	in.Validation = val
	in.Train = Examples{Rows: d.prep.Record.Rows["train"], Features: len(stream.FeatureNames)}
	src := &StreamSource{Stream: stream, Split: s.cfg.hashSplit(), Prep: pp.Transform, ShuffleRows: s.cfg.ShuffleRows, Seed: s.cfg.Seed}
	in.Source = src
	s.backendReason = "streamed training runs on the pure-Go engine"
	s.event(ctx, tracking.Event{Kind: tracking.Log, Stage: StageTrain,
		Message: fmt.Sprintf("streaming %s: %d row groups, a shuffle buffer of %d rows, %d validation rows held",
			stream.Source, stream.RowGroups(), src.capacity(), val.Rows)})
	trainer := ModelTrainer{Recorder: s.rec, Checkpoints: artifactCheckpointer{a: p.Artifacts, backend: BackendGonum}}
	return trainer.Train(ctx, in)
}

// loadHeldOut is load, or for a streamed job loadStreamed of parts.
func (s *stageRun) loadHeldOut(ctx context.Context, parts ...int) (*jobData, error) {
	streamed, err := s.cfg.Streams()
	if err != nil {
		return nil, err
	}
	if !streamed {
		return s.load(ctx)
	}
	d, stream, err := s.loadStreamed(ctx, parts...)
	if err != nil {
		return nil, err
	}
	if stream != nil {
		stream.Close()
	}
	return d, nil
}
