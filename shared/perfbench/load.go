package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/orrery-ml/orrery/shared/dataset"
)

// benchLoad reads the CSV and Parquet tables on both sides, each read in a
// fresh process (ours: perfbench load FILE), with the same number of
// threads on both sides: ours under GOMAXPROCS=T, pyarrow with
// pyarrow.set_cpu_count(T) and use_threads=(T > 1). pandas' C engine has
// one thread only, so it is compared with ours at one thread.
//
// The reads alternate, ours then the peers, Repeat times, and each side
// keeps its median: a load swing on the shared machine then hits both
// sides alike instead of one row. (The earlier harness measured ours
// afresh for each row, three reads of ours then three of the peer: the
// two CSV rows' "ours" came from different minutes of a machine at load
// 20–40 and the pandas row compared ours on every core with pandas on
// one, which is why 0.91× pyarrow and 0.97× pandas disagreed although
// pandas is 2–4× slower than pyarrow.)
func benchLoad(ctx context.Context, s settings) ([]Row, error) {
	csvPath, pqPath, err := loadTables(ctx, s.Dir, s.LoadRows, s.LoadCols)
	if err != nil {
		return nil, err
	}
	matrixMB := float64(s.LoadRows*s.LoadCols*4) / (1 << 20)
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	size := fmt.Sprintf("%sx%d", countLabel(s.LoadRows), s.LoadCols)
	type side struct {
		run  func() (map[string]any, error)
		ms   []loadMeas
		name string
	}
	var rows []Row
	for _, c := range []struct {
		file, path string
		threads    int
		peers      []string
		goals      []float64
	}{
		{"csv", csvPath, 1, []string{"load-csv-pandas", "load-csv-pyarrow"}, []float64{2, 0.8}},
		{"csv", csvPath, s.LoadThreads, []string{"load-csv-pyarrow"}, []float64{0.8}},
		{"parquet", pqPath, s.LoadThreads, []string{"load-parquet-pyarrow"}, []float64{1}},
	} {
		if c.threads == 1 && c.file == "csv" && s.LoadThreads == 1 && len(rows) > 0 {
			continue
		}
		threads := strconv.Itoa(c.threads)
		sides := []*side{{run: func() (map[string]any, error) { return child(ctx, self, c.path, c.threads) }}}
		for _, kind := range c.peers {
			sides = append(sides, &side{run: func() (map[string]any, error) {
				return peer(ctx, s.PyBench, s.Peers, nil, kind, c.path, threads)
			}})
		}
		for range s.Repeat {
			for _, sd := range sides {
				v, err := sd.run()
				if err != nil {
					return nil, err
				}
				sd.ms = append(sd.ms, loadMeas{num(v, "seconds"), num(v, "cpu_seconds"), num(v, "peak_rss_mb")})
				sd.name = str(v, "peer")
			}
		}
		o := medianMeas(sides[0].ms)
		name := fmt.Sprintf("%s %s, %d thread", c.file, size, c.threads)
		if c.threads > 1 {
			name += "s"
		}
		for i, sd := range sides[1:] {
			p := medianMeas(sd.ms)
			peerName := sd.name
			if strings.Contains(c.peers[i], "pandas") {
				peerName += " (C engine)"
			}
			oc, pc := medianCPU(sides[0].ms), medianCPU(sd.ms)
			note := fmt.Sprintf("peak RSS ours %.0f MB (%.2fx the float32 matrix of %.0f MB), peer %.0f MB; wall ours %s, peer %s; "+
				"CPU (user+sys) ours %.3f s, peer %.3f s: %.2fx",
				o.rss, o.rss/matrixMB, matrixMB, p.rss, spread(sides[0].ms), spread(sd.ms), oc, pc, pc/oc)
			row := newRow("load", name, "s", o.seconds, p.seconds, c.goals[i], peerName, note)
			row.OursCPU, row.PeerCPU = oc, pc
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// loadMeas is one read: its wall and CPU (user+sys, every thread)
// seconds and the process's peak RSS. On a loaded machine the CPU time
// is the steadier of the two; at one thread it is what the wall time
// would be on a quiet one.
type loadMeas struct{ seconds, cpu, rss float64 }

// medianCPU returns the median CPU seconds of the reads.
func medianCPU(ms []loadMeas) float64 {
	c := make([]float64, len(ms))
	for i, m := range ms {
		c[i] = m.cpu
	}
	slices.Sort(c)
	return c[len(c)/2]
}

// medianMeas returns the read of median time (its RSS with it).
func medianMeas(ms []loadMeas) loadMeas {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b loadMeas) int {
		if a.seconds < b.seconds {
			return -1
		}
		return 1
	})
	return ms[len(ms)/2]
}

// spread shows the fastest and slowest of the reads, so that a noisy row
// can be told from a quiet one.
func spread(ms []loadMeas) string {
	lo, hi := ms[0].seconds, ms[0].seconds
	for _, m := range ms {
		lo, hi = min(lo, m.seconds), max(hi, m.seconds)
	}
	return fmt.Sprintf("%.3f–%.3f s", lo, hi)
}

// child runs one load of ours in a fresh process with GOMAXPROCS=threads.
func child(ctx context.Context, self, path string, threads int) (map[string]any, error) {
	cmd := exec.CommandContext(ctx, self, "load", path)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("perfbench load %s: %w", path, err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("perfbench load %s output %q: %w", path, b, err)
	}
	return v, nil
}

// loadChild is `perfbench load FILE`: it reads FILE into a dataset table
// and prints the seconds, the threads (GOMAXPROCS) and the peak RSS of
// the process.
func loadChild(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: perfbench load FILE")
	}
	if runtime.GOMAXPROCS(0) == 1 {
		if err := pinToOneCPU(); err != nil {
			return err
		}
	}
	cpu0 := cpuSeconds()
	start := time.Now()
	t, err := dataset.Read(context.Background(), args[0])
	if err != nil {
		return err
	}
	seconds := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	rss, err := peakRSSMB()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"peer": "orrery", "seconds": seconds, "cpu_seconds": cpu,
		"rows": t.Rows, "cols": len(t.Columns), "threads": runtime.GOMAXPROCS(0), "peak_rss_mb": rss})
}

// pinToOneCPU binds every thread of the process, and so every thread it
// starts later, to the lowest CPU it may run on. The one-thread rows pin
// both sides: GOMAXPROCS=1 bounds the Go code, but pandas' C engine, "one
// thread", keeps a second core busy (pandas 3.1: 0.76 CPU-seconds in a
// 0.40 s read of the 2M x 10 file, 0.74-0.90 s wall when pinned), so an
// unpinned comparison set one core against two. scripts/bench_peers.py
// pins its side the same way.
func pinToOneCPU() error {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to one CPU: %w", err)
	}
	cpu := -1
	for c := range 1024 {
		if set.IsSet(c) {
			cpu = c
			break
		}
	}
	if cpu < 0 {
		return fmt.Errorf("pin to one CPU: the affinity mask is empty")
	}
	set.Zero()
	set.Set(cpu)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("pin to one CPU: %w", err)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("pin thread %d to CPU %d: %w", tid, cpu, err)
		}
	}
	return nil
}

// cpuSeconds is the process's user+sys time so far, every thread.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSSMB returns the process's peak RSS in MiB: VmHWM of
// /proc/self/status. (getrusage's ru_maxrss is no use here: on Linux a
// child inherits its parent's peak across fork and exec.)
func peakRSSMB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					return 0, err
				}
				return kb / 1024, nil
			}
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
