package team

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultSpin is how long a waiting side spins before it parks unless
// Team.Spin says otherwise: longer than the gaps between the phases of a
// small network's training step (the loss, its optimizer step, the next
// batch's gather: a few µs), so that workers are awake when the next
// phase starts. Larger networks' longer gaps park the workers, which
// costs little: the caller starts on the items while they wake. On the
// loaded 2-core test machine 10 µs used less CPU per sample than 20, 50
// and 200 µs at equal or better wall time (BenchmarkTrainStepFloat32
// -nn.spin).
const DefaultSpin = 10 * time.Microsecond

// maxSize is the most goroutines a Team has.
const maxSize = 1 << 16

// The claim word: generation<<32 | items<<16 | next. One word, so that a
// compare-and-swap that claims an item also checks which Run it is of.
const (
	maxItems = 1<<16 - 1
	genShift = 32
)

func unpack(c uint64) (gen uint64, items, next int) {
	return c >> genShift, int(c >> 16 & maxItems), int(c & maxItems)
}

// Task is work a Team splits into items.
type Task interface {
	// RunItem executes item item on goroutine worker (0 is the caller of
	// Run, 1..Size()-1 the team's). Each item of a Run executes exactly
	// once; items run concurrently on different workers and in turn on
	// one, so they must not write the same memory, and what belongs to a
	// worker (its scratch buffers) is its own while it runs an item.
	RunItem(item, worker int)
}

// Team is up to size-1 worker goroutines plus the caller of Run, which
// share each Run's items by claiming them one at a time: a worker the
// operating system has not scheduled yet takes no item with it, the
// others (the caller included) do its share. Worker i starts with the
// first Run that may use more than i goroutines (a team sized for more
// threads than GOMAXPROCS starts only what can run) and all end with
// Stop. A Team is not safe for concurrent Runs.
type Team struct {
	// Spin is how long a waiting side spins before it parks; 0 means
	// DefaultSpin. Set it before the first Run.
	Spin time.Duration

	size int
	task Task // of the Run in progress, nil between Runs

	// claim is the generation of the latest Run, its item count and its
	// next unclaimed item: workers wait for the generation to change,
	// then claim items by compare-and-swap, which fails once the Run is
	// over.
	claim   atomic.Uint64
	done    atomic.Int64 // items of this Run finished
	stopped atomic.Bool
	live    atomic.Int64 // worker goroutines running
	// callerParked says the caller is (about to be) blocked on wake.
	callerParked atomic.Bool
	wake         chan struct{}
	workers      []*worker // the started ones; index 0 is the caller's and nil
}

// worker is what the caller and one worker goroutine share, padded to a
// cache line so that one worker's flag does not share a line with
// another's.
type worker struct {
	parked atomic.Bool // the worker is (about to be) blocked on wake
	wake   chan struct{}
	_      [48]byte
}

// New returns a team of size goroutines, the caller of Run included.
func New(size int) (*Team, error) {
	if size < 1 || size > maxSize {
		return nil, fmt.Errorf("team: %d goroutines, not 1..%d", size, maxSize)
	}
	return &Team{size: size}, nil
}

// Size returns the most goroutines a Run uses.
func (t *Team) Size() int { return t.size }

// Running returns how many worker goroutines are running (started and
// not yet ended by Stop).
func (t *Team) Running() int { return int(t.live.Load()) }

// Run executes the items 0..items-1 of task and returns when all are
// done. With workers (or items, or GOMAXPROCS) 1 the caller runs them in
// order and no worker is involved; otherwise it wakes up to workers-1
// parked workers (no more than Size and GOMAXPROCS allow) and shares the
// items with them and with any other worker still spinning from an
// earlier Run. More than 65,535 items panics.
func (t *Team) Run(task Task, items, workers int) {
	if items > maxItems {
		panic(fmt.Sprintf("team: %d items, more than %d", items, maxItems))
	}
	workers = min(workers, items, t.size, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range items {
			task.RunItem(i, 0)
		}
		return
	}
	if t.stopped.Load() {
		panic("team: Run after Stop")
	}
	if workers > len(t.workers) {
		t.grow(workers)
	}
	t.task = task
	t.done.Store(0)
	gen := t.claim.Load()>>genShift + 1
	t.claim.Store(gen<<genShift | uint64(items)<<16)
	for _, w := range t.workers[1:workers] {
		if w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
	if n, _ := t.claimItems(gen, 0); n == 0 || t.done.Add(n) != int64(items) {
		t.awaitDone(int64(items))
	}
	t.task = nil
}

// claimItems runs items of generation gen on worker until none is left
// and returns how many it ran and the Run's item count.
func (t *Team) claimItems(gen uint64, worker int) (n, items int64) {
	for {
		c := t.claim.Load()
		g, total, next := unpack(c)
		if g != gen || next >= total {
			return n, int64(total)
		}
		if t.claim.CompareAndSwap(c, c+1) {
			t.task.RunItem(next, worker)
			n++
		}
	}
}

// Stop ends the workers once they finish what they are doing; the team
// must not Run again. It is idempotent.
func (t *Team) Stop() {
	if t.stopped.Swap(true) {
		return
	}
	t.claim.Store((t.claim.Load()>>genShift + 1) << genShift)
	for _, w := range t.workers[min(1, len(t.workers)):] {
		if w.parked.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
}

// grow starts the workers up to index workers-1 that are not running
// yet; they wait for the generation after the current one.
func (t *Team) grow(workers int) {
	if t.workers == nil {
		if t.Spin <= 0 {
			t.Spin = DefaultSpin
		}
		t.wake = make(chan struct{}, 1)
		t.workers = make([]*worker, 1, t.size)
	}
	seen := t.claim.Load() >> genShift
	for i := len(t.workers); i < workers; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		t.workers = append(t.workers, w)
		go t.work(i, w, seen)
	}
}

// work is worker i's loop: wait for a new generation, claim its items,
// and wake the caller when it finishes the Run's last item.
func (t *Team) work(i int, w *worker, seen uint64) {
	t.live.Add(1)
	defer t.live.Add(-1)
	for {
		seen = t.awaitGeneration(w, seen)
		if t.stopped.Load() {
			return
		}
		if n, items := t.claimItems(seen, i); n > 0 && t.done.Add(n) == items &&
			t.callerParked.CompareAndSwap(true, false) {
			t.wake <- struct{}{}
		}
	}
}

// awaitGeneration returns the generation once it differs from seen: it
// spins for t.Spin, then parks until the caller wakes it.
func (t *Team) awaitGeneration(w *worker, seen uint64) uint64 {
	if g, ok := spin(t.Spin, func() (uint64, bool) { g := t.claim.Load() >> genShift; return g, g != seen }); ok {
		return g
	}
	w.parked.Store(true)
	if g := t.claim.Load() >> genShift; g != seen {
		// It changed while we were parking: take the flag back, or, when
		// the caller already took it, take the token it sends.
		if !w.parked.CompareAndSwap(true, false) {
			<-w.wake
		}
		return g
	}
	<-w.wake
	return t.claim.Load() >> genShift
}

// awaitDone returns once items items of this Run are done: it spins for
// t.Spin, then parks until the worker that finishes the last one wakes
// it.
func (t *Team) awaitDone(items int64) {
	if _, ok := spin(t.Spin, func() (struct{}, bool) { return struct{}{}, t.done.Load() == items }); ok {
		return
	}
	t.callerParked.Store(true)
	if t.done.Load() == items && t.callerParked.CompareAndSwap(true, false) {
		return
	}
	<-t.wake
}

// spin calls cond until it reports true or d has passed, reading the
// clock every 64 calls.
func spin[T any](d time.Duration, cond func() (T, bool)) (T, bool) {
	var start time.Time
	for i := 1; ; i++ {
		if v, ok := cond(); ok {
			return v, true
		}
		if i&63 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) >= d {
				var zero T
				return zero, false
			}
		}
	}
}
