package affine

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// gonumLayer is the product Layer stands in for: z = bias, then gonum's
// Dgemm with beta 1.
func gonumLayer(w []float64, out, in int, b, a []float64, rows int) []float64 {
	z := make([]float64, out*rows)
	for o := range out {
		for j := range rows {
			z[o*rows+j] = b[o]
		}
	}
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas64.General{Rows: out, Cols: in, Stride: in, Data: w},
		blas64.General{Rows: in, Cols: rows, Stride: rows, Data: a},
		1, blas64.General{Rows: out, Cols: rows, Stride: rows, Data: z})
	return z
}

// TestLayerIsGonumsBits compares Layer with gonum's Dgemm bit for bit on
// shapes below, at and past the vector block and gonum's 64-wide blocks
// (in up to 150 crosses three of its k blocks), with zero and negative
// zero weights (skipped, as gonum skips them), values of every magnitude
// and signed zeros in a.
func TestLayerIsGonumsBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	draw := func() float64 {
		switch rng.IntN(12) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return rng.NormFloat64() * 1e200
		case 3:
			return rng.NormFloat64() * 1e-200
		}
		return rng.NormFloat64()
	}
	for _, shape := range [][3]int{{1, 1, 1}, {3, 7, 31}, {64, 10, 32}, {64, 10, 1024}, {32, 64, 1000}, {1, 32, 77}, {65, 150, 129}, {5, 3, 4096}} {
		out, in, rows := shape[0], shape[1], shape[2]
		w, b, a := make([]float64, out*in), make([]float64, out), make([]float64, in*rows)
		for i := range w {
			w[i] = draw()
		}
		for i := range b {
			b[i] = draw()
		}
		for i := range a {
			a[i] = draw()
		}
		if out > 2 {
			for l := range in {
				w[2*in+l] = 0 // an output with no weights: its bias
			}
		}
		want := gonumLayer(w, out, in, b, a, rows)
		got := make([]float64, out*rows)
		Layer(w, out, in, b, a, rows, got)
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				t.Fatalf("shape %v: z[%d] = %v (%#x), gonum %v (%#x)", shape, i, got[i], math.Float64bits(got[i]), want[i], math.Float64bits(want[i]))
			}
		}
	}
}

// TestLayerWithoutVectors: the scalar loop alone gives the same bits.
func TestLayerWithoutVectors(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2: TestLayerIsGonumsBits already ran the scalar loop")
	}
	useAVX2 = false
	t.Cleanup(func() { useAVX2 = true })
	TestLayerIsGonumsBits(t)
}

func BenchmarkLayer(b *testing.B) {
	const out, in, rows = 64, 10, 1024
	rng := rand.New(rand.NewPCG(1, 1))
	w, bias, a, z := make([]float64, out*in), make([]float64, out), make([]float64, in*rows), make([]float64, out*rows)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	b.Run("affine", func(b *testing.B) {
		for b.Loop() {
			Layer(w, out, in, bias, a, rows, z)
		}
	})
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			gonumLayer(w, out, in, bias, a, rows)
		}
	})
}
