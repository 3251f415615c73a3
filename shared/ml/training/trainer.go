package training

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/orrery-ml/orrery/shared/resources"
	"github.com/orrery-ml/orrery/shared/tracking"
)

var (
	// ErrInvalidExamples is wrapped by Train's errors about its input data
	// (no rows, mismatched sizes, labels out of range, non-finite values).
	ErrInvalidExamples = fault.New(fault.Invalid, "training: invalid examples")
	// ErrDiverged is returned when the training loss stops being finite.
	ErrDiverged = fault.New(fault.Diverged, "training: loss diverged")
	// ErrCheckpointMismatch is returned when a job's checkpoint was written
	// by another configuration, other data or an incompatible version.
	ErrCheckpointMismatch = fault.New(fault.Conflict, "training: checkpoint does not match this job")
)

// Stop reasons of a TrainResult.
const (
	StopEarlyStopping = "early_stopping"
	StopMaxEpochs     = "max_epochs"
)

// Checkpointer persists a training job's checkpoint between epochs.
// LoadCheckpoint returns found=false and a nil error when there is none.
type Checkpointer interface {
	SaveCheckpoint(ctx context.Context, jobID string, data []byte) error
	LoadCheckpoint(ctx context.Context, jobID string) (data []byte, found bool, err error)
}

// MemoryCheckpointer keeps checkpoints in memory (tests, single-process
// runs). The zero value is ready to use; it is safe for concurrent use.
type MemoryCheckpointer struct {
	mu   sync.Mutex
	data map[string][]byte
}

// SaveCheckpoint stores a copy of data as jobID's checkpoint.
func (m *MemoryCheckpointer) SaveCheckpoint(_ context.Context, jobID string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	m.data[jobID] = bytes.Clone(data)
	return nil
}

// LoadCheckpoint returns a copy of jobID's checkpoint.
func (m *MemoryCheckpointer) LoadCheckpoint(_ context.Context, jobID string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	data, ok := m.data[jobID]
	return bytes.Clone(data), ok, nil
}

// DirCheckpointer keeps each job's checkpoint in the file <Dir>/<job>.ckpt,
// replaced atomically (temporary file, sync, rename) so a crash leaves the
// previous checkpoint or the new one, never a torn file.
type DirCheckpointer struct {
	Dir string
}

func (d DirCheckpointer) path(jobID string) (string, error) {
	if jobID == "" || jobID == "." || jobID == ".." || strings.ContainsAny(jobID, `/\`) {
		return "", fmt.Errorf("checkpoint: job id %q cannot name a file", jobID)
	}
	return filepath.Join(d.Dir, jobID+".ckpt"), nil
}

// SaveCheckpoint writes data as jobID's checkpoint, creating Dir if needed.
func (d DirCheckpointer) SaveCheckpoint(_ context.Context, jobID string, data []byte) error {
	path, err := d.path(jobID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	f, err := os.CreateTemp(d.Dir, "."+jobID+".ckpt.tmp-*")
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

// LoadCheckpoint reads jobID's checkpoint; a missing file is found=false.
func (d DirCheckpointer) LoadCheckpoint(_ context.Context, jobID string) ([]byte, bool, error) {
	path, err := d.path(jobID)
	if err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return data, true, nil
}

// Examples is a preprocessed design matrix: X is Rows × Features row-major
// (no missing values), Y the class index of each row, W each row's sample
// weight (nil: every row weighs 1). ModelTrainer weighs the training loss
// by W; validation scores ignore it.
type Examples struct {
	X              []float64
	Y              []int
	W              []float64
	Rows, Features int
}

// TrainInput is everything ModelTrainer.Train needs.
type TrainInput struct {
	// JobID keys the job's checkpoint.
	JobID string
	// Config is the job's configuration (normalised again by Train).
	Config TrainingConfig
	// Classes is the number of classes, 2 for binary tasks.
	Classes int
	// ClassWeights holds one weight per class index; nil means all 1.
	ClassWeights []float64
	Train        Examples
	Validation   Examples
	// Source, when set, deals the training rows instead of Train.X, Y and
	// W (a StreamSource: a file larger than memory); Train then gives only
	// Rows (the training rows, for the loss average's report; 0 when not
	// known) and Features. Only ModelTrainer takes it.
	Source BatchSource
}

// EpochStats records one epoch. ValLoss is the training criterion (with the
// class weights) on the validation split; the AUCs are the validation
// split's (macro averages of one-vs-rest AUCs for more than two classes).
type EpochStats struct {
	Epoch        int     `json:"epoch"`
	LearningRate float64 `json:"learning_rate"`
	TrainLoss    float64 `json:"train_loss"`
	ValLoss      float64 `json:"val_loss"`
	ValAUCPR     float64 `json:"val_auc_pr"`
	ValAUCROC    float64 `json:"val_auc_roc"`
	Seconds      float64 `json:"seconds"`
	// Resources is what the epoch used: CPU, resident memory and, on a
	// GPU host, the GPU's utilisation and memory (absent when it could not
	// be measured).
	Resources *resources.Usage `json:"resources,omitempty"`
}

// TrainResult is the outcome of Train.
type TrainResult struct {
	// Net holds the returned weights: the best epoch's when early stopping is
	// enabled, the last epoch's otherwise.
	Net *nn.Network `json:"-"`
	// Trees holds the tree ensemble instead of Net for the tree model
	// types (TreeTrainer); History then has one entry per boosting
	// iteration (a forest: one), BestEpoch the iteration kept.
	Trees   *trees.Model `json:"-"`
	Spec    nn.Spec      `json:"spec"`
	History []EpochStats `json:"history"`
	// BestEpoch is the epoch whose weights Net holds.
	BestEpoch int `json:"best_epoch"`
	EpochsRun int `json:"epochs_run"`
	// StopReason is StopEarlyStopping or StopMaxEpochs.
	StopReason string `json:"stop_reason"`
	// ResumedFrom is the epoch of the checkpoint training resumed after, 0
	// for a fresh start.
	ResumedFrom int `json:"resumed_from,omitempty"`
	// Warnings lists problems that did not stop training (a failing
	// Recorder).
	Warnings []string `json:"warnings,omitempty"`
	// OOB is a bootstrapped random forest's out-of-bag score.
	OOB *OOBScore `json:"oob,omitempty"`
}

// ModelTrainer trains networks with mini-batch gradient descent, reporting
// progress to Recorder (nil: tracking.Discard) and checkpointing to
// Checkpoints (nil: no checkpoints) after every epoch.
type ModelTrainer struct {
	Recorder    tracking.Recorder
	Checkpoints Checkpointer
	// Resources samples CPU, memory and GPU use for every epoch's
	// EpochStats.Resources and progress metrics (nil: resources.Process()).
	Resources resources.Sampler
}

// Train fits a network to in.Train, validating on in.Validation after every
// epoch:
//
//   - each epoch shuffles the training rows and takes mini-batches of
//     Config.BatchSize, with the learning rate of Config.Schedule for the
//     epoch;
//   - the shuffle and the dropout masks come from a PCG generator seeded with
//     (Config.Seed, epoch), and the initial weights from Config.Seed, so the
//     same input gives bit-identical weights, and a run resumed from a
//     checkpoint continues exactly as an uninterrupted one;
//   - with early stopping enabled it stops once Config.EarlyStop.Metric has
//     not improved by more than MinDelta for Patience epochs, and returns the
//     best epoch's weights (the rule of EarlyStopper);
//   - after every epoch it saves a checkpoint (weights, optimizer state, best
//     weights, early-stopping state, history) and then records a Progress
//     event. At the start it resumes from the job's checkpoint if there is
//     one; a checkpoint of another configuration or other data is refused
//     with ErrCheckpointMismatch.
//
// Cancelling ctx stops training between mini-batches with ctx.Err() wrapped;
// the last checkpoint then lets a later call resume. A Recorder error never
// stops training (it is listed in TrainResult.Warnings); a checkpoint error
// does.
func (t ModelTrainer) Train(ctx context.Context, in TrainInput) (*TrainResult, error) {
	rec := t.Recorder
	if rec == nil {
		rec = tracking.Discard
	}
	run, err := newTrainRun(in, t.Checkpoints)
	if err != nil {
		return nil, fmt.Errorf("train job %s: %w", in.JobID, err)
	}
	run.rec = rec
	run.sampler = t.Resources
	res, err := run.train(ctx)
	if err != nil {
		run.record(context.WithoutCancel(ctx), tracking.Event{Kind: tracking.StageFinished, Err: err.Error()})
		return nil, fmt.Errorf("train job %s: %w", in.JobID, err)
	}
	return res, nil
}

// trainRun is the state of one Train call.
type trainRun struct {
	in       TrainInput
	cfg      TrainingConfig
	loss     nn.Loss
	l2       float64
	ckpt     Checkpointer
	rec      tracking.Recorder
	net      *nn.Network
	opt      *nn.Optimizer
	cfgHash  string
	dataHash string

	// Epochs done, their history, early stopping and the best epoch's
	// weights (what a checkpoint holds).
	epoch      int
	history    []EpochStats
	stop       *EarlyStopper
	bestParams []float64

	recordErrors int
	firstRecErr  error

	sampler resources.Sampler
}

// newTrainRun checks the input and builds the network and optimizer.
func newTrainRun(in TrainInput, ckpt Checkpointer) (*trainRun, error) {
	cfg, err := in.Config.Normalize()
	if err != nil {
		return nil, err
	}
	if err := in.Check(); err != nil {
		return nil, err
	}
	if ckpt != nil && in.JobID == "" {
		return nil, fmt.Errorf("%w: checkpoints need a job id", ErrInvalidExamples)
	}
	lossName := cfg.LossFunction
	if lossName == "" {
		lossName = string(nn.CrossEntropy)
		if in.Classes == 2 {
			lossName = string(nn.BinaryCrossEntropy)
		}
	}
	loss, err := nn.ParseLoss(lossName)
	if err != nil {
		return nil, fmt.Errorf("%w: loss_function: %w", ErrInvalidConfig, err)
	}
	outputs := in.Classes
	if loss == nn.BinaryCrossEntropy {
		if in.Classes != 2 {
			return nil, fmt.Errorf("%w: loss_function: binary_cross_entropy needs 2 classes, the data has %d", ErrInvalidConfig, in.Classes)
		}
		outputs = 1
	}
	if err := loss.Check(outputs, in.ClassWeights); err != nil {
		return nil, fmt.Errorf("%w: class weights: %w", ErrInvalidExamples, err)
	}
	spec := nn.Spec{ModelType: cfg.ModelType, Inputs: in.Train.Features, Hidden: cfg.HiddenLayers,
		Outputs: outputs, Activation: cfg.Activation, Dropout: cfg.DropoutRate}
	if cfg.ModelType == ModelLogisticRegression {
		spec.Hidden = nil
	}
	net, err := nn.New(spec, uint64(cfg.Seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	optCfg := nn.OptimizerConfig{Name: cfg.Optimizer, Momentum: cfg.Momentum}
	l2 := cfg.Regularization
	if cfg.Optimizer == nn.AdamW {
		optCfg.WeightDecay, l2 = cfg.Regularization, 0
	}
	opt, err := nn.NewOptimizer(optCfg, net)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	stop, err := NewEarlyStopper(cfg.EarlyStop, cfg.Epochs)
	if err != nil {
		return nil, err
	}
	r := &trainRun{in: in, cfg: cfg, loss: loss, l2: l2, ckpt: ckpt, net: net, opt: opt, stop: stop,
		bestParams: make([]float64, net.NumParams())}
	r.cfgHash, r.dataHash = Fingerprint(r.cfg, r.in, "")
	return r, nil
}

// Check reports the first problem with the input data: too few classes, an
// empty split, mismatched sizes, a non-finite value, a label out of range, or
// a validation split that cannot rank (one class, or no positive). Every
// training backend applies it.
func (in TrainInput) Check() error { return in.check(false) }

// check is Check; with allowMissing, NaN features are accepted (tree
// ensembles route them), infinite ones still are not.
func (in TrainInput) check(allowMissing bool) error {
	if in.Classes < 2 {
		return fmt.Errorf("%w: %d classes, need at least 2", ErrInvalidExamples, in.Classes)
	}
	for _, s := range []struct {
		name string
		e    Examples
	}{{"train", in.Train}, {"validation", in.Validation}} {
		e := s.e
		if s.name == "train" && in.Source != nil {
			// The source checks its rows as it deals them.
			if e.Features < 1 {
				return fmt.Errorf("%w: a streamed training split needs its feature count", ErrInvalidExamples)
			}
			continue
		}
		if e.Rows < 1 {
			return fmt.Errorf("%w: %s split has no rows", ErrInvalidExamples, s.name)
		}
		if e.Features < 1 || e.Features != in.Train.Features {
			return fmt.Errorf("%w: %s split has %d features, train has %d", ErrInvalidExamples, s.name, e.Features, in.Train.Features)
		}
		if len(e.X) != e.Rows*e.Features || len(e.Y) != e.Rows {
			return fmt.Errorf("%w: %s split has %d values and %d labels for %d rows of %d features",
				ErrInvalidExamples, s.name, len(e.X), len(e.Y), e.Rows, e.Features)
		}
		for i, v := range e.X {
			if (math.IsNaN(v) && !allowMissing) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: %s split row %d feature %d is %v (preprocess first)", ErrInvalidExamples, s.name, i/e.Features, i%e.Features, v)
			}
		}
		for i, y := range e.Y {
			if y < 0 || y >= in.Classes {
				return fmt.Errorf("%w: %s split row %d has label %d, outside [0, %d)", ErrInvalidExamples, s.name, i, y, in.Classes)
			}
		}
		if e.W != nil && len(e.W) != e.Rows {
			return fmt.Errorf("%w: %s split has %d sample weights for %d rows", ErrInvalidExamples, s.name, len(e.W), e.Rows)
		}
		for i, w := range e.W {
			if !(w > 0) || math.IsInf(w, 0) {
				return fmt.Errorf("%w: %s split row %d has sample weight %v, not a positive number", ErrInvalidExamples, s.name, i, w)
			}
		}
	}
	present := make([]bool, in.Classes)
	distinct := 0
	for _, y := range in.Validation.Y {
		if !present[y] {
			present[y] = true
			distinct++
		}
	}
	if distinct < 2 || (in.Classes == 2 && !present[1]) {
		return fmt.Errorf("%w: validation split has %d distinct classes, need at least 2 (with the positive class) to rank", ErrInvalidExamples, distinct)
	}
	return nil
}

// Fingerprint hashes what a checkpoint must agree with: the configuration
// (with the class count, the class weights and, when not empty, the backend's
// name) and the training and validation data. Every training backend keys its
// checkpoints with it, so a checkpoint from other settings is refused.
func Fingerprint(cfg TrainingConfig, in TrainInput, backend string) (cfgHash, dataHash string) {
	h := sha256.New()
	h.Write(cfg.JSON())
	fmt.Fprintf(h, "classes=%d weights=%v", in.Classes, in.ClassWeights)
	if backend != "" {
		fmt.Fprintf(h, " backend=%s", backend)
	}
	cfgHash = hex.EncodeToString(h.Sum(nil))

	h.Reset()
	var buf []byte
	if in.Source != nil {
		fmt.Fprintf(h, "source %s ", in.Source.Fingerprint())
	}
	for _, e := range []Examples{in.Train, in.Validation} {
		buf = binary.LittleEndian.AppendUint64(buf[:0], uint64(e.Rows))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(e.Features))
		h.Write(buf)
		for lo := 0; lo < len(e.X); lo += 4096 {
			buf = buf[:0]
			for _, v := range e.X[lo:min(lo+4096, len(e.X))] {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
			}
			h.Write(buf)
		}
		buf = buf[:0]
		for _, y := range e.Y {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(y))
		}
		h.Write(buf)
		if e.W != nil {
			buf = append(buf[:0], "weights"...)
			for _, w := range e.W {
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(w))
			}
			h.Write(buf)
		}
	}
	return cfgHash, hex.EncodeToString(h.Sum(nil))
}

func (r *trainRun) record(ctx context.Context, e tracking.Event) {
	e.JobID, e.Stage, e.Time = r.in.JobID, "train", time.Now().UTC()
	if err := r.rec.Record(ctx, e); err != nil {
		r.recordErrors++
		if r.firstRecErr == nil {
			r.firstRecErr = err
		}
	}
}

// train runs (or resumes) the epochs and assembles the result.
func (r *trainRun) train(ctx context.Context) (*TrainResult, error) {
	resumed, err := r.resume(ctx)
	if err != nil {
		return nil, err
	}
	cfg := r.cfg
	r.record(ctx, tracking.Event{Kind: tracking.StageStarted, Step: r.epoch, Total: cfg.Epochs, Unit: "epoch"})

	tr := r.in.Train
	src := r.in.Source
	batch := cfg.BatchSize
	if src == nil {
		batch = min(batch, tr.Rows)
		src = &memorySource{e: tr}
	}
	ws, err := nn.NewWorkspaceWith(r.net, batch, nn.WorkspaceOptions{Precision: cfg.Precision})
	if err != nil {
		return nil, err
	}
	val := newValidator(r)
	start := time.Now()
	first := r.epoch
	meter := NewUsageMeter(ctx, r.sampler)
	defer meter.Stop()

	for !r.stop.Done() && r.epoch < cfg.Epochs {
		epoch := r.epoch + 1
		epochStart := time.Now()
		lr := LearningRate(cfg, epoch)
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(epoch)))

		var lossSum float64
		seen := 0
		err := src.Batches(ctx, epoch, batch, rng, func(xb []float64, yb []int, wb []float64) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rows := len(yb)
			if _, err := ws.Forward(xb, rows, cfg.DropoutRate, rng); err != nil {
				return err
			}
			loss, err := ws.WeightedLoss(r.loss, yb, r.in.ClassWeights, wb)
			if err != nil {
				return err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return fmt.Errorf("%w: mini-batch loss is %v (try a lower learning_rate)", ErrDiverged, loss)
			}
			lossSum += loss * float64(rows)
			seen += rows
			return r.opt.Step(r.net.Params(), ws.Backward(r.l2), lr)
		})
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		if seen == 0 {
			return nil, fmt.Errorf("%w: epoch %d: the training split has no rows", ErrInvalidExamples, epoch)
		}

		stats := EpochStats{Epoch: epoch, LearningRate: lr, TrainLoss: lossSum / float64(seen)}
		if stats.ValLoss, stats.ValAUCPR, stats.ValAUCROC, err = val.evaluate(); err != nil {
			return nil, fmt.Errorf("epoch %d: validate: %w", epoch, err)
		}
		if math.IsNaN(stats.ValLoss) || math.IsInf(stats.ValLoss, 0) {
			return nil, fmt.Errorf("%w: epoch %d: validation loss is %v (try a lower learning_rate)", ErrDiverged, epoch, stats.ValLoss)
		}
		stats.Seconds = time.Since(epochStart).Seconds()
		meter.Epoch(ctx, &stats)
		r.history = append(r.history, stats)
		r.epoch = epoch
		step, err := r.stop.Observe(stats)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		if step.Improved {
			copy(r.bestParams, r.net.Params())
		}

		if err := r.save(ctx); err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		eta := tracking.ETA(time.Since(start), epoch-first, cfg.Epochs-first)
		r.record(ctx, tracking.Event{Kind: tracking.Progress, Step: epoch, Total: cfg.Epochs, Unit: "epoch",
			ETASeconds: eta.Seconds(), Metrics: ProgressMetrics(stats, map[string]float64{
				"loss": stats.TrainLoss, "val_loss": stats.ValLoss, "val_auc_pr": stats.ValAUCPR,
				"val_auc_roc": stats.ValAUCROC, "lr": lr})})
	}

	bestEpoch, restoreBest, reason := r.stop.Outcome()
	if restoreBest {
		r.net.SetParams(r.bestParams)
	}
	res := &TrainResult{Net: r.net, Spec: r.net.Spec, History: r.history, EpochsRun: r.epoch,
		StopReason: reason, ResumedFrom: resumed, BestEpoch: bestEpoch}
	r.record(ctx, tracking.Event{Kind: tracking.StageFinished, Step: r.epoch, Total: cfg.Epochs, Unit: "epoch",
		Message: res.StopReason, Metrics: map[string]float64{"best_epoch": float64(res.BestEpoch)}})
	res.Warnings = append(res.Warnings, meter.Warnings()...)
	if r.recordErrors > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("recording progress failed %d times; first error: %v", r.recordErrors, r.firstRecErr))
	}
	return res, nil
}

// LearningRate returns the learning rate of epoch (1-based), the schedule
// every training backend follows: a linear
// warmup from lr/10 over WarmupEpochs, then constant; step (×Gamma every
// StepSize epochs); exponential (×Gamma every epoch); or cosine annealing
// from lr to MinLR over the remaining epochs (torch's CosineAnnealingLR with
// T_max = Epochs - WarmupEpochs, stepped per epoch; Loshchilov & Hutter 2017,
// "SGDR").
func LearningRate(cfg TrainingConfig, epoch int) float64 {
	base, s := cfg.LearningRate, cfg.Schedule
	e := epoch - 1
	if e < s.WarmupEpochs {
		return base * (0.1 + 0.9*float64(e)/float64(s.WarmupEpochs))
	}
	t := e - s.WarmupEpochs
	switch s.Kind {
	case "step":
		return base * math.Pow(s.Gamma, float64(t/s.StepSize))
	case "exponential":
		return base * math.Pow(s.Gamma, float64(t))
	case "cosine":
		span := max(1, cfg.Epochs-s.WarmupEpochs)
		return s.MinLR + (base-s.MinLR)*(1+math.Cos(math.Pi*float64(t)/float64(span)))/2
	}
	return base
}

// validator evaluates the network on the validation split with buffers
// allocated once.
type validator struct {
	r      *trainRun
	logits []float64
	scorer ValidationScorer
}

func newValidator(r *trainRun) *validator {
	return &validator{r: r, logits: make([]float64, r.in.Validation.Rows*r.net.Spec.Outputs)}
}

// evaluate scores the network on the validation split (see
// ValidationScorer.Score).
func (v *validator) evaluate() (loss, aucPR, aucROC float64, err error) {
	r, val := v.r, v.r.in.Validation
	logits := r.net.Logits(val.X, val.Rows, v.logits)
	return v.scorer.Score(r.loss, logits, r.net.Spec.Outputs, val.Y, r.in.ClassWeights)
}

// ValidationScorer computes the validation figures every training backend
// reports and early-stops on, reusing its buffers from call to call. The zero
// value is ready to use; it is not safe for concurrent use.
type ValidationScorer struct {
	probs, score []float64
	onehot       []int
}

// Score returns the loss of logits (rows × outputs) against y — the training
// criterion with the class weights — and their average precision and ROC
// AUC; for more than two classes the macro averages over one-vs-rest of the
// softmax columns, skipping classes absent from y.
func (v *ValidationScorer) Score(loss nn.Loss, logits []float64, outputs int, y []int, classWeights []float64) (lossValue, aucPR, aucROC float64, err error) {
	total, norm, err := loss.Sum(logits, outputs, y, classWeights)
	if err != nil {
		return 0, 0, 0, err
	}
	rows, c := len(y), max(outputs, 2)
	if cap(v.probs) < rows*c {
		v.probs, v.score, v.onehot = make([]float64, rows*c), make([]float64, rows), make([]int, rows)
	}
	probs, score, onehot := v.probs[:rows*c], v.score[:rows], v.onehot[:rows]
	nn.Probabilities(logits, outputs, probs)
	column := func(k int) {
		for i := range score {
			score[i] = probs[i*c+k]
		}
	}
	// One ranking gives both figures (the bits of AveragePrecision and
	// BinaryAUCROC): two rankings of the validation split every epoch
	// were twice the sorting and the garbage.
	ranked := func(y []int) (pr, roc float64) {
		r, err := evaluation.RankBinary(y, score)
		if err != nil {
			return math.NaN(), math.NaN() // a NaN score, as the two functions answer
		}
		return r.AveragePrecision(), r.AUCROC()
	}
	if c == 2 {
		column(1)
		pr, roc := ranked(y)
		return total / norm, pr, roc, nil
	}
	var n float64
	for k := range c {
		column(k)
		for i, label := range y {
			onehot[i] = 0
			if label == k {
				onehot[i] = 1
			}
		}
		pr, roc := ranked(onehot)
		if math.IsNaN(pr) || math.IsNaN(roc) {
			continue
		}
		aucPR += pr
		aucROC += roc
		n++
	}
	return total / norm, aucPR / n, aucROC / n, nil
}

// checkpointVersion is the version of the checkpoint encoding.
const checkpointVersion = 1

// checkpointMagic starts every checkpoint.
const checkpointMagic = "orrery-checkpoint\n"

// checkpoint is a training job's state after an epoch. Best, BestEpoch,
// Bad, Done and StopReason are the EarlyStopState of Epoch.
type checkpoint struct {
	Version    int
	ConfigHash string
	DataHash   string
	Epoch      int
	Params     []float64
	Optimizer  []byte
	BestParams []float64
	Best       float64
	BestEpoch  int
	Bad        int
	Done       bool
	StopReason string
	History    []EpochStats
}

// save writes the checkpoint of the current state, if checkpointing.
func (r *trainRun) save(ctx context.Context) error {
	if r.ckpt == nil {
		return nil
	}
	opt, err := r.opt.MarshalBinary()
	if err != nil {
		return err
	}
	es := r.stop.State()
	var b bytes.Buffer
	b.WriteString(checkpointMagic)
	err = gob.NewEncoder(&b).Encode(checkpoint{Version: checkpointVersion, ConfigHash: r.cfgHash, DataHash: r.dataHash,
		Epoch: r.epoch, Params: r.net.Params(), Optimizer: opt, BestParams: r.bestParams, Best: es.Best,
		BestEpoch: es.BestEpoch, Bad: es.Bad, Done: es.Done, StopReason: es.StopReason, History: r.history})
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := r.ckpt.SaveCheckpoint(ctx, r.in.JobID, b.Bytes()); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// resume restores the job's checkpoint, if any, and returns its epoch.
func (r *trainRun) resume(ctx context.Context) (int, error) {
	if r.ckpt == nil {
		return 0, nil
	}
	data, found, err := r.ckpt.LoadCheckpoint(ctx, r.in.JobID)
	if err != nil {
		return 0, fmt.Errorf("load checkpoint: %w", err)
	}
	if !found {
		return 0, nil
	}
	rest, ok := bytes.CutPrefix(data, []byte(checkpointMagic))
	if !ok {
		return 0, fmt.Errorf("%w: the stored checkpoint is not an orrery checkpoint", ErrCheckpointMismatch)
	}
	var c checkpoint
	if err := gob.NewDecoder(bytes.NewReader(rest)).Decode(&c); err != nil {
		return 0, fmt.Errorf("%w: decode checkpoint: %w", ErrCheckpointMismatch, err)
	}
	switch {
	case c.Version != checkpointVersion:
		return 0, fmt.Errorf("%w: checkpoint version %d, this code reads %d", ErrCheckpointMismatch, c.Version, checkpointVersion)
	case c.ConfigHash != r.cfgHash:
		return 0, fmt.Errorf("%w: the checkpoint was written for a different configuration (hash %.12s, now %.12s)", ErrCheckpointMismatch, c.ConfigHash, r.cfgHash)
	case c.DataHash != r.dataHash:
		return 0, fmt.Errorf("%w: the checkpoint was written for different training or validation data (hash %.12s, now %.12s)", ErrCheckpointMismatch, c.DataHash, r.dataHash)
	case c.Epoch < 1 || c.Epoch > r.cfg.Epochs || len(c.History) != c.Epoch:
		return 0, fmt.Errorf("%w: checkpoint at epoch %d with %d epochs of history", ErrCheckpointMismatch, c.Epoch, len(c.History))
	}
	if !r.net.SetParams(c.Params) || len(c.BestParams) != len(r.bestParams) {
		return 0, fmt.Errorf("%w: checkpoint holds %d parameters, the network has %d", ErrCheckpointMismatch, len(c.Params), r.net.NumParams())
	}
	if err := r.opt.UnmarshalBinary(c.Optimizer); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrCheckpointMismatch, err)
	}
	if err := r.stop.Resume(EarlyStopState{Epoch: c.Epoch, Best: c.Best, BestEpoch: c.BestEpoch, Bad: c.Bad,
		Done: c.Done, StopReason: c.StopReason}); err != nil {
		return 0, err
	}
	copy(r.bestParams, c.BestParams)
	r.epoch, r.history = c.Epoch, c.History
	return c.Epoch, nil
}
