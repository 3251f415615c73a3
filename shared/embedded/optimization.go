package embedded

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/orrery-ml/orrery/shared/ml/optimization"
	"github.com/orrery-ml/orrery/shared/ml/training"
)

// OptimizationStores returns the runtime's stores as the optimization steps
// use them.
func (r *Runtime) OptimizationStores() optimization.Stores {
	return optimization.Stores{Studies: r.DB, Trials: r.DB, Artifacts: r.Artifacts}
}

// StepRunner returns the optimization steps over the runtime's stores; a
// study's data is prepared once per runner and trials checkpoint under the
// artifacts directory, so a re-claimed trial resumes.
func (r *Runtime) StepRunner() optimization.StepRunner {
	var mu sync.Mutex
	prepared := map[string]*optimization.TrainingData{}
	return optimization.StepRunner{
		Stores: r.OptimizationStores(),
		Objective: func(ctx context.Context, id string, spec optimization.StudySpec) (optimization.Objective, error) {
			ckpt := training.DirCheckpointer{Dir: optimization.CheckpointDir(filepath.Join(r.Home, artifactsDir), id)}
			mu.Lock()
			defer mu.Unlock()
			if d, ok := prepared[id]; ok && spec.Base != nil {
				return optimization.TrainingObjective{Data: d, Base: *spec.Base, StudyID: id, Checkpoints: ckpt, Objectives: spec.Objectives}, nil
			}
			obj, err := optimization.TrainingObjectiveFor(ctx, id, spec, ckpt)
			if err != nil {
				return nil, err
			}
			prepared[id] = obj.Data
			return obj, nil
		},
	}
}
