package vec

import "golang.org/x/sys/cpu"

var (
	useAVX512 = cpu.X86.HasAVX512F
	useAVX2   = cpu.X86.HasAVX2
)

// The AVX-512 loops (vec_amd64.s); n is a positive multiple of 8.

//go:noescape
func adam8(n int, p, grad, m, v *float64, c *AdamCoefficients)

//go:noescape
func narrow8(n int, dst *float32, src *float64)

//go:noescape
func widen8(n int, dst *float64, src *float32)

// sum8 adds v[i] to s[i%8] in float64.
//
//go:noescape
func sum8(n int, v *float32, s *[8]float64)

// The AVX2 loops (vec_amd64.s), four lanes at a time; n is a positive
// multiple of 8.

//go:noescape
func adam4(n int, p, grad, m, v *float64, c *AdamCoefficients)

//go:noescape
func narrow4(n int, dst *float32, src *float64)

//go:noescape
func widen4(n int, dst *float64, src *float32)

//go:noescape
func sum4(n int, v *float32, s *[8]float64)
