//go:build torch

package main

import (
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/tracking"
	"github.com/orrery-ml/orrery/trainer/batchjob"
	"github.com/orrery-ml/orrery/trainer/torch"
)

func init() {
	backends[batchjob.BackendTorch] = func(cfg batchjob.Config) batchjob.NewTrainer {
		return func(rec tracking.Recorder, ckpt training.Checkpointer) (batchjob.Trainer, error) {
			return torch.Trainer{Recorder: rec, Checkpoints: ckpt, Device: cfg.Device}, nil
		}
	}
}
