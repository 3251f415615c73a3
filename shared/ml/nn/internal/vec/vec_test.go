package vec

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func randoms(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

// withGo runs f with the Go loops instead of the assembly ones.
func withGo(f func()) {
	save512, save2 := useAVX512, useAVX2
	useAVX512, useAVX2 = false, false
	defer func() { useAVX512, useAVX2 = save512, save2 }()
	f()
}

// TestAVX2MatchesGo runs TestAssemblyMatchesGo with the AVX2 loops where
// the CPU has both.
func TestAVX2MatchesGo(t *testing.T) {
	if !useAVX512 || !useAVX2 {
		t.Skip("the AVX2 loops are the ones TestAssemblyMatchesGo checks, or absent")
	}
	useAVX512 = false
	defer func() { useAVX512 = true }()
	TestAssemblyMatchesGo(t)
}

// TestAssemblyMatchesGo checks that each assembly loop gives the Go loop's
// bits, on lengths with and without a tail, and that Adam is Adam.
func TestAssemblyMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := &AdamCoefficients{Beta1: 0.9, OneMinusBeta1: 1 - 0.9, Beta2: 0.999, OneMinusBeta2: 1 - 0.999,
		StepSize: 1e-3 / (1 - 0.9), InvSqrtBC2: 1 / math.Sqrt(1-0.999), Eps: 1e-8}
	for _, n := range []int{0, 1, 7, 8, 9, 64, 1000} {
		p, g := randoms(rng, n, 1), randoms(rng, n, 0.1)
		m, v := randoms(rng, n, 0.01), randoms(rng, n, 0.01)
		for i := range v {
			v[i] = math.Abs(v[i])
		}
		p2, m2, v2 := append(make([]float64, 0, n), p...), append(make([]float64, 0, n), m...), append(make([]float64, 0, n), v...)
		want := make([]float64, n)
		for i := range p {
			mi := 0.9*m[i] + 0.1*g[i]
			vi := 0.999*v[i] + 0.001*g[i]*g[i]
			want[i] = p[i] - c.StepSize*mi/(math.Sqrt(vi)*c.InvSqrtBC2+1e-8)
		}
		Adam(p, g, m, v, c)
		withGo(func() { Adam(p2, g, m2, v2, c) })
		require.Equal(t, p2, p, "n %d", n)
		require.Equal(t, m2, m)
		require.Equal(t, v2, v)
		for i := range p {
			require.InDelta(t, want[i], p[i], 1e-12, "n %d element %d", n, i)
		}

		f32, f32go := make([]float32, n), make([]float32, n)
		Narrow(f32, p)
		withGo(func() { Narrow(f32go, p) })
		require.Equal(t, f32go, f32)
		w, wgo := make([]float64, n), make([]float64, n)
		Widen(w, f32)
		withGo(func() { Widen(wgo, f32) })
		require.Equal(t, wgo, w)
		var s float64
		for _, x := range f32 {
			s += float64(x)
		}
		got := Sum(f32)
		var sgo float64
		withGo(func() { sgo = Sum(f32) })
		require.Equal(t, sgo, got)
		require.InDelta(t, s, got, 1e-9*float64(n+1))
	}
}
