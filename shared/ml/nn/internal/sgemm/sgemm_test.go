package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// reference computes C += op(A)·op(B) in float64.
func reference(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			c[i*ldc+j] += s
		}
	}
}

func random(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestGemmMatchesReference checks every transpose combination on shapes
// that cover full and partial tiles, K beyond one packed block, strides
// wider than the matrices, and 1 to 3 goroutines; the result must agree with
// a float64 product to float32 rounding and be bit-identical across thread
// counts.
func TestGemmMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {6, 16, 8}, {7, 17, 9}, {64, 256, 8}, {1, 300, 256}, {256, 10, 1024}, {13, 5, 600}, {200, 200, 200}}
	for _, sh := range shapes {
		m, n, k := sh[0], sh[1], sh[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			t.Run(fmt.Sprintf("%dx%dx%d_%v", m, n, k, tr), func(t *testing.T) {
				lda, ldb, ldc := k+3, n+1, n+2
				if tr[0] {
					lda = m + 3
				}
				if tr[1] {
					ldb = k + 1
				}
				rowsA, rowsB := m, k
				if tr[0] {
					rowsA = k
				}
				if tr[1] {
					rowsB = n
				}
				a, b := random(rng, rowsA*lda), random(rng, rowsB*ldb)
				c0 := random(rng, m*ldc)
				want := make([]float64, len(c0))
				for i, v := range c0 {
					want[i] = float64(v)
				}
				reference(tr[0], tr[1], m, n, k, a, lda, b, ldb, want, ldc)
				var first []float32
				for threads := 1; threads <= 3; threads++ {
					got := append([]float32(nil), c0...)
					ctx := &Context{Threads: threads}
					ctx.Gemm(tr[0], tr[1], m, n, k, a, lda, b, ldb, got, ldc)
					for i := range m {
						for j := range ldc {
							w, g := want[i*ldc+j], float64(got[i*ldc+j])
							if j >= n {
								require.Equal(t, c0[i*ldc+j], got[i*ldc+j], "padding column %d touched", j)
								continue
							}
							require.InDelta(t, w, g, 1e-4*math.Sqrt(float64(k))*(1+math.Abs(w)), "C[%d][%d]", i, j)
						}
					}
					if first == nil {
						first = got
					} else {
						require.Equal(t, first, got, "threads %d differ from 1", threads)
					}
				}
			})
		}
	}
}

// TestKernelsAgree checks the assembly micro-kernel against the Go one,
// and its fused epilogue against the Go epilogue, on full tiles.
func TestKernelsAgree(t *testing.T) {
	if !useAVX2 && !useAVX512 {
		t.Skip("no assembly micro-kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const ldc = 40
	for _, k := range []int{1, 2, 7, 256} {
		a, b := random(rng, k*mr), random(rng, k*nr)
		got, want := make([]float32, mr*nr), make([]float32, mr*nr)
		product(k, a, b, got)
		productGo(k, a, b, want)
		for i := range got {
			require.InDelta(t, want[i], got[i], 1e-4*float64(k), "k %d element %d", k, i)
		}
		for flags := range epiGate << 1 {
			bias, gate := random(rng, mr), random(rng, mr*ldc)
			for i := range gate {
				if i%3 == 0 {
					gate[i] = 0
				}
			}
			ep := tileEpilogue{flags: flags, bias: bias, gate: gate, ldg: ldc, scale: 1.25}
			c0 := random(rng, mr*ldc)
			fused := append([]float32(nil), c0...)
			if !fullTile(k, a, b, fused, ldc, ep) {
				continue // AVX2 fuses accumulation only
			}
			byGo := append([]float32(nil), c0...)
			product(k, a, b, got)
			ep.apply(got, mr, nr, byGo, ldc)
			require.Equal(t, byGo, fused, "k %d flags %b", k, flags)
		}
	}
}

// TestGemmEpilogue checks every epilogue against the reference product
// followed by the same steps in float64, on partial and full tiles, K of
// one and of several blocks, and 1 and 2 goroutines.
func TestGemmEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][3]int{{8, 32, 16}, {19, 45, 7}, {64, 256, 300}, {1, 70, 0}, {33, 1, 9}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ep := range []Epilogue{
			{Overwrite: true},
			{Bias: random(rng, m)},
			{Overwrite: true, Bias: random(rng, m), ReLU: true},
			{Overwrite: true, Gate: random(rng, m*(n+3)), LDGate: n + 3, GateScale: 2},
			{ReLU: true, Gate: random(rng, m*(n+3)), LDGate: n + 3, GateScale: 0.5},
		} {
			for i := range ep.Gate {
				if i%4 == 1 {
					ep.Gate[i] = 0
				}
			}
			t.Run(fmt.Sprintf("%dx%dx%d_%v_%v_%v_%v", m, n, k, ep.Overwrite, ep.Bias != nil, ep.ReLU, ep.Gate != nil), func(t *testing.T) {
				ldc := n + 1
				a, b := random(rng, m*k), random(rng, k*n)
				c0 := random(rng, m*ldc)
				want := make([]float64, len(c0))
				if !ep.Overwrite {
					for i, v := range c0 {
						want[i] = float64(v)
					}
				}
				reference(false, false, m, n, k, a, k, b, n, want, ldc)
				for i := range m {
					for j := range n {
						w := want[i*ldc+j]
						if ep.Bias != nil {
							w += float64(ep.Bias[i])
						}
						if ep.ReLU {
							w = max(w, 0)
						}
						if ep.Gate != nil {
							if ep.Gate[i*ep.LDGate+j] == 0 {
								w = 0
							} else {
								w *= float64(ep.GateScale)
							}
						}
						want[i*ldc+j] = w
					}
				}
				var first []float32
				for threads := 1; threads <= 2; threads++ {
					got := append([]float32(nil), c0...)
					(&Context{Threads: threads}).GemmEpilogue(false, false, m, n, k, a, k, b, n, got, ldc, ep)
					for i := range m {
						for j := range ldc {
							if j >= n {
								require.Equal(t, c0[i*ldc+j], got[i*ldc+j], "padding column %d touched", j)
								continue
							}
							w := want[i*ldc+j]
							require.InDelta(t, w, float64(got[i*ldc+j]), 1e-4*math.Sqrt(float64(k+1))*(2+math.Abs(w)), "C[%d][%d]", i, j)
						}
					}
					if first == nil {
						first = got
					} else {
						require.Equal(t, first, got, "threads %d differ from 1", threads)
					}
				}
			})
		}
	}
}

// BenchmarkGemm measures square products (GFLOP/s).
func BenchmarkGemm(b *testing.B) {
	for _, n := range []int{64, 256} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("n%d_t%d", n, threads), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 1))
				a, bb, c := random(rng, n*n), random(rng, n*n), make([]float32, n*n)
				ctx := &Context{Threads: threads}
				for b.Loop() {
					ctx.Gemm(false, false, n, n, n, a, n, bb, n, c, n)
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func TestKernelNamesTileSize(t *testing.T) {
	require.Contains(t, Kernel(), fmt.Sprintf("%dx%d", mr, nr))
	t.Log(Kernel())
}

// TestGemmPackedMatches packs op(A) whole and op(B) in several pieces, as
// the nn engine's goroutines do, and checks that GemmPacked gives
// GemmEpilogue's result bit for bit, across K blocks and with partial
// strips.
func TestGemmPackedMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, trans := range []bool{false, true} {
		transA, transB := !trans, trans
		for _, sz := range [][3]int{{13, 45, 300}, {64, 8, 256}, {7, 70, 600}, {40, 33, 31}} {
			m, n, k := sz[0], sz[1], sz[2]
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			bias := make([]float32, m)
			for _, v := range [][]float32{a, b, bias} {
				for i := range v {
					v[i] = float32(rng.NormFloat64())
				}
			}
			lda, ldb := k, n
			if transA {
				lda = m
			}
			if transB {
				ldb = k
			}
			ep := Epilogue{Overwrite: true, Bias: bias, ReLU: true}
			var c Context
			want := make([]float32, m*n)
			c.GemmEpilogue(transA, transB, m, n, k, a, lda, b, ldb, want, n, ep)
			pb := make([]float32, PackedBLen(k, n))
			for i := range pb {
				pb[i] = float32(math.NaN()) // every element must be written
			}
			for _, cut := range [][2]int{{0, k / 3}, {k / 3, k / 3 * 2}, {k / 3 * 2, k}} {
				PackB(transB, b, ldb, k, n, cut[0], cut[1], pb)
			}
			pa := make([]float32, PackedALen(m, k))
			PackA(transA, a, lda, m, k, pa)
			for i, p := range [][2][]float32{{nil, pb}, {pa, nil}, {pa, pb}} {
				got := make([]float32, m*n)
				c.GemmPacked(transA, transB, m, n, k, a, lda, p[0], b, ldb, p[1], got, n, ep)
				require.Equal(t, want, got, "trans %v %v packing %d", trans, sz, i)
			}
		}
	}
}

// BenchmarkPackBTrans packs a transposed 256×256 op(B), the shape of a
// 256-unit layer's input in its gradient product at batch 256.
func BenchmarkPackBTrans(b *testing.B) {
	const k, n = 256, 256
	src := make([]float32, k*n)
	dst := make([]float32, PackedBLen(k, n))
	for b.Loop() {
		PackB(true, src, k, k, n, 0, k, dst)
	}
}

// BenchmarkPackA packs a 256×256 op(A) without transposition, the shape
// of a 256-unit layer's W in its forward product and of its delta in its
// gradient product at batch 256.
func BenchmarkPackA(b *testing.B) {
	const m, k = 256, 256
	src := make([]float32, m*k)
	dst := make([]float32, PackedALen(m, k))
	for b.Loop() {
		PackA(false, src, k, m, k, dst)
	}
}
