package optimization

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// sobolInit holds, for dimensions 2 to 21, the degree s, the coefficients a
// and the initial direction numbers m of the primitive polynomials of Joe &
// Kuo 2008, "Constructing Sobol sequences with better two-dimensional
// projections" (SIAM J. Sci. Comput. 30:2635, table new-joe-kuo-6.21201).
var sobolInit = []struct {
	s, a int
	m    []uint32
}{
	{1, 0, []uint32{1}},
	{2, 1, []uint32{1, 3}},
	{3, 1, []uint32{1, 3, 1}},
	{3, 2, []uint32{1, 1, 1}},
	{4, 1, []uint32{1, 1, 3, 3}},
	{4, 4, []uint32{1, 3, 5, 13}},
	{5, 2, []uint32{1, 1, 5, 5, 17}},
	{5, 4, []uint32{1, 1, 5, 5, 5}},
	{5, 7, []uint32{1, 1, 7, 11, 19}},
	{5, 11, []uint32{1, 1, 5, 1, 1}},
	{5, 13, []uint32{1, 1, 1, 3, 11}},
	{5, 14, []uint32{1, 3, 5, 5, 31}},
	{6, 1, []uint32{1, 3, 3, 9, 7, 49}},
	{6, 13, []uint32{1, 1, 1, 15, 21, 21}},
	{6, 16, []uint32{1, 3, 1, 13, 27, 49}},
	{6, 19, []uint32{1, 1, 1, 15, 7, 5}},
	{6, 22, []uint32{1, 3, 1, 15, 13, 25}},
	{6, 25, []uint32{1, 1, 5, 5, 19, 61}},
	{7, 1, []uint32{1, 3, 7, 11, 23, 15, 103}},
	{7, 4, []uint32{1, 3, 7, 13, 13, 15, 69}},
}

// sobolBits is the precision of the generated points.
const sobolBits = 32

// sobolMaxDim is the number of dimensions with Sobol direction numbers;
// further dimensions are filled with pseudo-random numbers.
const sobolMaxDim = 21

// sobol generates a scrambled Sobol sequence: the direction numbers of Joe &
// Kuo are scrambled with a random lower-triangular binary matrix and the
// points given a random digital shift (Matoušek 1998, "On the L2-discrepancy
// for anchored boxes", J. Complexity 14:527 — the "linear matrix scramble"
// that scipy.stats.qmc.Sobol also uses). The same seed gives the same
// sequence, so point i can be recomputed in a later invocation.
type sobol struct {
	dim   int
	v     [][sobolBits]uint32
	shift []uint32
	rng   *rand.Rand
}

func newSobol(dim int, seed uint64) *sobol {
	rng := rand.New(rand.NewPCG(seed, 0x50b01))
	s := &sobol{dim: dim, rng: rng}
	for j := range min(dim, sobolMaxDim) {
		var v [sobolBits]uint32
		if j == 0 {
			for k := range sobolBits {
				v[k] = 1 << (sobolBits - 1 - k)
			}
		} else {
			p := sobolInit[j-1]
			for k := 0; k < p.s && k < sobolBits; k++ {
				v[k] = p.m[k] << (sobolBits - 1 - k)
			}
			for k := p.s; k < sobolBits; k++ {
				x := v[k-p.s] ^ (v[k-p.s] >> p.s)
				for l := 1; l < p.s; l++ {
					if (p.a>>(p.s-1-l))&1 == 1 {
						x ^= v[k-l]
					}
				}
				v[k] = x
			}
		}
		// Linear matrix scramble: bit b (from the most significant) of a
		// scrambled number is the parity of the number masked by row b of
		// a random unit lower-triangular matrix.
		var rows [sobolBits]uint32
		for b := range sobolBits {
			diag := uint32(1) << (sobolBits - 1 - b)
			above := ^(diag<<1 - 1) // more significant bits
			if b == 0 {
				above = 0
			}
			rows[b] = diag | (rng.Uint32() & above)
		}
		for k := range sobolBits {
			var out uint32
			for b := range sobolBits {
				if bits.OnesCount32(v[k]&rows[b])&1 == 1 {
					out |= 1 << (sobolBits - 1 - b)
				}
			}
			v[k] = out
		}
		s.v = append(s.v, v)
		s.shift = append(s.shift, rng.Uint32())
	}
	return s
}

// point writes point i of the sequence into u (length dim), in [0, 1).
// Dimensions beyond sobolMaxDim get pseudo-random values from a generator
// seeded with i.
func (s *sobol) point(i uint64, u []float64) {
	gray := i ^ (i >> 1)
	for j := range min(s.dim, sobolMaxDim) {
		x := s.shift[j]
		for k := 0; gray>>k != 0 && k < sobolBits; k++ {
			if (gray>>k)&1 == 1 {
				x ^= s.v[j][k]
			}
		}
		u[j] = (float64(x) + 0.5) / math.Exp2(sobolBits)
	}
	if s.dim > sobolMaxDim {
		r := rand.New(rand.NewPCG(i, uint64(s.dim)))
		for j := sobolMaxDim; j < s.dim; j++ {
			u[j] = r.Float64()
		}
	}
}
