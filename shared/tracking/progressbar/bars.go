package progressbar

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/orrery-ml/orrery/shared/fault"
	"github.com/orrery-ml/orrery/shared/tracking"
)

// Errors returned by Record.
var (
	// ErrClosed: the event came after Close.
	ErrClosed = fault.New(fault.Internal, "progressbar: closed")
	// ErrUnknownKind: the event's Kind is none of the tracking kinds.
	ErrUnknownKind = fault.New(fault.Invalid, "progressbar: unknown event kind")
)

const (
	// plainWidth is the line width used when the output is not a terminal
	// (a terminal's own width is used otherwise): every line of a log file
	// fits 100 columns.
	plainWidth = 100
	// barWidth is the width of the bar itself, leaving room for the metrics.
	barWidth = 24
	// defaultUnit names the steps of a stage whose events give no Unit.
	defaultUnit = "step"
	// plainInterval spaces the renders of progress events off a terminal
	// while several bars run, each render printing every running bar; with a
	// single bar every event is printed.
	plainInterval = time.Second
	// renderWait bounds how long Record waits for a render it asked for (off
	// a terminal); only a failing renderer ever makes it expire.
	renderWait = 2 * time.Second
)

// Options configures Bars.
type Options struct {
	// Quiet hides bars and the lines of successful stages; log events and
	// failed stages are still printed.
	Quiet bool
	// TerseFailures shows a failed stage as "failed" without its error,
	// for callers that print the error themselves (once).
	TerseFailures bool
}

// Bars is a tracking.Recorder drawing progress bars on a writer. On a
// terminal the bars redraw in place and finished ones stay above the running
// ones; on anything else (a file, a pipe, a bytes.Buffer in a test) each
// progress event prints the running bars once more (at most once a second
// while several run) as plain lines of fixed width, without cursor movement,
// and a finished bar is printed one last time.
// It is safe for concurrent use. Call Close when the work is done.
type Bars struct {
	// out is the output: the writer given to New on a terminal, and that
	// writer behind a lock otherwise, where lines and renders share it.
	out      io.Writer
	opts     Options
	terminal bool
	// color marks finished stages green and failed ones red: on a
	// terminal, unless NO_COLOR is set (https://no-color.org) or TERM is
	// dumb.
	color bool

	mu       sync.Mutex
	stages   map[stageKey]*stage
	firstJob string
	closed   bool
	// progress draws the bars; nil while no stage has a bar, so that lines
	// printed then go straight to w without racing mpb's renderer.
	progress *mpb.Progress
	// refresh asks progress to render, and console reports when it did
	// (both only off a terminal).
	refresh chan any
	console *plainConsole
	// lastRender is when render last drew (off a terminal).
	lastRender time.Time
	// renderErr keeps the first rendering error mpb reported.
	renderErr error
}

var _ tracking.Recorder = (*Bars)(nil)

// stageKey tells stages of different jobs apart (trials of a study run the
// same stages side by side).
type stageKey struct{ job, stage string }

// stage is one running stage. Its atomic fields are read by mpb's decorators
// on the rendering goroutine, never under Bars.mu.
type stage struct {
	label   string
	unit    string
	started time.Time
	bar     *mpb.Bar // nil for stages without a step count, and when quiet
	total   atomic.Int64
	info    atomic.Pointer[string] // latest metrics, or why the stage failed
	took    atomic.Int64           // nanoseconds the stage took, once finished
}

func (st *stage) setInfo(s string) { st.info.Store(&s) }

func (st *stage) infoText() string {
	if p := st.info.Load(); p != nil {
		return *p
	}
	return ""
}

// elapsed is the stage's duration once finished, its running time before.
func (st *stage) elapsed() time.Duration {
	if d := st.took.Load(); d > 0 {
		return time.Duration(d)
	}
	return time.Since(st.started)
}

// New returns Bars writing to w (usually os.Stderr).
func New(w io.Writer, opts Options) *Bars {
	b := &Bars{opts: opts, terminal: isTerminal(w), stages: map[stageKey]*stage{}}
	b.color = useColor(b.terminal)
	if b.terminal {
		b.out = w
	} else {
		b.out = &lockedWriter{w: w}
	}
	return b
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// Record shows e: StageStarted with a Total opens a bar, Progress moves it
// and updates its metrics, StageFinished completes it (or aborts it showing
// Err); stages without a Total print one "✓ name (0.2s)" line when they
// finish; Log events print a line above the bars. Returns ErrClosed after
// Close and ErrUnknownKind for an event kind it does not know.
func (b *Bars) Record(_ context.Context, e tracking.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("record %s event of stage %s: %w", e.Kind, e.Stage, ErrClosed)
	}
	if b.firstJob == "" {
		b.firstJob = e.JobID
	}
	var err error
	switch e.Kind {
	case tracking.StageStarted:
		err = b.start(e)
	case tracking.Progress:
		err = b.advance(e)
	case tracking.StageFinished:
		err = b.finish(e)
	case tracking.Log:
		err = b.log(e)
	default:
		return fmt.Errorf("record event of stage %s: kind %q: %w", e.Stage, e.Kind, ErrUnknownKind)
	}
	if err != nil {
		return fmt.Errorf("record %s event of stage %s: %w", e.Kind, e.Stage, err)
	}
	return nil
}

// Close aborts the bars of stages that never finished, waits until
// everything is drawn, and returns the first error met while drawing. Later
// calls do nothing.
func (b *Bars) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, st := range b.stages {
		if st.bar != nil {
			st.took.Store(int64(max(time.Since(st.started), 1)))
			st.setInfo("interrupted")
			st.bar.Abort(true)
		}
	}
	b.stages = map[stageKey]*stage{}
	b.stopProgress()
	return b.renderErr
}

// label names a stage on screen: the stage alone for the first job seen,
// followed by the job id for other jobs (trials running side by side).
func (b *Bars) label(e tracking.Event) string {
	if e.JobID == "" || e.JobID == b.firstJob {
		return e.Stage
	}
	return e.Stage + " " + e.JobID
}

// start opens the stage, with a bar when it has a step count.
func (b *Bars) start(e tracking.Event) error {
	key := stageKey{e.JobID, e.Stage}
	if old := b.stages[key]; old != nil && old.bar != nil {
		// Restarted (a retry): the new attempt gets a new bar.
		old.took.Store(int64(max(time.Since(old.started), 1)))
		old.setInfo("restarted")
		old.bar.Abort(true)
		b.render()
		delete(b.stages, key)
		b.stopProgressIfIdle()
	}
	st := &stage{label: b.label(e), unit: e.Unit, started: eventTime(e)}
	if st.unit == "" {
		st.unit = defaultUnit
	}
	st.total.Store(int64(e.Total))
	st.setInfo(metricsText(e.Metrics))
	b.stages[key] = st
	if e.Total > 0 {
		return b.openBar(st, e.Step)
	}
	return nil
}

// openBar gives st a bar, unless quiet.
func (b *Bars) openBar(st *stage, step int) error {
	if b.opts.Quiet {
		return nil
	}
	b.startProgress()
	eta := decor.NewAverageETA(decor.ET_STYLE_GO, time.Now(), nil)
	bar, err := b.progress.Add(st.total.Load(), mpb.BarStyle().Build(),
		mpb.BarWidth(barWidth),
		// Off a terminal a finished bar is printed once more, then dropped
		// (on a terminal PopCompletedMode keeps it above the others).
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(
			decor.Name(st.label, decor.WCSyncSpaceR),
			decor.Any(func(s decor.Statistics) string {
				return fmt.Sprintf("%s %d/%d", st.unit, s.Current, st.total.Load())
			}, decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.OnComplete(decor.OnAbort(decor.Percentage(decor.WCSyncSpaceR), ""), ""),
			decor.Any(func(s decor.Statistics) string {
				switch {
				case s.Aborted:
					return "failed after " + formatDuration(st.elapsed())
				case s.Completed:
					return "done in " + formatDuration(st.elapsed())
				case s.Current == 0:
					return "ETA -"
				}
				text, _ := eta.Decor(s)
				return "ETA " + text
			}, decor.WCSyncSpaceR),
			decor.Any(func(decor.Statistics) string { return st.infoText() }, decor.WC{C: decor.DextraSpace}),
		),
	)
	if err != nil {
		return fmt.Errorf("add bar: %w", err)
	}
	st.bar = bar
	if step > 0 {
		bar.SetCurrent(int64(step))
	}
	return nil
}

// advance moves the stage's bar to the event's step and shows its metrics.
// A progress event for a stage never started opens it, so that a recorder
// attached late still shows something.
func (b *Bars) advance(e tracking.Event) error {
	st := b.stages[stageKey{e.JobID, e.Stage}]
	if st == nil {
		return b.start(e)
	}
	if len(e.Metrics) > 0 {
		st.setInfo(metricsText(e.Metrics))
	}
	if e.Total > 0 && int64(e.Total) != st.total.Load() {
		st.total.Store(int64(e.Total))
		if st.bar != nil {
			st.bar.SetTotal(int64(e.Total), false)
		}
	}
	if st.bar == nil && st.total.Load() > 0 {
		if err := b.openBar(st, 0); err != nil {
			return err
		}
	}
	if st.bar != nil {
		st.bar.SetCurrent(int64(e.Step))
		if b.barCount() == 1 || time.Since(b.lastRender) >= plainInterval {
			b.render()
		}
	}
	return nil
}

// finish completes or aborts the stage's bar, or prints its line.
func (b *Bars) finish(e tracking.Event) error {
	key := stageKey{e.JobID, e.Stage}
	st := b.stages[key]
	delete(b.stages, key)
	if st == nil {
		// Finished without a start we saw: no duration to show.
		st = &stage{label: b.label(e), started: eventTime(e)}
	}
	st.took.Store(int64(max(eventTime(e).Sub(st.started), 1)))
	if len(e.Metrics) > 0 {
		st.setInfo(metricsText(e.Metrics))
	}

	if st.bar == nil {
		if b.opts.Quiet && e.Err == "" {
			return nil
		}
		line := b.mark("✓", "32") + " " + st.label + " (" + formatDuration(st.elapsed()) + ")"
		if e.Err != "" {
			line = b.mark("✗", "31") + " " + st.label + " (" + formatDuration(st.elapsed()) + "): " + b.failure(e, "")
		} else if text := st.infoText(); text != "" {
			line += " " + text
		}
		return b.println(line)
	}

	if e.Err != "" {
		st.setInfo(b.failure(e, "error: "))
		st.bar.Abort(true)
	} else {
		// Complete at the step reached: an early-stopped stage shows
		// "epoch 31/60 ... done in 12.0s".
		st.bar.SetTotal(-1, true)
	}
	b.render()
	b.stopProgressIfIdle()
	return nil
}

// useColor reports whether marks are coloured: on a terminal, unless
// NO_COLOR is set to anything (https://no-color.org) or TERM is dumb.
func useColor(terminal bool) bool {
	return terminal && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}

// mark is a stage's mark, in the ANSI colour sgr when colours are on.
func (b *Bars) mark(m, sgr string) string {
	if !b.color {
		return m
	}
	return "\x1b[" + sgr + "m" + m + "\x1b[0m"
}

// failure is how a failed stage's error is shown.
func (b *Bars) failure(e tracking.Event, prefix string) string {
	if b.opts.TerseFailures {
		return "failed"
	}
	return prefix + e.Err
}

// log prints the event's message (and error) above the bars.
func (b *Bars) log(e tracking.Event) error {
	text := e.Message
	if e.Err != "" {
		text = strings.TrimPrefix(text+": "+e.Err, ": ")
	}
	if e.Stage != "" {
		text = b.label(e) + ": " + text
	}
	return b.println(Wrap(text, "    ", plainWidth))
}

// println writes one line: above the bars while a terminal shows some, else
// straight to the output (off a terminal every render has been written out
// before Record returns, so the line lands after it).
func (b *Bars) println(line string) error {
	if b.terminal && b.progress != nil {
		if _, err := fmt.Fprintln(b.progress, line); err != nil {
			return fmt.Errorf("print above bars: %w", err)
		}
		return nil
	}
	if _, err := fmt.Fprintln(b.out, line); err != nil {
		return fmt.Errorf("print: %w", err)
	}
	return nil
}

// startProgress creates the mpb container when no bar is drawn yet.
func (b *Bars) startProgress() {
	if b.progress != nil {
		return
	}
	if b.terminal {
		b.progress = mpb.New(mpb.WithOutput(b.out), mpb.PopCompletedMode())
		return
	}
	// Off a terminal mpb would not draw at all: render on demand instead,
	// once per event, at a fixed width, through a console that never moves
	// the cursor.
	b.refresh = make(chan any)
	b.console = newPlainConsole(b.out)
	b.progress = mpb.New(mpb.WithConsoleWriter(b.console), mpb.WithManualRefresh(b.refresh),
		mpb.WithWidth(plainWidth))
}

// render draws the bars now and waits until they are written, when the
// output is not a terminal (a terminal redraws on its own).
func (b *Bars) render() {
	if b.progress == nil || b.refresh == nil {
		return
	}
	select {
	case <-b.console.flushed: // a render nobody waited for
	default:
	}
	b.refresh <- struct{}{}
	select {
	case <-b.console.flushed:
	case <-time.After(renderWait):
	}
	b.lastRender = time.Now()
}

// barCount returns how many stages have a bar.
func (b *Bars) barCount() int {
	n := 0
	for _, st := range b.stages {
		if st.bar != nil {
			n++
		}
	}
	return n
}

// stopProgressIfIdle shuts the container down once no stage has a bar.
func (b *Bars) stopProgressIfIdle() {
	if b.barCount() == 0 {
		b.stopProgress()
	}
}

// stopProgress waits until every bar is drawn in its final state.
func (b *Bars) stopProgress() {
	if b.progress == nil {
		return
	}
	b.progress.Wait()
	if b.progress.Error != nil && b.renderErr == nil {
		b.renderErr = fmt.Errorf("draw progress bars: %w", b.progress.Error)
	}
	b.progress, b.refresh, b.console = nil, nil, nil
}

// eventTime is e.Time, or now for events without one.
func eventTime(e tracking.Event) time.Time {
	if e.Time.IsZero() {
		return time.Now()
	}
	return e.Time
}

// metricsText renders metrics as "loss 0.123 val_auc_pr 0.912", by name.
func metricsText(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	var sb strings.Builder
	for i, name := range names {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(name)
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatFloat(m[name], 'g', 4, 64))
	}
	return sb.String()
}

// formatDuration renders d as "0.2s" below a minute and "3m12s" above.
func formatDuration(d time.Duration) string {
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
