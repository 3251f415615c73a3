package asl

import (
	"context"
	"sync"
	"time"
)

type heartbeatKey struct{}

// Heartbeat tells the executor that the task running under ctx is alive;
// a Task with HeartbeatSeconds fails with States.HeartbeatTimeout when its
// handler goes longer than that without calling it. Outside a task it does
// nothing.
func Heartbeat(ctx context.Context) {
	if w, ok := ctx.Value(heartbeatKey{}).(*heartbeatWatch); ok {
		w.beat()
	}
}

// heartbeatWatch is the heartbeat clock of one running task: a timer of
// the executor's clock (Executor.AfterFunc) that each beat restarts, and
// that fails the task when it runs out.
type heartbeatWatch struct {
	mu      sync.Mutex
	after   func(time.Duration, func()) (stop func() bool)
	every   time.Duration
	expire  func()
	stop    func() bool
	expired bool
}

func startHeartbeatWatch(after func(time.Duration, func()) func() bool, every time.Duration, expire func()) *heartbeatWatch {
	w := &heartbeatWatch{after: after, every: every}
	w.expire = func() {
		w.mu.Lock()
		w.expired = true
		w.mu.Unlock()
		expire()
	}
	w.mu.Lock()
	w.stop = after(every, w.expire)
	w.mu.Unlock()
	return w
}

// beat restarts the timer, unless it already ran out: a late beat does not
// revive a task that timed out.
func (w *heartbeatWatch) beat() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.expired || !w.stop() {
		return
	}
	w.stop = w.after(w.every, w.expire)
}

// close stops the timer when the task ends.
func (w *heartbeatWatch) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stop()
}
