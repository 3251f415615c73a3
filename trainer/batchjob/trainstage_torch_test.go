//go:build torch

package batchjob

import (
	"testing"

	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/trainer/torch"
)

func TestTrainingStateMachineWithBatchTrainStageTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on HTRU2 with libtorch")
	}
	checkTrainStageStateMachine(t, BackendTorch, func(rec tracking.Recorder, ckpt training.Checkpointer) (Trainer, error) {
		return torch.Trainer{Recorder: rec, Checkpoints: ckpt, Device: "cpu"}, nil
	})
}
