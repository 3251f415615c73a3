package training

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/orrery-ml/orrery/shared/ml/evaluation"
	"github.com/orrery-ml/orrery/shared/ml/nn"
	"github.com/orrery-ml/orrery/shared/ml/trees"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// OOBScore is a random forest's out-of-bag estimate: every training row
// scored by the trees that did not see it.
type OOBScore struct {
	// Rows is the number of training rows left out by at least one tree.
	Rows     int     `json:"rows"`
	Accuracy float64 `json:"accuracy"`
	// AUCROC is the out-of-bag ROC AUC of a binary task (macro one-vs-rest
	// for more classes).
	AUCROC float64 `json:"auc_roc"`
}

// TreeTrainer trains the tree ensembles of shared/ml/trees — model types
// gradient_boosting and random_forest — from the same TrainInput as the
// network trainers, reporting to Recorder (nil: tracking.Discard). Missing
// values (NaN) in the examples are kept: the trees learn where to send
// them. Tree training is fast enough not to checkpoint.
//
// Boosting validates after every iteration, reports a tracking.Progress
// event (val_loss, val_auc_pr, val_auc_roc) every ProgressEvery
// iterations — the intermediate values an optimization study prunes on —
// and early-stops on Config.EarlyStop like the network trainers, keeping
// the best iteration's trees. A forest reports its validation figures once,
// and its out-of-bag score.
type TreeTrainer struct {
	Recorder tracking.Recorder
	// ProgressEvery is the number of boosting iterations between progress
	// events; 0 means max(1, max_iter/100).
	ProgressEvery int
	// Workers bounds the goroutines; 0: GOMAXPROCS.
	Workers int
}

var _ Trainer = TreeTrainer{}

// Train fits the ensemble in.Config.ModelType names.
func (t TreeTrainer) Train(ctx context.Context, in TrainInput) (*TrainResult, error) {
	rec := t.Recorder
	if rec == nil {
		rec = tracking.Discard
	}
	cfg, err := in.Config.Normalize()
	if err != nil {
		return nil, fmt.Errorf("train job %s: %w", in.JobID, err)
	}
	if !IsTree(cfg.ModelType) {
		return nil, fmt.Errorf("train job %s: %w: model_type: %s is not a tree ensemble", in.JobID, ErrInvalidConfig, cfg.ModelType)
	}
	if err := in.check(true); err != nil {
		return nil, fmt.Errorf("train job %s: %w", in.JobID, err)
	}
	run := &treeRun{in: in, cfg: cfg, rec: rec, workers: t.Workers}
	var res *TrainResult
	if cfg.ModelType == ModelGradientBoosting {
		res, err = run.boost(ctx, t.ProgressEvery)
	} else {
		res, err = run.forest(ctx)
	}
	if err != nil {
		run.record(context.WithoutCancel(ctx), tracking.Event{Kind: tracking.StageFinished, Err: err.Error()})
		return nil, fmt.Errorf("train job %s: %w", in.JobID, err)
	}
	res.Spec = nn.TreeSpec(res.Trees)
	if run.recordErrors > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("recording progress failed %d times; first error: %v", run.recordErrors, run.firstRecErr))
	}
	return res, nil
}

type treeRun struct {
	in           TrainInput
	cfg          TrainingConfig
	rec          tracking.Recorder
	workers      int
	recordErrors int
	firstRecErr  error
}

func (r *treeRun) record(ctx context.Context, e tracking.Event) {
	e.JobID, e.Stage, e.Time = r.in.JobID, "train", time.Now().UTC()
	if err := r.rec.Record(ctx, e); err != nil {
		r.recordErrors++
		if r.firstRecErr == nil {
			r.firstRecErr = err
		}
	}
}

func data(e Examples, classes int) trees.Data {
	return trees.Data{X: e.X, Y: e.Y, W: e.W, Features: e.Features, Classes: classes}
}

func (r *treeRun) boost(ctx context.Context, every int) (*TrainResult, error) {
	cfg := r.cfg
	o := trees.BoostOptions{MaxIter: cfg.MaxIter, LearningRate: cfg.LearningRate, MaxLeaves: cfg.MaxLeaves, MaxDepth: cfg.MaxDepth,
		MinSamplesLeaf: cfg.MinSamplesLeaf, L2: cfg.L2Regularization, Subsample: cfg.Subsample, Colsample: cfg.Colsample,
		ClassWeights: r.in.ClassWeights, Seed: uint64(cfg.Seed), Workers: r.workers}
	stop, err := NewEarlyStopper(cfg.EarlyStop, cfg.MaxIter)
	if err != nil {
		return nil, err
	}
	if every <= 0 {
		every = max(1, cfg.MaxIter/100)
	}
	var history []EpochStats
	start := time.Now()
	last := start
	r.record(ctx, tracking.Event{Kind: tracking.StageStarted, Total: cfg.MaxIter, Unit: "iteration"})
	val := r.in.Validation
	o.Monitor = func(it int, proba []float64) (bool, error) {
		s := EpochStats{Epoch: it, LearningRate: cfg.LearningRate}
		s.ValLoss, s.ValAUCPR, s.ValAUCROC = scoreProba(proba, r.in.Classes, val.Y, r.in.ClassWeights)
		now := time.Now()
		s.Seconds, last = now.Sub(last).Seconds(), now
		history = append(history, s)
		step, err := stop.Observe(s)
		if err != nil {
			return false, err
		}
		if it%every == 0 || step.Stop {
			eta := tracking.ETA(time.Since(start), it, cfg.MaxIter)
			r.record(ctx, tracking.Event{Kind: tracking.Progress, Step: it, Total: cfg.MaxIter, Unit: "iteration",
				ETASeconds: eta.Seconds(), Metrics: map[string]float64{"val_loss": s.ValLoss, "val_auc_pr": s.ValAUCPR,
					"val_auc_roc": s.ValAUCROC, "lr": cfg.LearningRate}})
		}
		return step.Stop, nil
	}
	m, err := trees.Boost(ctx, data(r.in.Train, r.in.Classes), data(val, r.in.Classes), o)
	if err != nil {
		return nil, err
	}
	best, restore, reason := stop.Outcome()
	if restore {
		m.Truncate(best)
	} else {
		best = len(history)
	}
	r.record(ctx, tracking.Event{Kind: tracking.StageFinished, Step: len(history), Total: cfg.MaxIter, Unit: "iteration",
		Message: reason, Metrics: map[string]float64{"best_epoch": float64(best)}})
	return &TrainResult{Trees: m, History: history, BestEpoch: best, EpochsRun: len(history), StopReason: reason}, nil
}

func (r *treeRun) forest(ctx context.Context) (*TrainResult, error) {
	cfg, in := r.cfg, r.in
	mf := cfg.MaxFeatures
	if mf.Rule == "" && mf.Value >= 1 && int(mf.Value) > in.Train.Features {
		return nil, bad("max_features", "%v is more than the %d features", mf.Value, in.Train.Features)
	}
	o := trees.ForestOptions{NEstimators: cfg.NEstimators, MaxFeatures: mf.Count(in.Train.Features), MaxDepth: cfg.MaxDepth,
		MinSamplesLeaf: cfg.MinSamplesLeaf, Bootstrap: *cfg.Bootstrap, ClassWeights: in.ClassWeights, Seed: uint64(cfg.Seed), Workers: r.workers}
	r.record(ctx, tracking.Event{Kind: tracking.StageStarted, Total: cfg.NEstimators, Unit: "tree"})
	start := time.Now()
	fr, err := trees.Forest(ctx, data(in.Train, in.Classes), o)
	if err != nil {
		return nil, err
	}
	val := in.Validation
	proba := fr.Model.PredictProba(val.X, val.Rows, nil)
	s := EpochStats{Epoch: 1, Seconds: time.Since(start).Seconds()}
	s.ValLoss, s.ValAUCPR, s.ValAUCROC = scoreProba(proba, in.Classes, val.Y, in.ClassWeights)
	res := &TrainResult{Trees: fr.Model, History: []EpochStats{s}, BestEpoch: 1, EpochsRun: 1, StopReason: StopMaxEpochs}
	metrics := map[string]float64{"val_loss": s.ValLoss, "val_auc_pr": s.ValAUCPR, "val_auc_roc": s.ValAUCROC}
	if fr.OOBProba != nil {
		res.OOB = oobScore(fr, in.Train.Y, in.Classes)
		metrics["oob_accuracy"], metrics["oob_auc_roc"] = res.OOB.Accuracy, res.OOB.AUCROC
	}
	r.record(ctx, tracking.Event{Kind: tracking.Progress, Step: 1, Total: 1, Unit: "forest", Metrics: metrics})
	r.record(ctx, tracking.Event{Kind: tracking.StageFinished, Step: 1, Total: 1, Unit: "forest", Message: StopMaxEpochs})
	return res, nil
}

// oobScore scores the rows with out-of-bag predictions.
func oobScore(fr *trees.ForestResult, y []int, classes int) *OOBScore {
	var rows []int
	for r, t := range fr.OOBTrees {
		if t > 0 {
			rows = append(rows, r)
		}
	}
	s := &OOBScore{Rows: len(rows)}
	if len(rows) == 0 {
		s.Accuracy, s.AUCROC = math.NaN(), math.NaN()
		return s
	}
	proba := make([]float64, 0, len(rows)*classes)
	ys := make([]int, 0, len(rows))
	ok := 0
	for _, r := range rows {
		p := fr.OOBProba[r*classes : (r+1)*classes]
		proba = append(proba, p...)
		ys = append(ys, y[r])
		if argmax(p) == y[r] {
			ok++
		}
	}
	s.Accuracy = float64(ok) / float64(len(rows))
	_, _, s.AUCROC = scoreProba(proba, classes, ys, nil)
	return s
}

func argmax(p []float64) int {
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}

// scoreProba returns the class-weighted log-loss of probabilities (rows ×
// classes) against y and their average precision and ROC AUC (macro
// one-vs-rest averages over the classes present for more than two), the
// figures ValidationScorer gives for networks.
func scoreProba(proba []float64, classes int, y []int, classWeights []float64) (loss, aucPR, aucROC float64) {
	var total, norm float64
	for i, c := range y {
		w := 1.0
		if classWeights != nil {
			w = classWeights[c]
		}
		total -= w * math.Log(math.Max(proba[i*classes+c], 1e-15))
		norm += w
	}
	loss = total / norm
	score := make([]float64, len(y))
	column := func(k int) {
		for i := range score {
			score[i] = proba[i*classes+k]
		}
	}
	if classes == 2 {
		column(1)
		return loss, evaluation.AveragePrecision(y, score), evaluation.BinaryAUCROC(y, score)
	}
	onehot := make([]int, len(y))
	var n float64
	for k := range classes {
		column(k)
		for i, label := range y {
			onehot[i] = 0
			if label == k {
				onehot[i] = 1
			}
		}
		pr, roc := evaluation.AveragePrecision(onehot, score), evaluation.BinaryAUCROC(onehot, score)
		if math.IsNaN(pr) || math.IsNaN(roc) {
			continue
		}
		aucPR += pr
		aucROC += roc
		n++
	}
	return loss, aucPR / n, aucROC / n
}
