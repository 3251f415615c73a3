package sgemm

import "golang.org/x/sys/cpu"

// The micro-kernels of this CPU: AVX-512 (8×32 tiles, the epilogue fused)
// where the CPU and the OS have it, else AVX2 with FMA (6×16 tiles,
// accumulate only), else the Go one.
var (
	useAVX512 = cpu.X86.HasAVX512F
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

func init() {
	if useAVX512 {
		mr, nr = 8, 32
	}
}

// kernel6x16 is the AVX2 micro-kernel (kernel_amd64.s): c += the 6×16
// product of a k-step A strip and B strip; k >= 1.
//
//go:noescape
func kernel6x16(k int, a, b, c *float32, ldc int)

// kernel8x32 is the AVX-512 micro-kernel (kernel512_amd64.s): the 8×32
// product of a k-step A strip and B strip through the epilogue of flags
// into c; k >= 1. bias and gate are read only when their flags are set.
//
//go:noescape
func kernel8x32(k int, a, b, c *float32, ldc int, bias, gate *float32, ldg int, flags int, scale float32)

// fullTile computes a whole mr×nr tile with the epilogue ep into c when an
// assembly kernel can, and reports whether it did.
func fullTile(k int, a, b, c []float32, ldc int, ep tileEpilogue) bool {
	switch {
	case useAVX512:
		// Bounds the assembly relies on, checked once here.
		_ = a[k*mr-1]
		_ = b[k*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		var bias, gate *float32
		if ep.flags&epiBias != 0 {
			_ = ep.bias[mr-1]
			bias = &ep.bias[0]
		}
		if ep.flags&epiGate != 0 {
			_ = ep.gate[(mr-1)*ep.ldg+nr-1]
			gate = &ep.gate[0]
		}
		kernel8x32(k, &a[0], &b[0], &c[0], ldc, bias, gate, ep.ldg, ep.flags, ep.scale)
		return true
	case useAVX2 && ep.flags == epiAccumulate:
		_ = a[k*mr-1]
		_ = b[k*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		kernel6x16(k, &a[0], &b[0], &c[0], ldc)
		return true
	}
	return false
}

// product writes the mr×nr product of the strips to acc (row stride nr).
func product(k int, a, b, acc []float32) {
	switch {
	case useAVX512:
		_ = a[k*mr-1]
		_ = b[k*nr-1]
		_ = acc[mr*nr-1]
		kernel8x32(k, &a[0], &b[0], &acc[0], nr, nil, nil, 0, 0, 0)
	case useAVX2:
		_ = a[k*mr-1]
		_ = b[k*nr-1]
		clear(acc[:mr*nr])
		kernel6x16(k, &a[0], &b[0], &acc[0], nr)
	default:
		productGo(k, a, b, acc)
	}
}
