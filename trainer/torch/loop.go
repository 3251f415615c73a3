package torch

// This file holds the parts of the training loop that need no libtorch: the
// checks of the input, the loop's progress, the validation metrics and the
// checkpoint format. The learning-rate schedule (training.LearningRate) and
// early stopping (training.EarlyStopper) are training.ModelTrainer's own, so
// the two backends train under the same contract.

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// Backend is the name this backend writes into model manifests.
const Backend = "torch"

// plan is what a TrainInput asks for, checked: the normalised configuration,
// the loss, the network's shape and the L2 penalty or weight decay.
type plan struct {
	cfg         training.TrainingConfig
	loss        nn.Loss
	spec        nn.Spec
	opt         nn.OptimizerConfig
	l2          float64
	cfgHash     string
	dataHash    string
	initialNet  *nn.Network
	classWeight []float64
}

// newPlan checks in and derives the plan, with the errors of
// training.ModelTrainer: training.ErrInvalidConfig for settings,
// training.ErrInvalidExamples for data.
func newPlan(in training.TrainInput) (*plan, error) {
	cfg, err := in.Config.Normalize()
	if err != nil {
		return nil, err
	}
	if err := in.Check(); err != nil {
		return nil, err
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
		return nil, fmt.Errorf("%w: loss_function: %w", training.ErrInvalidConfig, err)
	}
	outputs := in.Classes
	if loss == nn.BinaryCrossEntropy {
		if in.Classes != 2 {
			return nil, fmt.Errorf("%w: loss_function: binary_cross_entropy needs 2 classes, the data has %d", training.ErrInvalidConfig, in.Classes)
		}
		outputs = 1
	}
	if err := loss.Check(outputs, in.ClassWeights); err != nil {
		return nil, fmt.Errorf("%w: class weights: %w", training.ErrInvalidExamples, err)
	}
	spec := nn.Spec{ModelType: cfg.ModelType, Inputs: in.Train.Features, Hidden: cfg.HiddenLayers,
		Outputs: outputs, Activation: cfg.Activation, Dropout: cfg.DropoutRate}
	if cfg.ModelType == training.ModelLogisticRegression {
		spec.Hidden = nil
	}
	// The initial weights are the pure-Go engine's for the same seed, so both
	// backends start from the same point.
	net, err := nn.New(spec, uint64(cfg.Seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", training.ErrInvalidConfig, err)
	}
	opt := nn.OptimizerConfig{Name: cfg.Optimizer, Momentum: cfg.Momentum}
	l2 := cfg.Regularization
	if cfg.Optimizer == nn.AdamW {
		opt.WeightDecay, l2 = cfg.Regularization, 0
	}
	if _, err := nn.NewOptimizer(opt, net); err != nil {
		return nil, fmt.Errorf("%w: %w", training.ErrInvalidConfig, err)
	}
	p := &plan{cfg: cfg, loss: loss, spec: spec, opt: opt, l2: l2, initialNet: net, classWeight: in.ClassWeights}
	p.cfgHash, p.dataHash = training.Fingerprint(cfg, in, Backend)
	return p, nil
}

// progress is the loop's state between mini-batches besides the tensors
// and the early stopping.
type progress struct {
	// Epoch is the last finished epoch; Batch the mini-batches done of the
	// next one (non-zero only in a checkpoint written on cancellation), and
	// LossSum their summed loss times rows.
	Epoch   int
	Batch   int
	LossSum float64
	History []training.EpochStats
}

// finish records a finished epoch's statistics.
func (p *progress) finish(s training.EpochStats) {
	p.History = append(p.History, s)
	p.Epoch, p.Batch, p.LossSum = s.Epoch, 0, 0
}

// savedProgress is a progress and the early-stopping state after its Epoch
// as a checkpoint stores them: one flat record, whose field names are the
// encoding.
type savedProgress struct {
	Epoch      int
	Batch      int
	LossSum    float64
	History    []training.EpochStats
	Best       float64
	BestEpoch  int
	Bad        int
	Done       bool
	StopReason string
}

// saveProgress returns the record of p and es.
func saveProgress(p progress, es training.EarlyStopState) savedProgress {
	return savedProgress{Epoch: p.Epoch, Batch: p.Batch, LossSum: p.LossSum, History: p.History,
		Best: es.Best, BestEpoch: es.BestEpoch, Bad: es.Bad, Done: es.Done, StopReason: es.StopReason}
}

// split returns the progress and the early-stopping state s records.
func (s savedProgress) split() (progress, training.EarlyStopState) {
	return progress{Epoch: s.Epoch, Batch: s.Batch, LossSum: s.LossSum, History: s.History},
		training.EarlyStopState{Epoch: s.Epoch, Best: s.Best, BestEpoch: s.BestEpoch, Bad: s.Bad, Done: s.Done, StopReason: s.StopReason}
}

// validationMetrics scores logits as training.ModelTrainer does (see
// training.ValidationScorer).
func validationMetrics(loss nn.Loss, logits []float64, outputs int, y []int, classWeights []float64) (lossValue, aucPR, aucROC float64, err error) {
	var s training.ValidationScorer
	return s.Score(loss, logits, outputs, y, classWeights)
}

// checkpointVersion is the version of the checkpoint encoding.
const checkpointVersion = 1

// checkpointMagic starts every checkpoint of this backend; it differs from
// the pure-Go engine's, so neither backend resumes from the other's state.
const checkpointMagic = "orrery-torch-checkpoint\n"

// checkpoint is a training job's state, after an epoch or between
// mini-batches when training was cancelled.
type checkpoint struct {
	Version    int
	ConfigHash string
	DataHash   string
	Progress   savedProgress
	// Params, BestParams and the optimizer buffers are in the layout of
	// nn.Network.Params, in float32 as the backend trains.
	Params     []float32
	BestParams []float32
	Optimizer  optimizerState
}

// optimizerState is an optimizer's step count and moment buffers (nil when
// the optimizer has none).
type optimizerState struct {
	Name string
	Step int64
	M, V []float32
}

// encodeCheckpoint serialises c.
func encodeCheckpoint(c checkpoint) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(checkpointMagic)
	c.Version = checkpointVersion
	if err := gob.NewEncoder(&b).Encode(c); err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	return b.Bytes(), nil
}

// decodeCheckpoint parses data and checks that it belongs to the plan: the
// same configuration and data, a network of nparams parameters, an epoch
// within the plan. Anything else wraps training.ErrCheckpointMismatch.
func decodeCheckpoint(data []byte, p *plan, nparams int) (checkpoint, error) {
	rest, ok := bytes.CutPrefix(data, []byte(checkpointMagic))
	if !ok {
		return checkpoint{}, fmt.Errorf("%w: the stored checkpoint is not a %s-backend checkpoint", training.ErrCheckpointMismatch, Backend)
	}
	var c checkpoint
	if err := gob.NewDecoder(bytes.NewReader(rest)).Decode(&c); err != nil {
		return checkpoint{}, fmt.Errorf("%w: decode checkpoint: %w", training.ErrCheckpointMismatch, err)
	}
	pr := c.Progress
	switch {
	case c.Version != checkpointVersion:
		return checkpoint{}, fmt.Errorf("%w: checkpoint version %d, this code reads %d", training.ErrCheckpointMismatch, c.Version, checkpointVersion)
	case c.ConfigHash != p.cfgHash:
		return checkpoint{}, fmt.Errorf("%w: the checkpoint was written for a different configuration (hash %.12s, now %.12s)", training.ErrCheckpointMismatch, c.ConfigHash, p.cfgHash)
	case c.DataHash != p.dataHash:
		return checkpoint{}, fmt.Errorf("%w: the checkpoint was written for different training or validation data (hash %.12s, now %.12s)", training.ErrCheckpointMismatch, c.DataHash, p.dataHash)
	case pr.Epoch < 0 || pr.Epoch > p.cfg.Epochs || len(pr.History) != pr.Epoch || pr.Batch < 0:
		return checkpoint{}, fmt.Errorf("%w: checkpoint at epoch %d (batch %d) with %d epochs of history", training.ErrCheckpointMismatch, pr.Epoch, pr.Batch, len(pr.History))
	case len(c.Params) != nparams || len(c.BestParams) != nparams:
		return checkpoint{}, fmt.Errorf("%w: checkpoint holds %d parameters, the network has %d", training.ErrCheckpointMismatch, len(c.Params), nparams)
	case c.Optimizer.Name != p.opt.Name || (c.Optimizer.M != nil && len(c.Optimizer.M) != nparams) || (c.Optimizer.V != nil && len(c.Optimizer.V) != nparams):
		return checkpoint{}, fmt.Errorf("%w: checkpoint holds %s optimizer state for %d parameters", training.ErrCheckpointMismatch, c.Optimizer.Name, len(c.Optimizer.M))
	}
	return c, nil
}

// netFromParams builds the nn.Network of spec holding params (float32, in
// the layout of nn.Network.Params).
func netFromParams(spec nn.Spec, params []float32) (*nn.Network, error) {
	net, err := nn.New(spec, 0)
	if err != nil {
		return nil, err
	}
	p64 := make([]float64, len(params))
	for i, v := range params {
		p64[i] = float64(v)
	}
	if !net.SetParams(p64) {
		return nil, fmt.Errorf("torch: %d parameters for a network of %d", len(params), net.NumParams())
	}
	return net, nil
}
