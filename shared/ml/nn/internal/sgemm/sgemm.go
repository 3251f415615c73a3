package sgemm

import (
	"fmt"
	"sync"
)

// Tile sizes: the micro-kernel computes mr×nr of C (6×16 with AVX2 and in
// Go, 8×32 with AVX-512: set once by the kernel's init); kc is the block of
// K packed at a time (kc·(mr+nr)·4 bytes stay in L1/L2).
var mr, nr = 6, 16

const (
	maxTile = 8 * 32
	kc      = 256
)

// parallelWork is the number of multiply-adds below which a product stays
// on one goroutine: below it, starting goroutines costs more than it saves.
const parallelWork = 1 << 17

// Epilogue is what a product does with each element of C once op(A)·op(B)
// is summed, in this order: add C's old value (unless Overwrite), add the
// row's bias, clamp at 0 (ReLU), then gate. The zero Epilogue is BLAS's
// beta 1: C += op(A)·op(B). With AVX-512 the micro-kernel applies it while
// the tile is in registers, so a layer's bias and activation cost no pass
// over memory of their own.
type Epilogue struct {
	// Overwrite ignores C's old contents (BLAS beta 0) instead of adding
	// them: C need not be cleared first.
	Overwrite bool
	// Bias, when not nil, holds one value per row of C (at least m) added
	// to the row.
	Bias []float32
	// ReLU replaces every result not above 0 (NaN included) by 0.
	ReLU bool
	// Gate, when not nil, is an m×n matrix of row stride LDGate: where it
	// holds 0 the result becomes 0, elsewhere it is multiplied by
	// GateScale (which is used as given: 0 zeroes everything). That is the
	// backward pass of ReLU (gate = the activation) and of inverted
	// dropout (gate = the dropped activation, scale 1/(1-p)).
	Gate      []float32
	LDGate    int
	GateScale float32
}

// Epilogue flags of one K block, as the assembly kernel reads them.
const (
	epiAccumulate = 1 << iota // acc += C
	epiBias                   // acc += bias[i]
	epiReLU                   // acc = max(acc, 0)
	epiGate                   // acc = gate[i][j] != 0 ? acc*scale : 0
)

// tileEpilogue is the epilogue of one K block for one tile: bias starts at
// the tile's first row, gate at its first element.
type tileEpilogue struct {
	flags int
	bias  []float32
	gate  []float32
	ldg   int
	scale float32
}

// Context holds the packing buffers of products, reused from call to call
// so that a training step allocates nothing. A Context is not safe for
// concurrent use; the goroutines of one product each get their own buffers.
type Context struct {
	// Threads is the most goroutines one product uses; below 1 means 1.
	Threads int

	packB   []float32
	workers []worker
}

type worker struct {
	packA []float32
	acc   [maxTile]float32
}

// Gemm computes C += op(A)·op(B), C m×n with row stride ldc, op(A) m×k and
// op(B) k×n: A is m×k with row stride lda, or k×m when transA (op(A) its
// transpose); likewise B is k×n, or n×k when transB. Slices must be long
// enough for the shapes; it panics otherwise (an index out of range).
func (c *Context) Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int) {
	c.GemmEpilogue(transA, transB, m, n, k, a, lda, b, ldb, cm, ldc, Epilogue{})
}

// GemmEpilogue is Gemm with the epilogue ep applied to every element of C.
// A Bias shorter than m or a Gate too short for m×n panics.
func (c *Context) GemmEpilogue(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, cm []float32, ldc int, ep Epilogue) {
	c.gemm(transA, transB, m, n, k, a, lda, nil, b, ldb, nil, cm, ldc, ep)
}

// GemmPacked is GemmEpilogue with op(A) already packed whole into pa by
// PackA, when pa is not nil (a, lda and transA are then unused), and
// op(B) into pb by PackB, when pb is not nil (likewise b, ldb, transB):
// products that share an operand, or whose operand is produced in pieces
// by several goroutines, pack it once. The result is GemmEpilogue's, bit
// for bit.
func (c *Context) GemmPacked(transA, transB bool, m, n, k int, a []float32, lda int, pa []float32, b []float32, ldb int, pb []float32, cm []float32, ldc int, ep Epilogue) {
	if pa != nil && len(pa) < PackedALen(m, k) {
		panic(fmt.Sprintf("sgemm: packed A of %d values for %d×%d", len(pa), m, k))
	}
	if pb != nil && len(pb) < PackedBLen(k, n) {
		panic(fmt.Sprintf("sgemm: packed B of %d values for %d×%d", len(pb), k, n))
	}
	c.gemm(transA, transB, m, n, k, a, lda, pa, b, ldb, pb, cm, ldc, ep)
}

// PackedALen returns the length of a buffer that holds op(A), m×k,
// packed whole (PackA, GemmPacked).
func PackedALen(m, k int) int { return k * ((m + mr - 1) / mr) * mr }

// PackA packs op(A), m×k (A is m×k with row stride lda, or k×m when
// transA), whole into dst, PackedALen(m, k) long, for GemmPacked.
func PackA(transA bool, a []float32, lda, m, k int, dst []float32) {
	strips := (m + mr - 1) / mr
	for p0 := 0; p0 < k; p0 += kc {
		packA(transA, a, lda, p0, min(kc, k-p0), 0, m, dst[p0*strips*mr:])
	}
}

// PackedBLen returns the length of a buffer that holds op(B), k×n,
// packed whole (PackB, GemmPackedB).
func PackedBLen(k, n int) int { return k * ((n + nr - 1) / nr) * nr }

// PackB packs rows [p0, p1) of op(B), k×n (B is k×n with row stride ldb,
// or n×k when transB), into dst, PackedBLen(k, n) long, where GemmPacked
// reads them. Calls for disjoint row ranges write disjoint parts of dst
// and may run concurrently.
func PackB(transB bool, b []float32, ldb, k, n, p0, p1 int, dst []float32) {
	strips := (n + nr - 1) / nr
	for q := p0 / kc * kc; q < p1; q += kc {
		kb := min(kc, k-q)
		packBRows(transB, b, ldb, q, kb, n, max(p0, q), min(p1, q+kb), dst[q*strips*nr:])
	}
}

// gemm is GemmPacked, and GemmEpilogue with pa and pb nil.
func (c *Context) gemm(transA, transB bool, m, n, k int, a []float32, lda int, pa, b []float32, ldb int, pb []float32, cm []float32, ldc int, ep Epilogue) {
	if m == 0 || n == 0 {
		return
	}
	if ep.Bias != nil && len(ep.Bias) < m {
		panic(fmt.Sprintf("sgemm: %d biases for %d rows", len(ep.Bias), m))
	}
	if ep.Gate != nil && (ep.LDGate < n || len(ep.Gate) < (m-1)*ep.LDGate+n) {
		panic(fmt.Sprintf("sgemm: gate of %d values, stride %d, for %d×%d", len(ep.Gate), ep.LDGate, m, n))
	}
	if k == 0 {
		epilogueEmpty(m, n, cm, ldc, ep)
		return
	}
	threads := max(1, c.Threads)
	if m*n*k < parallelWork {
		threads = 1
	}
	mStrips, nStrips := (m+mr-1)/mr, (n+nr-1)/nr
	// Split the larger side of C; each goroutine packs what it needs of A.
	splitM := mStrips >= nStrips
	parts := mStrips
	if !splitM {
		parts = nStrips
	}
	threads = min(threads, parts)
	for len(c.workers) < threads {
		c.workers = append(c.workers, worker{})
	}
	if need := nStrips * nr * min(k, kc); pb == nil && len(c.packB) < need {
		c.packB = make([]float32, need)
	}
	for p0 := 0; p0 < k; p0 += kc {
		kb := min(kc, k-p0)
		blk := blockEpilogue{Epilogue: ep, flags: epiAccumulate}
		if p0 == 0 {
			if ep.Overwrite {
				blk.flags = 0
			}
			if ep.Bias != nil {
				blk.flags |= epiBias
			}
		}
		if p0+kb == k {
			if ep.ReLU {
				blk.flags |= epiReLU
			}
			if ep.Gate != nil {
				blk.flags |= epiGate
			}
		}
		packed := c.packB
		if pb != nil {
			packed = pb[p0*nStrips*nr:]
		} else {
			packB(transB, b, ldb, p0, kb, n, packed)
		}
		var packedA []float32
		if pa != nil {
			packedA = pa[p0*mStrips*mr:]
		}
		if threads == 1 {
			c.workers[0].run(transA, a, lda, packedA, p0, kb, m, n, 0, mStrips, 0, nStrips, packed, cm, ldc, &blk)
			continue
		}
		c.parallel(threads, parts, splitM, transA, a, lda, packedA, p0, kb, m, n, mStrips, nStrips, packed, cm, ldc, blk)
	}
}

// blockEpilogue is the epilogue of one K block: the caller's, and the
// flags that apply in this block.
type blockEpilogue struct {
	Epilogue
	flags int
}

// tile returns the epilogue of the tile whose first element is (i0, j0).
func (b *blockEpilogue) tile(i0, j0 int) tileEpilogue {
	t := tileEpilogue{flags: b.flags, ldg: b.LDGate, scale: b.GateScale}
	if b.flags&epiBias != 0 {
		t.bias = b.Bias[i0:]
	}
	if b.flags&epiGate != 0 {
		t.gate = b.Gate[i0*b.LDGate+j0:]
	}
	return t
}

// parallel runs one K block on threads goroutines, each taking a
// contiguous share of the parts (row strips when splitM, else column
// strips). It is a function of its own so that the closures' captures do
// not make the single-threaded path allocate.
func (c *Context) parallel(threads, parts int, splitM, transA bool, a []float32, lda int, pa []float32, p0, kb, m, n, mStrips, nStrips int, pb, cm []float32, ldc int, blk blockEpilogue) {
	var wg sync.WaitGroup
	for t := range threads {
		lo, hi := parts*t/threads, parts*(t+1)/threads
		w := &c.workers[t]
		wg.Go(func() {
			if splitM {
				w.run(transA, a, lda, pa, p0, kb, m, n, lo, hi, 0, nStrips, pb, cm, ldc, &blk)
			} else {
				w.run(transA, a, lda, pa, p0, kb, m, n, 0, mStrips, lo, hi, pb, cm, ldc, &blk)
			}
		})
	}
	wg.Wait()
}

// run computes the tiles of row strips [ms, me) and column strips [ns, ne)
// over the K block [p0, p0+kb).
func (w *worker) run(transA bool, a []float32, lda int, packed []float32, p0, kb, m, n, ms, me, ns, ne int, pb, cm []float32, ldc int, blk *blockEpilogue) {
	var pa []float32
	if packed != nil { // op(A)'s block packed whole: its strips from ms on
		pa = packed[ms*mr*kb:]
	} else {
		if need := (me - ms) * mr * kb; len(w.packA) < need {
			w.packA = make([]float32, need)
		}
		pa = w.packA
		packA(transA, a, lda, p0, kb, ms*mr, min(me*mr, m), pa)
	}
	for is := ms; is < me; is++ {
		ap := pa[(is-ms)*mr*kb : (is-ms+1)*mr*kb]
		i0 := is * mr
		rows := min(mr, m-i0)
		for js := ns; js < ne; js++ {
			bp := pb[js*nr*kb : (js+1)*nr*kb]
			j0 := js * nr
			cols := min(nr, n-j0)
			ep := blk.tile(i0, j0)
			if rows == mr && cols == nr && fullTile(kb, ap, bp, cm[i0*ldc+j0:], ldc, ep) {
				continue
			}
			acc := w.acc[:mr*nr]
			product(kb, ap, bp, acc)
			ep.apply(acc, rows, cols, cm[i0*ldc+j0:], ldc)
		}
	}
}

// apply writes the rows×cols corner of the tile product acc (row stride
// nr) through the epilogue into c: the same operations, in the same
// order, as the assembly epilogue.
func (t tileEpilogue) apply(acc []float32, rows, cols int, c []float32, ldc int) {
	for i := range rows {
		dst := c[i*ldc : i*ldc+cols]
		src := acc[i*nr : i*nr+cols]
		var gate []float32
		if t.flags&epiGate != 0 {
			gate = t.gate[i*t.ldg : i*t.ldg+cols]
		}
		for j, v := range src {
			if t.flags&epiAccumulate != 0 {
				v += dst[j]
			}
			if t.flags&epiBias != 0 {
				v += t.bias[i]
			}
			if t.flags&epiReLU != 0 && !(v > 0) {
				v = 0
			}
			if t.flags&epiGate != 0 {
				if gate[j] != 0 {
					v *= t.scale
				} else {
					v = 0
				}
			}
			dst[j] = v
		}
	}
}

// epilogueEmpty is the epilogue of a product over an empty K: the sum is 0.
func epilogueEmpty(m, n int, cm []float32, ldc int, ep Epilogue) {
	t := tileEpilogue{ldg: ep.LDGate, scale: ep.GateScale}
	if !ep.Overwrite {
		t.flags |= epiAccumulate
	}
	if ep.Bias != nil {
		t.flags |= epiBias
	}
	if ep.ReLU {
		t.flags |= epiReLU
	}
	if ep.Gate != nil {
		t.flags |= epiGate
	}
	var zero [maxTile]float32
	for i := 0; i < m; i++ {
		for j := 0; j < n; j += nr {
			if ep.Bias != nil {
				t.bias = ep.Bias[i:]
			}
			if ep.Gate != nil {
				t.gate = ep.Gate[i*ep.LDGate+j:]
			}
			t.apply(zero[:], 1, min(nr, n-j), cm[i*ldc+j:], ldc)
		}
	}
}

// packA writes rows [i0, i1) of op(A), columns [p0, p0+kb), as strips of
// mr rows: strip s holds, for each p, the mr values of rows i0+s·mr... at
// p, zero-padded past i1.
func packA(trans bool, a []float32, lda, p0, kb, i0, i1 int, dst []float32) {
	for s := i0; s < i1; s += mr {
		strip := dst[(s-i0)*kb : (s-i0+mr)*kb]
		rows := min(mr, i1-s)
		if rows < mr {
			clear(strip)
		}
		if trans { // op(A)[r][p] = A[p][r]: row p of A holds the strip's column
			for p := range kb {
				copy(strip[p*mr:p*mr+rows], a[(p0+p)*lda+s:(p0+p)*lda+s+rows])
			}
			continue
		}
		// Four rows of A per pass, so each pass writes four adjacent
		// values of every p (one pass per row wrote one).
		i := 0
		for ; i+4 <= rows; i += 4 {
			a0 := a[(s+i)*lda+p0 : (s+i)*lda+p0+kb]
			a1 := a[(s+i+1)*lda+p0 : (s+i+1)*lda+p0+kb]
			a2 := a[(s+i+2)*lda+p0 : (s+i+2)*lda+p0+kb]
			a3 := a[(s+i+3)*lda+p0 : (s+i+3)*lda+p0+kb]
			for p, v := range a0 {
				o := strip[p*mr+i : p*mr+i+4 : p*mr+i+4]
				o[0], o[1], o[2], o[3] = v, a1[p], a2[p], a3[p]
			}
		}
		for ; i < rows; i++ {
			for p, v := range a[(s+i)*lda+p0 : (s+i)*lda+p0+kb] {
				strip[p*mr+i] = v
			}
		}
	}
}

// packB writes op(B)'s rows [p0, p0+kb) as strips of nr columns: strip s
// holds, for each p, the nr values of columns s·nr... at p, zero-padded
// past n.
func packB(trans bool, b []float32, ldb, p0, kb, n int, dst []float32) {
	packBRows(trans, b, ldb, p0, kb, n, p0, p0+kb, dst)
}

// transBlock is the rows of op(B) a transposing pack fills at a time:
// transBlock·nr·4 bytes (2 KiB at nr 32) of the strip.
const transBlock = 16

// packBRows writes rows [r0, r1) of the K block [p0, p0+kb) of op(B) in
// packB's layout, touching nothing of dst outside those rows.
func packBRows(trans bool, b []float32, ldb, p0, kb, n, r0, r1 int, dst []float32) {
	for s := 0; s < n; s += nr {
		strip := dst[s*kb : (s+nr)*kb]
		cols := min(nr, n-s)
		if trans { // op(B)[p][j] = B[j][p]
			// A transpose, in blocks of transBlock rows so that the
			// strip's lines being filled stay in L1 while every column
			// writes its element of each.
			for q0 := r0; q0 < r1; q0 += transBlock {
				q1 := min(q0+transBlock, r1)
				j := 0
				for ; j+4 <= cols; j += 4 {
					b0 := b[(s+j)*ldb+q0 : (s+j)*ldb+q1]
					b1 := b[(s+j+1)*ldb+q0 : (s+j+1)*ldb+q1]
					b2 := b[(s+j+2)*ldb+q0 : (s+j+2)*ldb+q1]
					b3 := b[(s+j+3)*ldb+q0 : (s+j+3)*ldb+q1]
					b1, b2, b3 = b1[:len(b0)], b2[:len(b0)], b3[:len(b0)]
					for p, v := range b0 {
						o := strip[(q0-p0+p)*nr+j : (q0-p0+p)*nr+j+4 : (q0-p0+p)*nr+j+4]
						o[0], o[1], o[2], o[3] = v, b1[p], b2[p], b3[p]
					}
				}
				for ; j < cols; j++ {
					for p, v := range b[(s+j)*ldb+q0 : (s+j)*ldb+q1] {
						strip[(q0-p0+p)*nr+j] = v
					}
				}
			}
			if cols < nr {
				for p := r0 - p0; p < r1-p0; p++ {
					clear(strip[p*nr+cols : p*nr+nr])
				}
			}
			continue
		}
		for p := r0 - p0; p < r1-p0; p++ {
			seg := strip[p*nr : p*nr+nr]
			src := b[(p0+p)*ldb+s : (p0+p)*ldb+s+cols]
			copy(seg, src)
			if cols < nr {
				clear(seg[cols:])
			}
		}
	}
}

// productGo is the portable micro-kernel: acc[i·nr+j] = Σ_p a[p·mr+i]·b[p·nr+j]
// for the mr×nr tile.
func productGo(k int, a, b, acc []float32) {
	acc = acc[:mr*nr]
	clear(acc)
	for p := range k {
		ap := a[p*mr : p*mr+mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr : p*nr+nr]
		for i, ai := range ap {
			row := acc[i*nr : i*nr+nr : i*nr+nr]
			for j, bv := range bp {
				row[j] += ai * bv
			}
		}
	}
}

// Kernel names the micro-kernel products use on this CPU: "avx512 8x32",
// "avx2 6x16" or "go 6x16".
func Kernel() string {
	switch {
	case useAVX512:
		return fmt.Sprintf("avx512 %dx%d", mr, nr)
	case useAVX2:
		return fmt.Sprintf("avx2 %dx%d", mr, nr)
	}
	return fmt.Sprintf("go %dx%d", mr, nr)
}

// Tile returns the micro-kernel's tile, mr rows by nr columns of C. A
// product split into row ranges starting at multiples of mr, or column
// ranges starting at multiples of nr, computes the same tiles as the
// whole product.
func Tile() (rows, cols int) { return mr, nr }
