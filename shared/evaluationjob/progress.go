package evaluationjob

import (
	"context"
	"sync"
	"time"

	"github.com/orrery-ml/orrery/shared/tracking"
)

// progress emits an evaluation's stages to the service's Recorder: one
// stage per step of the work, bars for the counted ones (bootstrap
// resamples, cross-validation folds, models, model pairs).
type progress struct {
	ctx context.Context
	rec tracking.Recorder
	job string

	mu     sync.Mutex
	last   map[string]int // the last step reported, per stage
	starts map[string]time.Time
}

func (s *Service) progress(ctx context.Context, job string) *progress {
	rec := s.Recorder
	if rec == nil {
		rec = tracking.Discard
	}
	return &progress{ctx: ctx, rec: rec, job: job, last: map[string]int{}, starts: map[string]time.Time{}}
}

func (p *progress) emit(e tracking.Event) {
	e.JobID, e.Time = p.job, time.Now().UTC()
	_ = p.rec.Record(p.ctx, e) // a progress display never stops the work
}

// start opens a stage; total > 0 gives it a bar of that many units.
func (p *progress) start(stage string, total int, unit string) {
	p.mu.Lock()
	p.last[stage], p.starts[stage] = 0, time.Now()
	p.mu.Unlock()
	p.emit(tracking.Event{Kind: tracking.StageStarted, Stage: stage, Total: total, Unit: unit})
}

// step reports done of total units of a stage. Steps are thinned to about
// a hundred per stage (a bootstrap has a thousand resamples), and a step
// that arrives after a later one (workers finish out of order) is dropped;
// the last step is always reported.
func (p *progress) step(stage string, done, total int, metrics map[string]float64) {
	p.mu.Lock()
	last := p.last[stage]
	every := max(1, total/100)
	if done <= last || done < total && done-last < every {
		p.mu.Unlock()
		return
	}
	p.last[stage] = done
	eta := tracking.ETA(time.Since(p.starts[stage]), done, total)
	defer p.mu.Unlock() // emitted under the lock, so steps reach the recorder in order
	p.emit(tracking.Event{Kind: tracking.Progress, Stage: stage, Step: done, Total: total, Metrics: metrics,
		ETASeconds: eta.Seconds()})
}

// finish closes a stage, failed when err is set.
func (p *progress) finish(stage string, err error) {
	e := tracking.Event{Kind: tracking.StageFinished, Stage: stage}
	if err != nil {
		e.Err = err.Error()
	}
	p.emit(e)
}

// run runs f as one uncounted stage.
func (p *progress) run(stage string, f func() error) error {
	p.start(stage, 0, "")
	err := f()
	p.finish(stage, err)
	return err
}
