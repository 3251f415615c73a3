package asltest

import (
	"sync"
	"time"
)

// Clock is a clock whose time moves only by Advance. The zero value is a
// clock at time zero with no timers. It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Duration
	timers []*timer
}

type timer struct {
	at   time.Duration
	f    func()
	done bool
}

// AfterFunc arranges for f to run once the clock has advanced by d, with
// the signature of asl.Executor's AfterFunc; the returned stop reports
// whether it kept f from running.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{at: c.now + d, f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		stopped := !t.done
		t.done = true
		return stopped
	}
}

// Advance moves the clock on by d and runs, in the caller's goroutine and
// earliest first, every timer that falls due. A timer set while Advance runs
// counts from the time Advance moved the clock to.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now += d
	for {
		var next *timer
		for _, t := range c.timers {
			if !t.done && t.at <= c.now && (next == nil || t.at < next.at) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.done = true
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.mu.Unlock()
}
