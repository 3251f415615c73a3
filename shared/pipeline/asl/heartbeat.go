package asl

import (
	"context"
	"time"
)

type heartbeatKey struct{}

// Heartbeat tells the executor that the task running under ctx is alive;
// a Task with HeartbeatSeconds fails with States.HeartbeatTimeout when its
// handler goes longer than that without calling it. Outside a task it does
// nothing.
func Heartbeat(ctx context.Context) {
	if ch, ok := ctx.Value(heartbeatKey{}).(chan struct{}); ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func watchHeartbeat(ctx context.Context, beats <-chan struct{}, every time.Duration, cancel context.CancelCauseFunc) {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beats:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
			t.Reset(every)
		case <-t.C:
			cancel(errHeartbeatTimeout)
			return
		}
	}
}
