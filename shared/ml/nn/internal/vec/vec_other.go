//go:build !amd64

package vec

const useAVX512, useAVX2 = false, false

func adam8(n int, p, g, m, v *float64, c *AdamCoefficients) {}
func narrow8(n int, dst *float32, src *float64)             {}
func widen8(n int, dst *float64, src *float32)              {}
func sum8(n int, v *float32, s *[8]float64)                 {}
func adam4(n int, p, g, m, v *float64, c *AdamCoefficients) {}
func narrow4(n int, dst *float32, src *float64)             {}
func widen4(n int, dst *float64, src *float32)              {}
func sum4(n int, v *float32, s *[8]float64)                 {}
