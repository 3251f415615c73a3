package optimization

import (
	"context"
	"fmt"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Step names of StepRequest.
const (
	StepSuggest    = "suggest"
	StepTell       = "tell"
	StepFinalize   = "finalize"
	StepMarkFailed = "mark_failed"
)

// StepRequest is the input of the optimization state machine's steps task
// (one Lambda function on AWS): Step says which step to run; Error is the
// failure a mark_failed step records, as the state machine's Catch caught it.
type StepRequest struct {
	Step       string         `json:"step"`
	StudyID    string         `json:"study_id"`
	Exhausted  bool           `json:"exhausted,omitempty"`
	StopReason string         `json:"stop_reason,omitempty"`
	Error      *fault.Failure `json:"error,omitempty"`
}

// StepRunner runs the steps over its stores. Objective builds a trial's
// objective from the study's spec (TrainingObjectiveFor by default, without
// checkpoints).
type StepRunner struct {
	Stores    Stores
	Objective func(ctx context.Context, studyID string, spec StudySpec) (Objective, error)
	// Worker names the claimant of the trials it runs when the trial input
	// names none (default "step"); Gone, when set, says whether a worker
	// is dead — its RUNNING trials are claimed again at once instead of
	// when their lease runs out (shared/procid for processes of this
	// machine).
	Worker string
	Gone   func(worker string) bool
	// Recorder receives a "tune" progress event as each trial ends (nil:
	// none).
	Recorder tracking.Recorder
}

// Step runs req.Step and returns its output (SuggestOutput, TellOutput,
// FinalizeOutput, or an empty object for mark_failed).
func (r StepRunner) Step(ctx context.Context, req StepRequest) (any, error) {
	if req.StudyID == "" {
		return nil, fmt.Errorf("step %q: %w: study_id is empty", req.Step, ErrInvalidStudy)
	}
	switch req.Step {
	case StepSuggest:
		return Suggest(ctx, r.Stores, SuggestInput{StudyID: req.StudyID})
	case StepTell:
		return Tell(ctx, r.Stores, TellInput{StudyID: req.StudyID, Exhausted: req.Exhausted})
	case StepFinalize:
		return Finalize(ctx, r.Stores, FinalizeInput{StudyID: req.StudyID, StopReason: req.StopReason})
	case StepMarkFailed:
		in := FailureInput{StudyID: req.StudyID}
		if req.Error != nil {
			in.Error = *req.Error
		}
		return struct{}{}, MarkFailed(ctx, r.Stores, in)
	}
	return nil, fmt.Errorf("step %q of study %s: %w: not suggest, tell, finalize or mark_failed", req.Step, req.StudyID, ErrInvalidStudy)
}

// Trial runs one trial (RunTrial) with the objective the study's spec
// describes.
func (r StepRunner) Trial(ctx context.Context, in TrialInput) (TrialOutput, error) {
	_, spec, _, err := LoadSpec(ctx, r.Stores, in.StudyID)
	if err != nil {
		return TrialOutput{}, err
	}
	build := r.Objective
	if build == nil {
		build = func(ctx context.Context, id string, spec StudySpec) (Objective, error) {
			return TrainingObjectiveFor(ctx, id, spec, nil)
		}
	}
	obj, err := build(ctx, in.StudyID, spec)
	if err != nil {
		return TrialOutput{}, err
	}
	if in.Worker == "" {
		in.Worker = r.Worker
	}
	if r.Gone != nil {
		if err := releaseGone(ctx, r.Stores.Trials, in.StudyID, r.Gone); err != nil {
			return TrialOutput{}, err
		}
	}
	rec := r.Recorder
	if rec == nil {
		rec = tracking.Discard
	}
	return runTrial(ctx, r.Stores, obj, in, rec)
}
