package training

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/nn"

	"github.com/orrery-ml/orrery/shared/tracking"
)

// BackendGonum is the name of the pure-Go training backend (ModelTrainer),
// the one a TrainingPipeline uses when it is given no other.
const BackendGonum = "gonum"

// Trainer trains one network. ModelTrainer satisfies it, and so does the
// libtorch backend's Trainer (trainer/torch): both take the same TrainInput
// and return a TrainResult holding an nn.Network, so the stages after
// training never know which backend ran.
type Trainer interface {
	Train(ctx context.Context, in TrainInput) (*TrainResult, error)
}

var _ Trainer = ModelTrainer{}

// NewTrainerFunc makes a backend's Trainer for one job, reporting progress
// to rec and checkpointing to ckpt.
type NewTrainerFunc func(rec tracking.Recorder, ckpt Checkpointer) (Trainer, error)

// newModelTrainer is the default backend: ModelTrainer.
func newModelTrainer(rec tracking.Recorder, ckpt Checkpointer) (Trainer, error) {
	return ModelTrainer{Recorder: rec, Checkpoints: ckpt}, nil
}

// trainerBackend returns the pipeline's backend name and trainer factory:
// Backend and NewTrainer when NewTrainer is set (Backend defaulting to
// BackendGonum), ModelTrainer and BackendGonum otherwise — a Backend name
// without its NewTrainer is ignored, so a manifest never names a backend
// that did not train the model.
func (p *TrainingPipeline) trainerBackend() (string, NewTrainerFunc) {
	if p.NewTrainer == nil {
		return BackendGonum, newModelTrainer
	}
	if p.Backend == "" {
		return BackendGonum, p.NewTrainer
	}
	return p.Backend, p.NewTrainer
}

// LargeNetworkMACs returns the size, in multiply-adds per sample through
// the network (NetworkMACs), from which auto hands a network to libtorch
// where the binary has it: the size where the pure-Go engine's lead over
// PyTorch's CPU eager mode ends on this CPU, from `make bench`'s MLP rows
// (per CPU-second, 1 thread). With the AVX-512 kernel it was still ahead at
// the largest network measured, 10-2048-2048-1 (4.2M multiply-adds): 2^22.
// With the AVX2 kernel it was at 0.92× on 10-256-256-1 (68k): 2^16.
func LargeNetworkMACs() int {
	if strings.HasPrefix(nn.Float32Kernel(), "avx512") {
		return 1 << 22
	}
	return 1 << 16
}

// LargeNetworks is the backend a pipeline hands the networks the gonum
// engine is not the best for, when the binary has one (the trainer's
// torch build): TrainingPipeline.Large.
type LargeNetworks struct {
	// Backend names it (in the model manifest and the training summary).
	Backend    string
	NewTrainer NewTrainerFunc
	// MinMACs is the size from which a network goes to it, in
	// multiply-adds per sample; 0 means LargeNetworkMACs().
	MinMACs int
}

// NetworkMACs returns the multiply-adds per sample of a network with the
// given layer widths (inputs, hidden..., outputs): Σ widths[l]·widths[l+1].
func NetworkMACs(widths []int) int {
	total := 0
	for l := 1; l < len(widths); l++ {
		total += widths[l-1] * widths[l]
	}
	return total
}

// backendChoice is the backend a network trains with and why.
type backendChoice struct {
	name       string
	newTrainer NewTrainerFunc
	reason     string
}

// chooseBackend picks the backend of a network of the given widths: the
// pipeline's own (trainerBackend) unless it is gonum and Large is set and
// the network has at least Large.MinMACs multiply-adds per sample. The
// reason says which and why, with the figures.
func (p *TrainingPipeline) chooseBackend(widths []int) backendChoice {
	name, newTrainer := p.trainerBackend()
	if p.Large == nil || p.Large.NewTrainer == nil || name != BackendGonum {
		return backendChoice{name: name, newTrainer: newTrainer, reason: "the trainer's configured backend"}
	}
	limit := p.Large.MinMACs
	if limit <= 0 {
		limit = LargeNetworkMACs()
	}
	macs := NetworkMACs(widths)
	if macs < limit {
		return backendChoice{name: name, newTrainer: newTrainer,
			reason: fmt.Sprintf("%d multiply-adds per sample, below the %d from which %s trains: the pure-Go engine is faster there", macs, limit, p.Large.Backend)}
	}
	return backendChoice{name: p.Large.Backend, newTrainer: p.Large.NewTrainer,
		reason: fmt.Sprintf("%d multiply-adds per sample, at least %d: too large for the pure-Go engine to stay ahead, trained with %s", macs, limit, p.Large.Backend)}
}

// sayBackend records the choice as a log event of the train stage.
func (s *stageRun) sayBackend(ctx context.Context, c backendChoice) {
	if s.rec == nil {
		return
	}
	_ = s.rec.Record(ctx, tracking.Event{JobID: s.refs.JobID, Kind: tracking.Log, Stage: StageTrain,
		Message: fmt.Sprintf("training backend %s: %s", c.name, c.reason), Time: time.Now().UTC()})
}
