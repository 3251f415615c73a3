package team

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counts records how often each item ran and on which worker.
type counts struct {
	runs    []atomic.Int64
	data    []int // each item writes its own element: the race detector checks the hand-offs
	workers int
	bad     atomic.Int64 // items run on a worker index out of range
}

func (c *counts) RunItem(item, worker int) {
	c.runs[item].Add(1)
	c.data[item]++
	if worker < 0 || worker >= c.workers {
		c.bad.Add(1)
	}
}

func newCounts(items, workers int) *counts {
	return &counts{runs: make([]atomic.Int64, items), data: make([]int, items), workers: workers}
}

// TestRunExecutesEachItemOnce runs many fork-joins with varying item and
// worker counts, with the default spin (hand-offs while spinning) and a
// spin of 1ns (almost every hand-off through parking): every item of
// every Run must execute exactly once on a worker of the team, and the
// caller must see the items' writes when Run returns.
func TestRunExecutesEachItemOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, spin := range []time.Duration{0, time.Nanosecond} {
		t.Run(spin.String(), func(t *testing.T) {
			tm, err := New(4)
			require.NoError(t, err)
			defer tm.Stop()
			tm.Spin = spin
			for r := range 2000 {
				items, workers := 1+r%9, 1+r%4
				c := newCounts(items, 4)
				tm.Run(c, items, workers)
				for i := range items {
					require.Equal(t, int64(1), c.runs[i].Load(), "run %d item %d", r, i)
					require.Equal(t, 1, c.data[i], "run %d item %d", r, i)
				}
				require.Zero(t, c.bad.Load(), "run %d", r)
			}
		})
	}
}

// TestRunInOrderOnOneWorker checks that one worker, or one goroutine of
// GOMAXPROCS, runs the items in order on the caller without starting the
// team, and that a team of 1 never starts a goroutine.
func TestRunInOrderOnOneWorker(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var order []int
	task := orderTask{&order}
	tm, err := New(4)
	require.NoError(t, err)
	tm.Run(task, 3, 4) // GOMAXPROCS 1
	runtime.GOMAXPROCS(4)
	tm.Run(task, 2, 1)
	require.Equal(t, []int{0, 1, 2, 0, 1}, order)
	require.Nil(t, tm.workers)
	tm.Stop()

	one, err := New(1)
	require.NoError(t, err)
	one.Run(task, 4, 4)
	require.Nil(t, one.workers)
	one.Stop()
}

type orderTask struct{ order *[]int }

func (o orderTask) RunItem(item, worker int) {
	if worker == 0 {
		*o.order = append(*o.order, item)
	}
}

// TestRunAllocatesNothing checks the steady state: a Run allocates
// nothing, whether the workers are spinning or parked.
func TestRunAllocatesNothing(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, spin := range []time.Duration{0, time.Nanosecond} {
		tm, err := New(2)
		require.NoError(t, err)
		tm.Spin = spin
		c := newCounts(8, 2)
		tm.Run(c, 8, 2)
		require.Zero(t, testing.AllocsPerRun(200, func() { tm.Run(c, 8, 2) }), "spin %v", spin)
		tm.Stop()
	}
}

// TestStopEndsWorkers checks that workers start as Runs need them and
// that Stop ends every one, from spinning and from parked.
func TestStopEndsWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, spin := range []time.Duration{0, time.Nanosecond} {
		tm, err := New(4)
		require.NoError(t, err)
		tm.Spin = spin
		tm.Run(newCounts(4, 2), 4, 2)
		require.Eventually(t, func() bool { return tm.live.Load() == 1 }, time.Minute, time.Millisecond)
		tm.Run(newCounts(9, 4), 9, 9)
		require.Eventually(t, func() bool { return tm.live.Load() == 3 }, time.Minute, time.Millisecond)
		tm.Stop()
		tm.Stop()
		require.Eventually(t, func() bool { return tm.live.Load() == 0 }, time.Minute, time.Millisecond)
		require.Panics(t, func() { tm.Run(newCounts(4, 2), 4, 2) })
	}
}

func TestRejects(t *testing.T) {
	_, err := New(0)
	require.ErrorContains(t, err, "0 goroutines")
	_, err = New(1<<16 + 1)
	require.Error(t, err)
	tm, err := New(2)
	require.NoError(t, err)
	require.PanicsWithValue(t, "team: 65536 items, more than 65535", func() { tm.Run(newCounts(1, 1), 1<<16, 2) })
}

type nop struct{}

func (nop) RunItem(int, int) {}

// BenchmarkRun is the cost of one fork-join of empty items on 2
// goroutines, the hand-off a split training step pays three times.
func BenchmarkRun(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	tm, err := New(2)
	require.NoError(b, err)
	defer tm.Stop()
	for b.Loop() {
		tm.Run(nop{}, 8, 2)
	}
}
