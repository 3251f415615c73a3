package trees

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine a
// steadier figure than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchData is n rows of d standard-normal features whose label is the
// sign of a noisy linear score of the first half of them, like the
// synthetic rows of scripts/bench_trees.py's speed case.
func benchData(n, d int, seed uint64) Data {
	rng := rand.New(rand.NewPCG(seed, 3))
	data := Data{Features: d, Classes: 2, X: make([]float64, n*d), Y: make([]int, n)}
	for r := range n {
		s := rng.NormFloat64()
		for j := range d {
			v := rng.NormFloat64()
			data.X[r*d+j] = v
			if j < d/2 {
				s += v * float64(j%3+1) / 2
			}
		}
		if s > 0 {
			data.Y[r] = 1
		}
	}
	return data
}

// BenchmarkBoost fits 20 iterations on 200k × 20 rows (go test -bench
// Boost -run x ./shared/ml/trees/ -cpu 2; the peers' comparison is make
// bench-trees).
func BenchmarkBoost(b *testing.B) {
	d := benchData(200_000, 20, 1)
	o := DefaultBoostOptions()
	o.MaxIter = 20
	cpu := cpuTime()
	for b.Loop() {
		if _, err := Boost(context.Background(), d, Data{}, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-cpu).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkPredict scores 50k rows with 100 iterations of 31 leaves.
func BenchmarkPredict(b *testing.B) {
	d := benchData(100_000, 20, 1)
	m, err := Boost(context.Background(), d, Data{}, DefaultBoostOptions())
	if err != nil {
		b.Fatal(err)
	}
	x := benchData(50_000, 20, 2)
	out := make([]float64, 2*x.Rows())
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		m.PredictProba(x.X, x.Rows(), out)
	}
	b.ReportMetric(float64(x.Rows()*b.N)/(cpuTime()-cpu).Seconds(), "rows/cpu-s")
}

// BenchmarkPredictRowWalk is BenchmarkPredict walking each tree's own
// arrays row by row (PredictProba's path below flatMinRows rows), on one
// goroutine.
func BenchmarkPredictRowWalk(b *testing.B) {
	d := benchData(100_000, 20, 1)
	m, err := Boost(context.Background(), d, Data{}, DefaultBoostOptions())
	if err != nil {
		b.Fatal(err)
	}
	x := benchData(50_000, 20, 2)
	out := make([]float64, 2*x.Rows())
	raw := make([]float64, 1)
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		for r := range x.Rows() {
			m.predictRow(x.X[r*20:(r+1)*20], raw, out[2*r:2*r+2])
		}
	}
	b.ReportMetric(float64(x.Rows()*b.N)/(cpuTime()-cpu).Seconds(), "rows/cpu-s")
}
