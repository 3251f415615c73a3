package training

import (
	"math"
	"slices"
)

// QuantileSketch is the Greenwald–Khanna ε-approximate quantile summary
// (M. Greenwald and S. Khanna, "Space-efficient online computation of
// quantile summaries", SIGMOD 2001): after n values, Quantile(φ) returns a
// value whose rank in the sorted values is within ε·n of φ·n, from
// O((1/ε)·log(ε·n)) stored tuples however large n grows.
//
// Values are added in batches (AddBatch sorts the batch and merges it into
// the summary in one walk, as the "GKArray" variant of Masson, Rim and Lee,
// "DDSketch", VLDB 2019, does), which costs a sort per batch instead of a
// slice insertion per value. Each new tuple gets Δ = g+Δ−1 of its successor
// (the tighter bound of the paper's Section 3), and a new minimum or
// maximum Δ = 0. The zero value is not usable; use NewQuantileSketch.
type QuantileSketch struct {
	eps     float64
	n       int
	entries []gkEntry
	merged  []gkEntry
	keys    []uint64
}

// gkEntry is one tuple (v, g, Δ): rmin(v_i) = Σ_{j≤i} g_j and
// rmax(v_i) = rmin(v_i) + Δ_i bound the rank of v_i.
type gkEntry struct {
	v        float64
	g, delta int
}

// NewQuantileSketch returns an empty sketch with rank error eps in (0, 1).
func NewQuantileSketch(eps float64) *QuantileSketch {
	return &QuantileSketch{eps: eps}
}

// Count is the number of values added.
func (q *QuantileSketch) Count() int { return q.n }

// Epsilon is the sketch's rank-error bound as a fraction of Count.
func (q *QuantileSketch) Epsilon() float64 { return q.eps }

// AddBatch adds the values of batch, which it sorts in place. NaN and ±Inf
// must not be among them.
func (q *QuantileSketch) AddBatch(batch []float64) {
	if len(batch) == 0 {
		return
	}
	q.keys = sortFloats(batch, q.keys)
	out := q.merged[:0]
	i := 0
	for _, e := range q.entries {
		for i < len(batch) && batch[i] < e.v {
			d := e.g + e.delta - 1
			if len(out) == 0 {
				d = 0 // a new minimum: its rank is known
			}
			out = append(out, gkEntry{v: batch[i], g: 1, delta: d})
			i++
		}
		out = append(out, e)
	}
	for ; i < len(batch); i++ {
		out = append(out, gkEntry{v: batch[i], g: 1}) // new maxima
	}
	q.n += len(batch)
	q.entries, q.merged = out, q.entries
	q.compress()
}

// compress merges neighbours while the GK invariant g_i + Δ_i ≤ ⌊2εn⌋
// allows it, keeping the first and last tuples (the exact minimum and
// maximum).
func (q *QuantileSketch) compress() {
	limit := int(math.Floor(2 * q.eps * float64(q.n)))
	e := q.entries
	if len(e) < 3 {
		return
	}
	// Walk from the right, folding e[i] into its right neighbour kept at
	// the write position.
	w := len(e) - 1
	for i := len(e) - 2; i >= 1; i-- {
		if e[i].g+e[w].g+e[w].delta <= limit {
			e[w].g += e[i].g
			continue
		}
		w--
		e[w] = e[i]
	}
	w--
	e[w] = e[0]
	q.entries = append(e[:0], e[w:]...)
}

// Quantile returns a value whose rank is within ε·Count of φ·Count (φ in
// [0, 1]); 0 when the sketch is empty.
func (q *QuantileSketch) Quantile(phi float64) float64 {
	if len(q.entries) == 0 {
		return 0
	}
	r := phi * float64(q.n)
	bound := q.eps * float64(q.n)
	rmin := 0
	for i, e := range q.entries {
		rmin += e.g
		if float64(rmin+e.delta) > r+bound {
			if i == 0 {
				return e.v
			}
			return q.entries[i-1].v
		}
	}
	return q.entries[len(q.entries)-1].v
}

// Size is the number of stored tuples.
func (q *QuantileSketch) Size() int { return len(q.entries) }

// sortFloats sorts v (no NaN) ascending, by an LSD radix sort of 16-bit
// digits on the IEEE 754 bits made order-preserving (the sign bit flipped
// for positives, every bit for negatives; Knuth TAOCP vol. 3, 5.2.5) when
// v is long enough to repay its four passes, by slices.Sort otherwise.
// scratch (grown as needed, returned for the next call) holds the keys.
func sortFloats(v []float64, scratch []uint64) []uint64 {
	n := len(v)
	if n < 4096 {
		slices.Sort(v)
		return scratch
	}
	if cap(scratch) < 2*n {
		scratch = make([]uint64, 2*n)
	}
	keys, tmp := scratch[:n], scratch[n:2*n]
	for i, x := range v {
		b := math.Float64bits(x)
		if b>>63 != 0 {
			b = ^b
		} else {
			b |= 1 << 63
		}
		keys[i] = b
	}
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, k := range keys {
			count[(k>>shift)&0xffff]++
		}
		if count[(keys[0]>>shift)&0xffff] == n {
			continue // every key has this digit: the pass would not move them
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for _, k := range keys {
			d := (k >> shift) & 0xffff
			tmp[count[d]] = k
			count[d]++
		}
		keys, tmp = tmp, keys
	}
	for i, b := range keys {
		if b>>63 != 0 {
			b &^= 1 << 63
		} else {
			b = ^b
		}
		v[i] = math.Float64frombits(b)
	}
	return scratch
}
