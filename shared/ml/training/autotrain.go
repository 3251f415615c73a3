package training

import (
	"context"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/dataset"
	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
)

// treeExamples is examples for a tree ensemble: the same transform, with
// missing values left missing (nn.Preprocessing.ApplyKeepMissing), as
// nn.Model.PredictProba gives a tree model.
func (p *TrainingPipeline) treeExamples(prep nn.Preprocessing, d *dataset.Dataset) (Examples, error) {
	if err := prep.Check(); err != nil {
		return Examples{}, fmt.Errorf("transform: %w", err)
	}
	if d.Features() != prep.Features() {
		return Examples{}, fmt.Errorf("transform: %w: the preprocessing expects %d features, data set with target %q has %d",
			ErrFeatureMismatch, prep.Features(), d.Target, d.Features())
	}
	x := make([]float64, len(d.X))
	copy(x, d.X)
	prep.ApplyKeepMissing(x)
	return Examples{X: x, Y: d.Y, W: d.Weights, Rows: d.Rows, Features: len(d.FeatureNames)}, nil
}

func (p *TrainingPipeline) splits(pp preprocessing, d *jobData, tree bool) (train, val Examples, err error) {
	ex := p.examples
	if tree {
		ex = p.treeExamples
	} else if d.transformInPlace {
		ex = func(prep nn.Preprocessing, d *dataset.Dataset) (Examples, error) { return p.examplesOf(prep, d, true) }
	}
	if train, err = ex(pp.Transform, d.split.Train); err != nil {
		return
	}
	val, err = ex(pp.Transform, d.split.Validation)
	return
}

// trainNetwork trains an mlp or logistic_regression with the pipeline's
// backend, checkpointing to the artifact store.
func (p *TrainingPipeline) trainNetwork(ctx context.Context, s *stageRun, pp preprocessing, d *jobData, in TrainInput) (*TrainResult, string, error) {
	train, val, err := p.splits(pp, d, false)
	if err != nil {
		return nil, "", err
	}
	choice := p.chooseBackend(networkWidths(s.cfg, train.Features, in.Classes))
	backend, newTrainer := choice.name, choice.newTrainer
	s.backendReason = choice.reason
	s.sayBackend(ctx, choice)
	if train.W != nil && backend != BackendGonum {
		return nil, backend, fmt.Errorf("%w: sample_weight: %s weighs the loss in the gonum backend only; this job trains with %s",
			ErrInvalidConfig, s.cfg.SampleWeight, backend)
	}
	trainer, err := newTrainer(s.rec, artifactCheckpointer{a: p.Artifacts, backend: backend})
	if err != nil {
		return nil, backend, fmt.Errorf("%s backend: %w", backend, err)
	}
	in.Train, in.Validation = train, val
	res, err := trainer.Train(ctx, in)
	return res, backend, err
}

// trainTrees trains a tree ensemble (pure Go, whatever the backend).
func (p *TrainingPipeline) trainTrees(ctx context.Context, s *stageRun, pp preprocessing, d *jobData, in TrainInput) (*TrainResult, error) {
	train, val, err := p.splits(pp, d, true)
	if err != nil {
		return nil, err
	}
	in.Train, in.Validation = train, val
	return TreeTrainer{Recorder: s.rec}.Train(ctx, in)
}

// AutoCandidate is one model model_type auto trained, scored on the
// validation split.
type AutoCandidate struct {
	ModelType string  `json:"model_type"`
	ValAUCROC float64 `json:"val_auc_roc"`
	ValAUCPR  float64 `json:"val_auc_pr"`
	ValLoss   float64 `json:"val_loss"`
	BestEpoch int     `json:"best_epoch"`
	Seconds   float64 `json:"seconds"`
}

// AutoComparison is how model_type auto chose: both candidates, the test
// (DeLong's for the ROC AUCs of a binary task; for more classes the
// validation loss decides and Test is empty), and the model kept.
type AutoComparison struct {
	Candidates []AutoCandidate `json:"candidates"`
	Test       string          `json:"test,omitempty"`
	Z          float64         `json:"z,omitempty"`
	PValue     float64         `json:"p_value,omitempty"`
	// Significant says the difference is significant at the 0.05 level.
	Significant bool   `json:"significant"`
	Chosen      string `json:"chosen"`
	Reason      string `json:"reason"`
}

// trainAuto trains the mlp (with the pipeline's backend) and a
// gradient_boosting model (learning_rate BoostedLearningRate, the tree
// settings of the config) on the same split, compares their validation
// ROC AUCs with DeLong's test (binary tasks) and keeps the higher — on a
// tie the boosted model, the cheaper to serve. More than two classes:
// the lower validation log-loss.
func (p *TrainingPipeline) trainAuto(ctx context.Context, s *stageRun, pp preprocessing, d *jobData, in TrainInput) (*TrainResult, *AutoComparison, string, error) {
	mlpIn := in
	mlpIn.Config.ModelType, mlpIn.Config.TreeSettings = ModelMLP, TreeSettings{}
	mlp, backend, err := p.trainNetwork(ctx, s, pp, d, mlpIn)
	if err != nil {
		return nil, nil, "", fmt.Errorf("auto: mlp: %w", err)
	}
	gbIn := in
	gbIn.Config.ModelType, gbIn.Config.LearningRate, gbIn.Config.HiddenLayers = ModelGradientBoosting, BoostedLearningRate, nil
	gb, err := p.trainTrees(ctx, s, pp, d, gbIn)
	if err != nil {
		return nil, nil, "", fmt.Errorf("auto: gradient_boosting: %w", err)
	}
	candidate := func(t string, r *TrainResult) AutoCandidate {
		b := r.History[r.BestEpoch-1]
		secs := 0.0
		for _, h := range r.History {
			secs += h.Seconds
		}
		return AutoCandidate{ModelType: t, ValAUCROC: b.ValAUCROC, ValAUCPR: b.ValAUCPR, ValLoss: b.ValLoss, BestEpoch: r.BestEpoch, Seconds: secs}
	}
	cmp := &AutoComparison{Candidates: []AutoCandidate{candidate(ModelMLP, mlp), candidate(ModelGradientBoosting, gb)}}
	// Validation probabilities of both, on the rows each was validated on.
	_, mval, err := p.splits(pp, d, false)
	if err != nil {
		return nil, nil, "", err
	}
	_, tval, err := p.splits(pp, d, true)
	if err != nil {
		return nil, nil, "", err
	}
	pm := mlp.Net.PredictProba(mval.X, mval.Rows, nil)
	pt := gb.Trees.PredictProba(tval.X, tval.Rows, nil)
	keepTrees := false
	if in.Classes == 2 {
		sm, st := column(pm, 2, 1), column(pt, 2, 1)
		r, err := evaluation.DeLong(mval.Y, sm, st)
		if err != nil {
			return nil, nil, "", fmt.Errorf("auto: compare: %w", err)
		}
		cmp.Test, cmp.Z, cmp.PValue, cmp.Significant = "delong", r.Z, r.PValue, r.PValue < 0.05
		keepTrees = r.AUC2 >= r.AUC1
		cmp.Reason = fmt.Sprintf("validation ROC AUC mlp %.4f, gradient_boosting %.4f (DeLong p = %.3g)", r.AUC1, r.AUC2, r.PValue)
	} else {
		lm, lt := cmp.Candidates[0].ValLoss, cmp.Candidates[1].ValLoss
		keepTrees = !(lm < lt) || math.IsNaN(lm)
		cmp.Reason = fmt.Sprintf("validation log-loss mlp %.4f, gradient_boosting %.4f", lm, lt)
	}
	if keepTrees {
		cmp.Chosen = ModelGradientBoosting
		return gb, cmp, BackendGonum, nil
	}
	cmp.Chosen = ModelMLP
	return mlp, cmp, backend, nil
}

func column(p []float64, c, k int) []float64 {
	out := make([]float64, len(p)/c)
	for i := range out {
		out[i] = p[i*c+k]
	}
	return out
}

// gainImportance maps feature names to the ensemble's gain importance.
func gainImportance(m *trees.Model, names []string) map[string]float64 {
	imp := m.GainImportance()
	out := make(map[string]float64, len(imp))
	for i, v := range imp {
		if i < len(names) {
			out[names[i]] = v
		}
	}
	return out
}

// networkWidths returns the layer widths ModelTrainer gives the network of
// cfg: features inputs, the hidden layers (none for logistic regression),
// one output for binary cross-entropy, else one per class.
func networkWidths(cfg TrainingConfig, features, classes int) []int {
	widths := []int{features}
	if cfg.ModelType != ModelLogisticRegression {
		widths = append(widths, cfg.HiddenLayers...)
	}
	out := classes
	if cfg.LossFunction == "binary_cross_entropy" {
		out = 1
	}
	return append(widths, out)
}
