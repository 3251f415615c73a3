package mlflowmirror

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/orrery-ml/orrery/shared/store"
	"github.com/orrery-ml/orrery/shared/tracking/mlflow"
)

// drainBatch is how many entries one read of the outbox returns.
const drainBatch = 100

// idleWait is how long Run sleeps with nothing queued before it looks again
// (another process may have queued entries); a Wake ends it at once.
const idleWait = 5 * time.Second

// Run drains the outbox until ctx ends: entries are sent in order, and one
// that fails waits out its backoff (holding the entries after it, which
// may depend on it). It never returns an error: failures are recorded on
// the entries, shown by Status, and logged.
func (m *Mirror) Run(ctx context.Context) {
	for {
		wait, _ := m.drain(ctx, "", false)
		if wait <= 0 || wait > idleWait {
			wait = idleWait
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Drain sends what is due, in order, until the outbox is empty, an entry
// fails or is not due yet (it waits out a backoff), or ctx ends; it returns
// the failure, which is recorded on the entry too. It is one pass of Run,
// for a drainer that runs on a schedule (the AWS tracking function).
func (m *Mirror) Drain(ctx context.Context) error {
	_, err := m.drain(ctx, "", false)
	return err
}

// Flush sends what is queued until the outbox is empty, an entry fails or
// ctx ends, ignoring backoffs; it returns the failure. A command calls it
// before it exits with a short deadline, so a server that is down costs one
// refused connection, not a wait.
func (m *Mirror) Flush(ctx context.Context) error {
	_, err := m.drain(ctx, "", true)
	return err
}

// Sync replays what was missed for subject ("" : everything): entries the
// server refused are tried again, backoffs are ignored, and every metric
// point is checked against what the server has, so running it twice, or
// after a drainer that got there first, sends nothing twice. A finished
// training job, study or evaluation that has no run yet (it ran before
// tracking was turned on) is queued first.
func (m *Mirror) Sync(ctx context.Context, subject string) (int, error) {
	if subject != "" {
		if err := m.queueUnmirrored(ctx, subject); err != nil {
			return 0, err
		}
	}
	if _, err := m.outbox.ReviveTracking(ctx, subject); err != nil {
		return 0, err
	}
	before, err := m.outbox.SummarizeTracking(ctx, subject)
	if err != nil {
		return 0, err
	}
	_, err = m.drain(ctx, subject, true)
	after, serr := m.outbox.SummarizeTracking(ctx, subject)
	if serr != nil && err == nil {
		err = serr
	}
	return before.Pending - after.Pending, err
}

// queueUnmirrored queues the end of a finished subject that has no run and
// nothing queued.
func (m *Mirror) queueUnmirrored(ctx context.Context, subject string) error {
	sum, err := m.outbox.SummarizeTracking(ctx, subject)
	if err != nil || sum.Pending+sum.Dead > 0 {
		return err
	}
	if job, err := m.src.Jobs.GetJob(ctx, subject); err == nil {
		kind, queue := "training", m.TrainingEnded
		if job.Kind == "evaluation" {
			kind, queue = "evaluation", m.EvaluationEnded
		}
		if _, err := m.outbox.TrackingRef(ctx, runRef(kind+"/"+subject)); err == nil || !job.Status.Terminal() {
			return nil
		}
		return queue(ctx, subject)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if mod, err := m.src.Models.GetModel(ctx, subject); err == nil {
		if _, err := m.modelVersionRef(ctx, mod.ID); err == nil || mod.JobID == "" {
			return nil
		}
		return m.queueUnmirrored(ctx, mod.JobID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if m.src.Studies != nil {
		st, err := m.src.Studies.GetStudy(ctx, subject)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("mlflow sync: %s is no job, model or study: %w", subject, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if st.Status.Terminal() {
			return m.StudyEnded(ctx, subject)
		}
		return nil
	}
	return fmt.Errorf("mlflow sync: %s is no job or model: %w", subject, store.ErrNotFound)
}

// drain sends the due entries of subject in order until none is left or
// one fails; force ignores backoffs and deduplicates every metric point.
// It returns how long until the entry that failed is due again.
func (m *Mirror) drain(ctx context.Context, subject string, force bool) (time.Duration, error) {
	m.sendMu.Lock()
	defer m.sendMu.Unlock()
	m.seen = nil
	defer func() { m.seen = nil }()
	for {
		entries, err := m.outbox.PendingTracking(ctx, subject, drainBatch)
		if err != nil {
			return m.opt.MaxBackoff, err
		}
		if len(entries) == 0 {
			m.recovered()
			return 0, nil
		}
		for _, e := range entries {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if !force {
				if wait := time.Until(e.NotBefore); wait > 0 {
					return wait, nil
				}
			}
			err := m.sendEntry(ctx, e, force)
			for retry := 1; err != nil && force && !permanent(err) && ctx.Err() == nil && retry <= syncRetries; retry++ {
				// A replay asked for by hand tries a transient failure
				// again before it gives up (a server just back is slow).
				if serr := sleepCtx(ctx, m.opt.MinBackoff<<retry); serr != nil {
					break
				}
				err = m.sendEntry(ctx, e, true)
			}
			if err != nil {
				if ctx.Err() != nil {
					return 0, ctx.Err()
				}
				return m.failed(ctx, e, err), err
			}
			if err := m.outbox.AckTracking(ctx, e.Seq); err != nil {
				return m.opt.MaxBackoff, err
			}
		}
	}
}

// failed records a failed attempt of e and returns its backoff.
func (m *Mirror) failed(ctx context.Context, e store.TrackingEntry, err error) time.Duration {
	attempts := e.Attempts + 1
	wait := m.opt.MinBackoff << min(attempts-1, 20)
	if wait > m.opt.MaxBackoff || wait <= 0 {
		wait = m.opt.MaxBackoff
	}
	dead := permanent(err) || errors.Is(err, ErrNotReady) && attempts >= maxNotReadyRetries
	msg := err.Error()
	if ferr := m.outbox.FailTracking(context.WithoutCancel(ctx), e.Seq, msg, time.Now().Add(wait), dead); ferr != nil {
		m.opt.Log.Error("mlflow: record a failed attempt", "seq", e.Seq, "error", ferr.Error())
	}
	m.mu.Lock()
	first := !m.failing
	m.failing = true
	m.mu.Unlock()
	if first || dead {
		m.opt.Log.Warn("mlflow: tracking is behind; the calls are kept and retried (orrery tracking sync replays them)",
			"subject", e.Subject, "kind", e.Kind, "attempts", attempts, "given_up", dead, "error", msg)
	}
	return wait
}

func (m *Mirror) recovered() {
	m.mu.Lock()
	was := m.failing
	m.failing = false
	m.mu.Unlock()
	if was {
		m.opt.Log.Info("mlflow: tracking caught up")
	}
}

// permanent reports whether the server refused the call for good: a 4xx
// other than 408 and 429.
func permanent(err error) bool {
	var apiErr *mlflow.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusRequestTimeout && apiErr.Status != http.StatusTooManyRequests
}

// sendEntry sends one entry within the call timeout; dedupe (set for a
// replay, or an entry an earlier attempt may have half sent) checks metric
// points against the server's history first.
func (m *Mirror) sendEntry(ctx context.Context, e store.TrackingEntry, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, m.opt.CallTimeout)
	defer cancel()
	dedupe := force || e.Attempts > 0
	var err error
	switch e.Kind {
	case kindEpoch:
		err = m.sendEpoch(ctx, e, dedupe)
	case kindTrainingEnd:
		err = m.sendTrainingEnd(ctx, e, dedupe)
	case kindStudyEnd:
		err = m.sendStudy(ctx, e)
	case kindEvaluationEnd:
		err = m.sendEvaluation(ctx, e, dedupe)
	case kindAlias, kindAliasRemoved:
		err = m.sendAlias(ctx, e)
	case kindExecutionEnd:
		err = m.sendExecutionEnd(ctx, e)
	default:
		return fmt.Errorf("%w: entry %d of %s has unknown kind %q", errUnknownKind, e.Seq, e.Subject, e.Kind)
	}
	if err != nil {
		return fmt.Errorf("mlflow %s of %s: %w", e.Kind, e.Subject, err)
	}
	return nil
}

var errUnknownKind = &mlflow.APIError{Path: "outbox", Status: http.StatusBadRequest, Body: "unknown entry kind"}

// syncRetries is how many times Sync tries a transiently failing entry
// again before it returns the failure.
const syncRetries = 3

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
