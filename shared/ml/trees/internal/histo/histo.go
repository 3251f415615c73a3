package histo

import "fmt"

// Bins is how many bins a feature's histogram has (bin 0 for missing
// values, 255 value bins).
const Bins = 256

// Width is how many float64 one bin holds: the gradient sum, the hessian
// sum, the row count and a pad.
const Width = 4

// Hist is one feature's histogram: bin b is h[Width*b : Width*b+3].
type Hist = [Bins * Width]float64

// Ordered adds, for every i of ba, row i's gradient pair (ord[2i],
// ord[2i+1]) and a count of one to bin ba[i] of ha.
func Ordered(ha *Hist, ba []uint8, ord []float64) {
	n := len(ba)
	ord = ord[:2*n]
	if useAVX2 && n > 0 {
		addOrdered1(n, &ha[0], &ba[0], &ord[0])
		return
	}
	for i, a := range ba {
		add(ha, a, ord[2*i], ord[2*i+1])
	}
}

// Ordered2 is Ordered for two features at once (ba into ha, bb into hb),
// each gradient pair read once for both.
func Ordered2(ha, hb *Hist, ba, bb []uint8, ord []float64) {
	n := len(ba)
	bb, ord = bb[:n], ord[:2*n]
	if useAVX2 && n > 0 {
		addOrdered2(n, &ha[0], &hb[0], &ba[0], &bb[0], &ord[0])
		return
	}
	for i, a := range ba {
		g, h := ord[2*i], ord[2*i+1]
		add(ha, a, g, h)
		add(hb, bb[i], g, h)
	}
}

// Indexed adds, for every i of rows, the gradient pair (ord[2i], ord[2i+1])
// and a count of one to bin ba[rows[i]] of ha. rows must be ascending and
// within ba (the last row is checked: the assembly does not check each).
func Indexed(ha *Hist, ba []uint8, rows []int32, ord []float64) {
	n := len(rows)
	if n == 0 {
		return
	}
	checkRows(rows, len(ba))
	ord = ord[:2*n]
	if useAVX2 {
		addIndexed1(n, &ha[0], &ba[0], &rows[0], &ord[0])
		return
	}
	for i, r := range rows {
		add(ha, ba[r], ord[2*i], ord[2*i+1])
	}
}

// Indexed2 is Indexed for two features at once.
func Indexed2(ha, hb *Hist, ba, bb []uint8, rows []int32, ord []float64) {
	n := len(rows)
	if n == 0 {
		return
	}
	checkRows(rows, min(len(ba), len(bb)))
	ord = ord[:2*n]
	if useAVX2 {
		addIndexed2(n, &ha[0], &hb[0], &ba[0], &bb[0], &rows[0], &ord[0])
		return
	}
	for i, r := range rows {
		g, h := ord[2*i], ord[2*i+1]
		add(ha, ba[r], g, h)
		add(hb, bb[r], g, h)
	}
}

// Rows adds, for every row r of rows, the gradient pair (gh[2r], gh[2r+1])
// and a count of one to histogram f of hs at bin bins[r*width+f], for f
// below len(hs), from a row-major bin matrix of width columns. A node's
// rows read this way touch a cache line or two each, where a column-major
// pass touches one a feature; and the gradients need no gather. rows must
// be ascending and within the matrix and gh.
func Rows(hs []Hist, bins []uint8, width int, rows []int32, gh []float64) {
	n, nf := len(rows), len(hs)
	if n == 0 || nf == 0 {
		return
	}
	if nf > width {
		panic(fmt.Sprintf("histo: %d histograms from a matrix %d columns wide", nf, width))
	}
	checkRows(rows, len(gh)/2)
	if last := int(rows[n-1]); last*width+nf > len(bins) {
		panic(fmt.Sprintf("histo: row %d outside a matrix of %d bins, %d a row", last, len(bins), width))
	}
	if useAVX2 {
		addRows(n, nf, width, &hs[0][0], &bins[0], &rows[0], &gh[0])
		return
	}
	for _, r := range rows {
		g, h := gh[2*r], gh[2*r+1]
		row := bins[int(r)*width : int(r)*width+nf]
		for f, b := range row {
			add(&hs[f], b, g, h)
		}
	}
}

func add(hs *Hist, b uint8, g, h float64) {
	v := (*[Width]float64)(hs[Width*uint(b) : Width*uint(b)+Width])
	v[0] += g
	v[1] += h
	v[2]++
}

func checkRows(rows []int32, n int) {
	if first, last := rows[0], rows[len(rows)-1]; first < 0 || int(last) >= n || first > last {
		panic(fmt.Sprintf("histo: rows %d..%d outside a column of %d", first, last, n))
	}
}
