package mlflowmirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// jobKindEvaluation is the Kind of evaluation job records.
const jobKindEvaluation = "evaluation"

// sendExecutionEnd mirrors what an ended execution was about (see
// Queue.ExecutionEnded). Every call it makes deduplicates: the events
// function may queue one execution's end more than once.
func (m *Mirror) sendExecutionEnd(ctx context.Context, e store.TrackingEntry) error {
	var p subjectPayload
	if err := decodePayload(e, &p); err != nil {
		return err
	}
	job, err := m.src.Jobs.GetJob(ctx, p.ID)
	switch {
	case err == nil:
		if !job.Status.Terminal() {
			return fmt.Errorf("%w: job %s is %s", ErrNotReady, job.ID, job.Status)
		}
		if job.Kind == jobKindEvaluation {
			return m.sendEvaluation(ctx, e, true)
		}
		if err := m.logHistory(ctx, job); err != nil {
			return err
		}
		return m.sendTrainingEnd(ctx, e, true)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if m.src.Studies != nil {
		_, err := m.src.Studies.GetStudy(ctx, p.ID)
		if err == nil {
			return m.sendStudy(ctx, e)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil // a deployment's execution, or one of no Orrery record
}

// historyEpoch is what the mirror reads of one entry of a training job's
// history.json (training.EpochStats).
type historyEpoch struct {
	Epoch        int     `json:"epoch"`
	LearningRate float64 `json:"learning_rate"`
	TrainLoss    float64 `json:"train_loss"`
	ValLoss      float64 `json:"val_loss"`
	ValAUCPR     float64 `json:"val_auc_pr"`
	ValAUCROC    float64 `json:"val_auc_roc"`
	Seconds      float64 `json:"seconds"`
}

// logHistory logs a training job's per-epoch metrics from its
// jobs/<id>/history.json (nothing when the job has none: it failed before
// training) under the names the embedded runtime's progress events give
// them, at step = epoch. A point's timestamp is the job's creation plus the
// epochs' seconds so far, in milliseconds: the same on every replay, so
// the deduplication recognises every point.
func (m *Mirror) logHistory(ctx context.Context, job store.Job) error {
	key := "jobs/" + job.ID + "/history.json"
	raw, err := m.read(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var hist []historyEpoch
	if err := json.Unmarshal(raw, &hist); err != nil {
		return fmt.Errorf("%w: %s: %v", errUnknownKind, key, err)
	}
	run, err := m.trainingRun(ctx, job)
	if err != nil {
		return err
	}
	base := job.CreatedAt.UnixMilli()
	elapsed := 0.0
	var points []mlflow.Metric
	for _, h := range hist {
		elapsed += max(h.Seconds, 0)
		ts := base + int64(math.Round(elapsed*1000))
		for _, kv := range []struct {
			k string
			v float64
		}{{"loss", h.TrainLoss}, {"val_loss", h.ValLoss}, {"val_auc_pr", h.ValAUCPR}, {"val_auc_roc", h.ValAUCROC}, {"lr", h.LearningRate}} {
			if !math.IsNaN(kv.v) && !math.IsInf(kv.v, 0) {
				points = append(points, mlflow.Metric{Key: kv.k, Value: kv.v, Timestamp: ts, Step: int64(h.Epoch)})
			}
		}
	}
	return m.logMetrics(ctx, run, points, nil, true)
}
