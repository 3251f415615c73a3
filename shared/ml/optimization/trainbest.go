package optimization

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/ml/training"
	"github.com/orrery-ml/orrery/shared/store"
)

// ErrNoCompleteTrial is returned by TrialConfig when the trial asked for
// has not completed (or, for the best trial, when none has).
var ErrNoCompleteTrial = fault.New(fault.Conflict, "optimization: no complete trial")

// BestTrialNumber asks TrialConfig for the study's best trial.
const BestTrialNumber = -1

// TrialConfig returns the TrainingConfig that trial number (BestTrialNumber:
// the best complete trial of a single-objective study) trained with: the
// study's base configuration with the trial's params applied, exactly as
// the trial's objective built it — the starting point of a training job
// that turns the trial into a registered model.
func TrialConfig(ctx context.Context, st Stores, studyID string, number int) (training.TrainingConfig, Trial, error) {
	_, spec, s, err := LoadSpec(ctx, st, studyID)
	if err != nil {
		return training.TrainingConfig{}, Trial{}, err
	}
	if spec.Base == nil {
		return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: %w: no base_config", studyID, ErrInvalidStudy)
	}
	var t Trial
	if number == BestTrialNumber {
		if len(s.Directions) != 1 {
			return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: %w: %d objectives have no single best trial; name one (STUDY/N)",
				studyID, ErrInvalidStudy, len(s.Directions))
		}
		b, ok := s.Best()
		if !ok {
			return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: %w", studyID, ErrNoCompleteTrial)
		}
		t = b
	} else {
		p := s.Trial(number)
		if p == nil {
			return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: trial %d: %w", studyID, number, store.ErrNotFound)
		}
		if p.State != store.TrialComplete {
			return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: trial %d is %s: %w", studyID, number, p.State, ErrNoCompleteTrial)
		}
		t = *p
	}
	cfg, err := TrainingObjective{Base: *spec.Base}.Config(t.Params)
	if err != nil {
		return training.TrainingConfig{}, Trial{}, fmt.Errorf("trial config of study %s: trial %d: %w", studyID, t.Number, err)
	}
	if cfg.Name == "" {
		cfg.Name = fmt.Sprintf("%s-trial-%d", studyID, t.Number)
	}
	return cfg, t, nil
}

// ErrStudyFinished is returned by CancelStudy for a study that has already
// ended (SUCCEEDED, FAILED or CANCELLED); the message names its status.
var ErrStudyFinished = fault.New(fault.Conflict, "optimization: study has finished")

// studyCancelled is the error of a step that finds its study CANCELLED
// (CancelStudy ran while the execution did). It is coded fault.Cancelled,
// so the state machine records it and ends the execution without alerting
// anyone (a user's cancel is not an incident), and it is ErrStudyFinished
// to errors.Is.
type studyCancelled struct{ msg string }

func (e studyCancelled) Error() string       { return e.msg + ": it was cancelled" }
func (studyCancelled) FaultCode() fault.Code { return fault.Cancelled }
func (studyCancelled) Is(target error) bool  { return target == ErrStudyFinished }

// CancelStudy marks a RUNNING (or QUEUED) study CANCELLED with reason, by a
// conditional write: its finished trials stay, and the study's execution,
// which the caller stops, can no longer mark it FAILED or SUCCEEDED (see
// MarkFailed and Finalize). A study that has ended is ErrStudyFinished; an
// unknown one store.ErrNotFound.
func CancelStudy(ctx context.Context, st Stores, id, reason string) (store.Study, error) {
	if err := st.check("cancel", id); err != nil {
		return store.Study{}, err
	}
	for range 10 {
		cur, err := st.Studies.GetStudy(ctx, id)
		if err != nil {
			return store.Study{}, fmt.Errorf("cancel study %s: %w", id, err)
		}
		if cur.Status != store.Running && cur.Status != store.Queued {
			return cur, fmt.Errorf("cancel study %s: it is %s: %w", id, cur.Status, ErrStudyFinished)
		}
		var state studyState
		if len(cur.State) > 0 {
			_ = json.Unmarshal(cur.State, &state)
		}
		state.Outcome = &outcome{StopReason: "cancelled", Error: fault.Cancelled.Name(), Cause: reason}
		b, err := json.Marshal(state)
		if err != nil {
			return store.Study{}, fmt.Errorf("cancel study %s: encode state: %w", id, err)
		}
		updated, err := st.Studies.UpdateStudy(ctx, id, cur.Version, store.StudyUpdate{Status: store.Cancelled, State: b})
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return store.Study{}, fmt.Errorf("cancel study %s: %w", id, err)
		}
		return updated, nil
	}
	return store.Study{}, fmt.Errorf("cancel study %s: too many concurrent writers: %w", id, store.ErrConflict)
}
