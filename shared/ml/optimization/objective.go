package optimization

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Objective names of TrainingObjective.
const (
	ObjectiveAUCPR     = "val_auc_pr"
	ObjectiveAUCROC    = "val_auc_roc"
	ObjectiveLatencyMS = "latency_ms"
	ObjectiveValLoss   = "val_loss"
)

// TrainingData is a data file prepared once for every trial: split
// stratified, preprocessing fitted on the training split, class weights
// computed.
type TrainingData struct {
	Train, Validation training.Examples
	Classes           int
	ClassWeights      []float64
	Features          []string
}

// PrepareData reads path (with cfg's hdu selector) and prepares it as the
// pipeline does (cfg's catalog conventions and split — stratified by its
// validation/test fractions and seed, or its group or split column —,
// DataPreprocessor on the training split, balanced class weights unless cfg
// says none). The test split is left out: tuning never sees it.
func PrepareData(ctx context.Context, path, target, positive string, cfg training.TrainingConfig) (*TrainingData, error) {
	if _, err := cfg.Normalize(); err != nil {
		return nil, err
	}
	table, err := dataset.Read(ctx, dataset.WithHDU(path, cfg.HDU))
	if err != nil {
		return nil, err
	}
	return PrepareTable(table, target, positive, cfg)
}

// PrepareTable prepares a table already read (from S3, say) as PrepareData
// prepares a file.
func PrepareTable(table *dataset.Table, target, positive string, cfg training.TrainingConfig) (*TrainingData, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	path := table.Source
	cfg.TargetColumn, cfg.PositiveClass = target, positive
	prepared, err := cfg.PrepareData(table, nil)
	if err != nil {
		return nil, err
	}
	data, split := prepared.Data, prepared.Split
	var prep training.DataPreprocessor
	fitted, err := prep.Fit(split.Train)
	if err != nil {
		return nil, err
	}
	ex := func(d *dataset.Dataset) (training.Examples, error) {
		x, err := prep.Transform(fitted, d)
		if err != nil {
			return training.Examples{}, err
		}
		if training.IsTree(cfg.ModelType) {
			// Tree ensembles take missing values as they are.
			copy(x, d.X)
			fitted.ApplyKeepMissing(x)
		}
		return training.Examples{X: x, Y: d.Y, W: d.Weights, Rows: d.Rows, Features: d.Features()}, nil
	}
	out := &TrainingData{Classes: len(data.Classes), Features: data.FeatureNames}
	if out.Train, err = ex(split.Train); err != nil {
		return nil, err
	}
	if out.Validation, err = ex(split.Validation); err != nil {
		return nil, err
	}
	if cfg.ClassWeights.Mode != "none" {
		counts := split.Train.ClassCounts()
		out.ClassWeights = make([]float64, len(counts))
		for c, n := range counts {
			if n == 0 {
				return nil, fmt.Errorf("prepare %s: class %q has no training rows: %w", path, data.Classes[c], training.ErrInvalidExamples)
			}
			out.ClassWeights[c] = float64(split.Train.Rows) / float64(len(counts)*n)
		}
	}
	return out, nil
}

// TrainingObjective trains one network per trial with the trainer NewTrainer
// makes (training.ModelTrainer when nil): the trial's params override Base
// (learning_rate, batch_size, n_layers and units_k -> hidden_layers,
// dropout_rate, regularization, activation, optimizer, momentum, epochs),
// the validation metric of every epoch — read from the trainer's
// tracking.Progress events — is reported for pruning, and a pruned trial's
// context is cancelled so the trainer stops at its next mini-batch.
// Checkpoints (optional) keys each trial as "<study>-t<number>", so a
// re-queued trial resumes from its last checkpoint. Every outcome's Attrs
// names the backend that trained it ("backend").
type TrainingObjective struct {
	Data        *TrainingData
	Base        training.TrainingConfig
	StudyID     string
	Checkpoints training.Checkpointer
	// Objectives lists what to return, in order: val_auc_pr (default),
	// val_auc_roc, latency_ms (prediction time per 1,000 validation rows).
	Objectives []string
	// NewTrainer makes each trial's trainer (a training backend's, such as
	// the libtorch one in trainer/torch); nil trains with
	// training.ModelTrainer. The trainer must emit a tracking.Progress event
	// with the metrics val_auc_pr, val_auc_roc and val_loss after every
	// epoch, stop with an error when its context is cancelled, and return a
	// TrainResult holding the network (Net) and the epochs' History.
	NewTrainer training.NewTrainerFunc
	// Backend names NewTrainer's backend in the outcomes' Attrs (default
	// training.BackendGonum); without NewTrainer it is ignored, so an
	// outcome never names a backend that did not train it.
	Backend string
}

// trainerBackend returns the backend name and the trainer factory of o.
func (o TrainingObjective) trainerBackend() (string, training.NewTrainerFunc) {
	if o.NewTrainer == nil {
		return training.BackendGonum, func(rec tracking.Recorder, ckpt training.Checkpointer) (training.Trainer, error) {
			return training.ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
		}
	}
	if o.Backend == "" {
		return training.BackendGonum, o.NewTrainer
	}
	return o.Backend, o.NewTrainer
}

// setParams sets each field (a value) whose param (its key) the trial has,
// read with get (Params.Float, Int or String). Each param names a field of
// its own, so the map's order does not matter.
func setParams[T any](get func(name string) (T, bool), fields map[string]*T) {
	for name, field := range fields {
		if v, ok := get(name); ok {
			*field = v
		}
	}
}

// Directions returns the directions of the objectives.
func (o TrainingObjective) Directions() []Direction {
	var d []Direction
	for _, name := range o.names() {
		if name == ObjectiveLatencyMS || name == ObjectiveValLoss {
			d = append(d, Minimize)
		} else {
			d = append(d, Maximize)
		}
	}
	return d
}

func (o TrainingObjective) names() []string {
	if len(o.Objectives) == 0 {
		return []string{ObjectiveAUCPR}
	}
	return o.Objectives
}

// Config returns Base with the trial's params applied.
func (o TrainingObjective) Config(p Params) (training.TrainingConfig, error) {
	cfg := o.Base
	setParams(p.Float, map[string]*float64{"learning_rate": &cfg.LearningRate, "momentum": &cfg.Momentum,
		"dropout_rate": &cfg.DropoutRate, "regularization": &cfg.Regularization,
		"l2_regularization": &cfg.L2Regularization, "subsample": &cfg.Subsample, "colsample": &cfg.Colsample})
	setParams(p.Int, map[string]*int{"batch_size": &cfg.BatchSize, "epochs": &cfg.Epochs, "max_iter": &cfg.MaxIter,
		"max_leaves": &cfg.MaxLeaves, "max_depth": &cfg.MaxDepth, "min_samples_leaf": &cfg.MinSamplesLeaf,
		"n_estimators": &cfg.NEstimators})
	setParams(p.String, map[string]*string{"activation": &cfg.Activation, "optimizer": &cfg.Optimizer})
	if v, ok := p.String("hidden_layers"); ok {
		// A categorical choice of layer widths, written "64-32" (a
		// dimension's choices are scalars).
		layers, err := ParseLayers(v)
		if err != nil {
			return cfg, err
		}
		cfg.HiddenLayers = layers
		if len(layers) == 0 {
			cfg.ModelType = training.ModelLogisticRegression
		}
	}
	if v, ok := p.Float("max_features"); ok {
		cfg.MaxFeatures = training.MaxFeatures{Value: v}
	}
	if n, ok := p.Int("n_layers"); ok {
		cfg.HiddenLayers = nil
		for k := 1; k <= n; k++ {
			u, ok := p.Int(fmt.Sprintf("units_%d", k))
			if !ok {
				return cfg, fmt.Errorf("%w: n_layers is %d but units_%d is missing", ErrInvalidSpace, n, k)
			}
			cfg.HiddenLayers = append(cfg.HiddenLayers, u)
		}
		if n == 0 {
			cfg.ModelType = training.ModelLogisticRegression
		}
	}
	return cfg.Normalize()
}

// Evaluate trains the trial's network.
func (o TrainingObjective) Evaluate(ctx context.Context, t Trial, report ReportFunc) (Outcome, error) {
	cfg, err := o.Config(t.Params)
	if err != nil {
		return Outcome{}, err
	}
	names := o.names()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	epochs := 0
	var lastVals []float64
	rec := tracking.RecorderFunc(func(ctx context.Context, e tracking.Event) error {
		if e.Kind != tracking.Progress || e.Metrics == nil {
			return nil
		}
		epochs++
		vals := make([]float64, len(names))
		for i, n := range names {
			if n == ObjectiveLatencyMS {
				vals[i] = 0 // measured once the network is trained
				continue
			}
			vals[i] = e.Metrics[n]
		}
		lastVals = vals
		if len(names) > 1 || !slices.Contains(names, ObjectiveLatencyMS) {
			if err := report(ctx, e.Step, vals); errors.Is(err, ErrPruned) {
				cancel(ErrPruned)
			} else if err != nil {
				cancel(err)
			}
		}
		return nil
	})
	backend, newTrainer := o.trainerBackend()
	if training.IsTree(cfg.ModelType) {
		backend, newTrainer = training.BackendGonum, func(rec tracking.Recorder, _ training.Checkpointer) (training.Trainer, error) {
			return training.TreeTrainer{Recorder: rec}, nil
		}
	}
	jobID := fmt.Sprintf("%s-t%d", o.StudyID, t.Number)
	trainer, err := newTrainer(rec, o.Checkpoints)
	if err != nil {
		return Outcome{Attrs: map[string]any{"backend": backend}}, fmt.Errorf("trial %s: make the %s trainer: %w", jobID, backend, err)
	}
	res, err := trainer.Train(ctx, training.TrainInput{JobID: jobID, Config: cfg, Classes: o.Data.Classes,
		ClassWeights: o.Data.ClassWeights, Train: o.Data.Train, Validation: o.Data.Validation})
	if err != nil {
		attrs := map[string]any{"backend": backend}
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return Outcome{Values: lastVals, Cost: float64(epochs), Attrs: attrs}, cause
		}
		return Outcome{Cost: float64(epochs), Attrs: attrs}, err
	}
	out := Outcome{Cost: float64(epochs), Attrs: map[string]any{"best_epoch": res.BestEpoch, "epochs_run": res.EpochsRun,
		"stop_reason": res.StopReason, "backend": backend}}
	if res.BestEpoch < 1 || res.BestEpoch > len(res.History) {
		return out, fmt.Errorf("trial %s: the %s trainer returned best epoch %d with %d epochs of history", jobID, backend, res.BestEpoch, len(res.History))
	}
	best := res.History[res.BestEpoch-1]
	for _, n := range names {
		switch n {
		case ObjectiveAUCPR:
			out.Values = append(out.Values, best.ValAUCPR)
		case ObjectiveAUCROC:
			out.Values = append(out.Values, best.ValAUCROC)
		case ObjectiveLatencyMS:
			switch {
			case res.Trees != nil:
				out.Values = append(out.Values, treeLatencyMS(res.Trees, o.Data.Validation))
			case res.Net == nil:
				return out, fmt.Errorf("trial %s: the %s trainer returned no network to time for %s", jobID, backend, n)
			default:
				out.Values = append(out.Values, latencyMS(res.Net, o.Data.Validation))
			}
		case ObjectiveValLoss:
			out.Values = append(out.Values, best.ValLoss)
		default:
			return out, fmt.Errorf("%w: objective %q is not val_auc_pr, val_auc_roc, val_loss or latency_ms", ErrInvalidStudy, n)
		}
	}
	return out, nil
}

// latencyMS times the network's prediction of 1,000 validation rows (best
// of three runs, to damp scheduling noise).
func latencyMS(net *nn.Network, v training.Examples) float64 {
	rows := min(1000, v.Rows)
	x := v.X[:rows*v.Features]
	buf := make([]float64, rows*net.Spec.Outputs)
	best := math.Inf(1)
	for range 3 {
		start := time.Now()
		net.Logits(x, rows, buf)
		// Milliseconds per 1,000 rows, from nanoseconds: a small network on
		// a few rows takes under a microsecond, which whole microseconds
		// would round to zero.
		best = math.Min(best, float64(time.Since(start).Nanoseconds())/1e6*1000/float64(rows))
	}
	return best
}

// treeLatencyMS times a tree ensemble like latencyMS times a network.
func treeLatencyMS(m *trees.Model, v training.Examples) float64 {
	rows := min(1000, v.Rows)
	x := v.X[:rows*v.Features]
	buf := make([]float64, rows*m.Classes)
	best := math.Inf(1)
	for range 3 {
		start := time.Now()
		m.PredictProba(x, rows, buf)
		best = math.Min(best, float64(time.Since(start).Nanoseconds())/1e6*1000/float64(rows))
	}
	return best
}
