package cholesky

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly micro-kernel (AVX2 and FMA).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kernel4x8AVX2 is kernel4x8Go in AVX2 assembly (kernel_amd64.s); k ≥ 1.
//
//go:noescape
func kernel4x8AVX2(k int, a, b, out *float64)

func kernel4x8(k int, a, b, out []float64) {
	if !useAVX2 {
		kernel4x8Go(k, a, b, out)
		return
	}
	// Bounds the assembly relies on, checked here.
	_ = a[(k-1)*tile+3]
	_ = b[k*tile-1]
	_ = out[4*tile-1]
	kernel4x8AVX2(k, &a[0], &b[0], &out[0])
}

// dotLanesAVX2 is dotLanesGo in AVX2 assembly (kernel_amd64.s); k ≥ 1.
//
//go:noescape
func dotLanesAVX2(k int, x, v, acc *float64)

func dotLanes(x, v []float64, acc *[Lanes]float64) {
	if !useAVX2 {
		dotLanesGo(x, v, acc)
		return
	}
	_ = v[len(x)*Lanes-1]
	dotLanesAVX2(len(x), &x[0], &v[0], &acc[0])
}

// dotAVX2 and axpyAVX2 are dotGo and axpyGo in AVX2 assembly
// (kernel_amd64.s), in their own summation order.
//
//go:noescape
func dotAVX2(k int, x, y *float64) float64

//go:noescape
func axpyAVX2(k int, alpha float64, x, y *float64)

func dot(x, y []float64) float64 {
	if !useAVX2 || len(x) == 0 {
		return dotGo(x, y)
	}
	_ = y[len(x)-1]
	return dotAVX2(len(x), &x[0], &y[0])
}

func axpy(alpha float64, x, y []float64) {
	if !useAVX2 || len(x) == 0 {
		axpyGo(alpha, x, y)
		return
	}
	_ = y[len(x)-1]
	axpyAVX2(len(x), alpha, &x[0], &y[0])
}
