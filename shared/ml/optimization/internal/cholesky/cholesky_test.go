package cholesky

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spd returns a random n×n symmetric positive definite matrix (row stride
// stride, lower triangle filled): B·Bᵀ/n + I/10.
func spd(rng *rand.Rand, n, stride int) []float64 {
	b := make([]float64, n*n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	a := make([]float64, n*stride)
	for i := range n {
		for j := 0; j <= i; j++ {
			var s float64
			for p := range n {
				s += b[i*n+p] * b[j*n+p]
			}
			a[i*stride+j] = s / float64(n)
		}
		a[i*stride+i] += 0.1
	}
	return a
}

func TestFactorReconstructs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, Block, Block + 1, 2*Block + 5, 150} {
		stride := n + 3
		a := spd(rng, n, stride)
		orig := append([]float64(nil), a...)
		require.True(t, Factor(a, n, stride), "n=%d", n)
		for i := range n {
			for j := 0; j <= i; j++ {
				var s float64
				for p := 0; p <= j; p++ {
					s += a[i*stride+p] * a[j*stride+p]
				}
				assert.InDelta(t, orig[i*stride+j], s, 1e-12*float64(n), "n=%d (%d,%d)", n, i, j)
			}
			for j := i + 1; j < stride; j++ {
				assert.Equal(t, orig[i*stride+j], a[i*stride+j], "upper triangle written at n=%d (%d,%d)", n, i, j)
			}
		}
	}
}

// TestExtendRowMatchesFactor grows a factor row by row and requires every
// element to equal Factor's from scratch, bit for bit.
func TestExtendRowMatchesFactor(t *testing.T) {
	for _, n := range []int{3*Block + 9, parallelRows + 2*Block + 5} {
		extendMatchesFactor(t, n)
	}
}

// extendMatchesFactor is TestExtendRowMatchesFactor at size n (past
// parallelRows + Block, Factor shares its trailing updates among
// goroutines where GOMAXPROCS allows).
func extendMatchesFactor(t *testing.T, n int) {
	rng := rand.New(rand.NewPCG(3, uint64(n)))
	stride := n
	a := spd(rng, n, stride)
	full := append([]float64(nil), a...)
	require.True(t, Factor(full, n, stride))
	grown := make([]float64, n*stride)
	for i := range n {
		row := grown[i*stride : i*stride+i+1]
		copy(row[:i], a[i*stride:i*stride+i])
		piv := ExtendRow(grown, i, stride, row, a[i*stride+i])
		require.Greater(t, piv, 0.0)
		row[i] = math.Sqrt(piv)
	}
	for i := range n {
		for j := 0; j <= i; j++ {
			require.Equal(t, math.Float64bits(full[i*stride+j]), math.Float64bits(grown[i*stride+j]), "(%d,%d): %v vs %v", i, j, full[i*stride+j], grown[i*stride+j])
		}
	}
}

func TestFactorRejectsIndefinite(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    []float64
	}{
		{"negative pivot", []float64{1, 0, 2, 1}},
		{"NaN", []float64{math.NaN()}},
		{"zero", []float64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := int(math.Sqrt(float64(len(tc.a))))
			assert.False(t, Factor(tc.a, n, n))
		})
	}
	// A rank-deficient matrix larger than a block fails in the trailing part.
	n := 2*Block + 3
	a := make([]float64, n*n)
	for i := range n {
		for j := 0; j <= i; j++ {
			a[i*n+j] = 1
		}
	}
	assert.False(t, Factor(a, n, n))
}

// TestKernelMatchesGo checks the assembly micro-kernel against the Go one,
// bit for bit (both are FMA chains in the same order).
func TestKernelMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 micro-kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 3, Block} {
		a, b := make([]float64, k*tile), make([]float64, k*tile)
		for i := range a {
			a[i], b[i] = rng.NormFloat64(), rng.NormFloat64()
		}
		want, got := make([]float64, 4*tile), make([]float64, 4*tile)
		kernel4x8Go(k, a, b, want)
		kernel4x8(k, a, b, got)
		assert.Equal(t, want, got, "k=%d", k)
	}
}

func BenchmarkFactor(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{200, 1000} {
		a := spd(rng, n, n)
		w := make([]float64, len(a))
		b.Run(itoa(n), func(b *testing.B) {
			for b.Loop() {
				copy(w, a)
				if !Factor(w, n, n) {
					b.Fatal("not positive definite")
				}
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}

// TestSolveLanes checks the eight-lane forward substitution against a
// plain one per right-hand side, and the assembly against the Go order.
func TestSolveLanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 3, 4, 5, 67} {
		stride := n + 1
		l := spd(rng, n, stride)
		require.True(t, Factor(l, n, stride))
		v := make([]float64, n*Lanes)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		want := append([]float64(nil), v...)
		for c := range Lanes {
			for i := range n {
				s := want[i*Lanes+c]
				for p := range i {
					s -= l[i*stride+p] * want[p*Lanes+c]
				}
				want[i*Lanes+c] = s / l[i*stride+i]
			}
		}
		got := append([]float64(nil), v...)
		SolveLanes(l, n, stride, got)
		assert.InDeltaSlice(t, want, got, 1e-10, "n=%d", n)
		if useAVX2 {
			for k := 1; k <= n; k++ {
				var a, g [Lanes]float64
				dotLanesGo(l[(n-1)*stride:(n-1)*stride+k], v, &a)
				dotLanes(l[(n-1)*stride:(n-1)*stride+k], v, &g)
				require.Equal(t, a, g, "n=%d k=%d", n, k)
			}
		}
	}
}

// TestSolveLowerAndTranspose checks L·(L⁻¹x) = x and Lᵀ·(L⁻ᵀx) = x, and
// the assembly dot and axpy against plain loops, at lengths around their
// unrolling.
func TestSolveLowerAndTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 16, 17, 40} {
		stride := n + 2
		l := spd(rng, n, stride)
		require.True(t, Factor(l, n, stride))
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		f := append([]float64(nil), x...)
		SolveLower(l, n, stride, f)
		b := append([]float64(nil), x...)
		SolveLowerT(l, n, stride, b)
		for i := range n {
			var lf, ltb float64
			for p := 0; p <= i; p++ {
				lf += l[i*stride+p] * f[p]
			}
			for p := i; p < n; p++ {
				ltb += l[p*stride+i] * b[p]
			}
			assert.InDelta(t, x[i], lf, 1e-10, "n=%d L·L⁻¹x at %d", n, i)
			assert.InDelta(t, x[i], ltb, 1e-10, "n=%d Lᵀ·L⁻ᵀx at %d", n, i)
		}
		y := append([]float64(nil), f...)
		want := append([]float64(nil), f...)
		axpy(0.5, x, y)
		axpyGo(0.5, x, want)
		assert.Equal(t, want, y, "axpy n=%d", n)
		assert.InDelta(t, dotGo(x, f), dot(x, f), 1e-12*float64(n), "dot n=%d", n)
	}
}
