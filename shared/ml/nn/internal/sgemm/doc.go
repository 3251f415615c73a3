// Package sgemm is the float32 matrix product of the nn engine:
// C = f(op(A)·op(B) + C) for row-major matrices, op the identity or the
// transpose, as BLAS sgemm with alpha 1 and beta 1 (Gemm), or with an
// Epilogue (GemmEpilogue): beta 0, a per-row bias, ReLU and a gate, which
// is how nn fuses a layer's bias and activation into its forward product
// and the ReLU and dropout derivatives into its backward one.
//
// It follows the structure of Goto and van de Geijn, "Anatomy of
// high-performance matrix multiplication" (ACM TOMS 34(3), 2008), and
// BLIS: op(B) is packed into K×nr column strips and op(A) into mr×K row
// strips, contiguous in the order the micro-kernel reads them, and an
// mr×nr micro-kernel accumulates one tile of C in registers over a block
// of K. On amd64 with AVX-512 the micro-kernel is 8×32 assembly (sixteen
// 16-wide accumulators, one broadcast of A per row and two loads of B per
// step) that applies the epilogue before it stores the tile; with AVX2 and
// FMA it is 6×16 assembly (twelve 8-wide accumulators) and the epilogue
// runs in Go on the tile; elsewhere both are plain Go. GemmPacked takes
// operands already packed whole (PackA, PackB; B may be packed by row
// ranges from several goroutines), for products that share one. With
// Context.Threads > 1 a product is split across goroutines (started per
// K block: the nn engine splits whole steps instead) by strips of rows or
// columns of C, each element of C computed by one goroutine in a fixed
// order, so the result does not depend on the number of threads.
//
// Besides the standard library it uses golang.org/x/sys/cpu only.
//
// It imports nothing of this module.
package sgemm
