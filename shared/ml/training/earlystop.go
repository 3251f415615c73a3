package training

import (
	"fmt"
	"math"
)

// EarlyStopper is the early-stopping rule every training backend follows.
// It is fed each epoch's validation figures in order (Observe) and says
// whether that epoch is the best so far — the backend then keeps a copy of
// its weights — and whether training ends after it:
//
//   - an epoch improves when its value of the monitored metric
//     (EarlyStopping.Metric of its EpochStats) is not NaN and either no
//     epoch has improved yet or it beats the best by more than MinDelta:
//     lower for val_loss, higher for val_auc_pr and val_auc_roc;
//   - every other epoch, one with a NaN metric included, counts towards
//     Patience; with early stopping enabled, Patience of them in a row stop
//     training (StopEarlyStopping);
//   - the epoch that reaches the maximum number of epochs stops training
//     (StopMaxEpochs).
//
// The best epoch is tracked with early stopping disabled too, but only an
// enabled one returns its weights (see Outcome). The state is the plain
// value EarlyStopState, which checkpoints store and Resume restores, so a
// resumed run decides exactly as an uninterrupted one.
//
// An EarlyStopper is not safe for concurrent use.
type EarlyStopper struct {
	cfg    EarlyStopping
	epochs int
	st     EarlyStopState
}

// EarlyStopState is an EarlyStopper's state after an epoch.
type EarlyStopState struct {
	// Epoch is the last epoch observed, 0 before the first.
	Epoch int
	// Best is the best value of the metric so far, valid when BestEpoch > 0.
	Best float64
	// BestEpoch is the epoch that reached Best, 0 while no epoch has
	// improved.
	BestEpoch int
	// Bad counts the epochs since BestEpoch (since the start while there is
	// none).
	Bad int
	// Done is set once training ends; StopReason then says why
	// (StopEarlyStopping or StopMaxEpochs).
	Done       bool
	StopReason string
}

// NewEarlyStopper returns the EarlyStopper of es for a run of at most
// epochs epochs. es must name a metric (val_loss, val_auc_pr or
// val_auc_roc) and have Patience ≥ 1 and a finite MinDelta ≥ 0, as a
// normalised TrainingConfig's EarlyStop has; Enabled nil means enabled.
// Anything else is ErrInvalidConfig naming the field.
func NewEarlyStopper(es EarlyStopping, epochs int) (*EarlyStopper, error) {
	if err := es.check(); err != nil {
		return nil, err
	}
	if epochs < 1 {
		return nil, bad("epochs", "%d is not positive", epochs)
	}
	return &EarlyStopper{cfg: es, epochs: epochs}, nil
}

// check reports the first field of e that is not a valid setting (the
// checks of TrainingConfig.Normalize and NewEarlyStopper).
func (e EarlyStopping) check() error {
	if err := oneOf("early_stopping.metric", e.Metric, "val_loss", "val_auc_pr", "val_auc_roc"); err != nil {
		return err
	}
	if e.Patience < 1 {
		return bad("early_stopping.patience", "%d is not positive", e.Patience)
	}
	if !finite(e.MinDelta) || e.MinDelta < 0 {
		return bad("early_stopping.min_delta", "%v is negative", e.MinDelta)
	}
	return nil
}

// EarlyStopStep is what Observe made of one epoch.
type EarlyStopStep struct {
	// Improved: the epoch is the best so far; keep its weights.
	Improved bool
	// Stop: training ends after this epoch.
	Stop bool
}

// metric returns s's value of the monitored metric.
func (e *EarlyStopper) metric(s EpochStats) float64 {
	switch e.cfg.Metric {
	case "val_loss":
		return s.ValLoss
	case "val_auc_roc":
		return s.ValAUCROC
	}
	return s.ValAUCPR
}

// Observe takes the validation figures of the epoch after the last one
// observed (s.Epoch must be State().Epoch+1, and training must not have
// ended); it returns an error naming the epochs otherwise and changes
// nothing.
func (e *EarlyStopper) Observe(s EpochStats) (EarlyStopStep, error) {
	st := &e.st
	if st.Done {
		return EarlyStopStep{}, fmt.Errorf("early stopping: epoch %d observed after training ended at epoch %d (%s)", s.Epoch, st.Epoch, st.StopReason)
	}
	if s.Epoch != st.Epoch+1 {
		return EarlyStopStep{}, fmt.Errorf("early stopping: epoch %d observed after epoch %d", s.Epoch, st.Epoch)
	}
	st.Epoch = s.Epoch
	v := e.metric(s)
	minimise := e.cfg.Metric == "val_loss"
	improved := !math.IsNaN(v) && (st.BestEpoch == 0 ||
		(minimise && v < st.Best-e.cfg.MinDelta) || (!minimise && v > st.Best+e.cfg.MinDelta))
	if improved {
		st.Best, st.BestEpoch, st.Bad = v, s.Epoch, 0
	} else {
		st.Bad++
	}
	switch {
	case e.cfg.On() && st.Bad >= e.cfg.Patience:
		st.Done, st.StopReason = true, StopEarlyStopping
	case st.Epoch >= e.epochs:
		st.Done, st.StopReason = true, StopMaxEpochs
	}
	return EarlyStopStep{Improved: improved, Stop: st.Done}, nil
}

// Done reports whether training has ended.
func (e *EarlyStopper) Done() bool { return e.st.Done }

// BestEpoch returns the best epoch so far, 0 while none has improved.
func (e *EarlyStopper) BestEpoch() int { return e.st.BestEpoch }

// Outcome says which weights a run returns: those kept at the best epoch
// (restoreBest true) when early stopping is enabled and an epoch improved,
// else the last observed epoch's. epoch is the epoch of the returned
// weights; reason the stop reason (StopMaxEpochs before training ended).
func (e *EarlyStopper) Outcome() (epoch int, restoreBest bool, reason string) {
	reason = e.st.StopReason
	if reason == "" {
		reason = StopMaxEpochs
	}
	if e.cfg.On() && e.st.BestEpoch > 0 {
		return e.st.BestEpoch, true, reason
	}
	return e.st.Epoch, false, reason
}

// State returns the state to store in a checkpoint.
func (e *EarlyStopper) State() EarlyStopState { return e.st }

// Resume replaces the state with st, read from a checkpoint of the same
// configuration. A state this rule cannot reach (an epoch beyond the
// maximum, a best epoch after the last, a count of epochs without
// improvement that does not match, a stop reason that does not fit) is
// refused with ErrCheckpointMismatch, and the state is left as it was.
func (e *EarlyStopper) Resume(st EarlyStopState) error {
	mismatch := func(format string, args ...any) error {
		return fmt.Errorf("%w: early-stopping state: %s", ErrCheckpointMismatch, fmt.Sprintf(format, args...))
	}
	switch {
	case st.Epoch < 0 || st.Epoch > e.epochs:
		return mismatch("epoch %d is outside [0, %d]", st.Epoch, e.epochs)
	case st.BestEpoch < 0 || st.BestEpoch > st.Epoch:
		return mismatch("best epoch %d is outside [0, %d]", st.BestEpoch, st.Epoch)
	case st.BestEpoch > 0 && math.IsNaN(st.Best):
		return mismatch("the best value of epoch %d is NaN", st.BestEpoch)
	case st.Bad != st.Epoch-st.BestEpoch:
		return mismatch("%d epochs without improvement at epoch %d, best epoch %d", st.Bad, st.Epoch, st.BestEpoch)
	case e.cfg.On() && st.Bad > e.cfg.Patience:
		return mismatch("%d epochs without improvement, more than the patience of %d", st.Bad, e.cfg.Patience)
	}
	var reason string
	switch {
	case e.cfg.On() && st.Bad >= e.cfg.Patience:
		reason = StopEarlyStopping
	case st.Epoch >= e.epochs:
		reason = StopMaxEpochs
	}
	if st.StopReason != reason || st.Done != (reason != "") {
		return mismatch("done=%v with stop reason %q at epoch %d, the rule gives %q", st.Done, st.StopReason, st.Epoch, reason)
	}
	e.st = st
	return nil
}
