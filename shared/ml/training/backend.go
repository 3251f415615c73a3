package training

import (
	"context"

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
