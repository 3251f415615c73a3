package vec

import "math"

// AdamCoefficients are the constants of one Adam step (Kingma and Ba,
// "Adam: A Method for Stochastic Optimization", ICLR 2015, Algorithm 1
// with the bias corrections folded into the step size as PyTorch does).
type AdamCoefficients struct {
	Beta1, OneMinusBeta1 float64
	Beta2, OneMinusBeta2 float64
	StepSize             float64 // lr / (1 - β1ᵗ)
	InvSqrtBC2           float64 // 1 / √(1 - β2ᵗ)
	Eps                  float64
}

// Adam updates p in place from its gradient g and the moments m and v
// (all of one length):
//
//	m = β1·m + (1-β1)·g
//	v = β2·v + (1-β2)·g·g
//	p = p - StepSize·m / (√v·InvSqrtBC2 + ε)
func Adam(p, g, m, v []float64, c *AdamCoefficients) {
	n := len(p)
	g, m, v = g[:n], m[:n], v[:n]
	i := 0
	switch {
	case n < 8:
	case useAVX512:
		i = n &^ 7
		adam8(i, &p[0], &g[0], &m[0], &v[0], c)
	case useAVX2:
		i = n &^ 7
		adam4(i, &p[0], &g[0], &m[0], &v[0], c)
	}
	for ; i < n; i++ {
		gi := g[i]
		mi := c.Beta1*m[i] + c.OneMinusBeta1*gi
		vi := c.Beta2*v[i] + c.OneMinusBeta2*gi*gi
		m[i], v[i] = mi, vi
		p[i] -= c.StepSize * mi / (math.Sqrt(vi)*c.InvSqrtBC2 + c.Eps)
	}
}

// Narrow writes float32(src[i]) to dst[i] for every i of src.
func Narrow(dst []float32, src []float64) {
	n := len(src)
	dst = dst[:n]
	i := 0
	switch {
	case n < 8:
	case useAVX512:
		i = n &^ 7
		narrow8(i, &dst[0], &src[0])
	case useAVX2:
		i = n &^ 7
		narrow4(i, &dst[0], &src[0])
	}
	for ; i < n; i++ {
		dst[i] = float32(src[i])
	}
}

// Widen writes float64(src[i]) to dst[i] for every i of src.
func Widen(dst []float64, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	switch {
	case n < 8:
	case useAVX512:
		i = n &^ 7
		widen8(i, &dst[0], &src[0])
	case useAVX2:
		i = n &^ 7
		widen4(i, &dst[0], &src[0])
	}
	for ; i < n; i++ {
		dst[i] = float64(src[i])
	}
}

// Sum returns the sum of v computed in float64. The order of the additions
// is fixed by len(v) alone (eight interleaved partial sums, then a fixed
// tree), so a given slice always gets the same bits.
func Sum(v []float32) float64 {
	var s [8]float64
	i := 0
	switch {
	case len(v) < 8:
	case useAVX512:
		i = len(v) &^ 7
		sum8(i, &v[0], &s)
	case useAVX2:
		i = len(v) &^ 7
		sum4(i, &v[0], &s)
	default:
		for ; i+8 <= len(v); i += 8 {
			for j := range s {
				s[j] += float64(v[i+j])
			}
		}
	}
	for j := 0; i < len(v); i, j = i+1, j+1 {
		s[j] += float64(v[i])
	}
	return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}
