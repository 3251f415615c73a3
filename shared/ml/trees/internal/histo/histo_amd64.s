#include "textflag.h"

// (1.0, 0.0): what a row adds to a bin's count and pad lanes.
DATA onezero<>+0(SB)/8, $1.0
DATA onezero<>+8(SB)/8, $0.0
GLOBL onezero<>(SB), RODATA|NOPTR, $16

// A bin is 32 bytes, (gradient, hessian, count, pad): one row's update is
// one VADDPD from memory and one 32-byte store, where scalar code needs
// three loads, three adds and three stores. The lanes are added in IEEE
// double precision in row order, as the Go loops add them.

// func addOrdered1(n int, ha *float64, ba *uint8, ord *float64)
TEXT ·addOrdered1(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ ha+8(FP), DI
	MOVQ ba+16(FP), SI
	MOVQ ord+24(FP), DX
	VMOVUPD onezero<>(SB), X2
	TESTQ CX, CX
	JEQ  o1done

o1loop:
	MOVBLZX (SI), AX
	SHLQ $5, AX
	VMOVUPD (DX), X0
	VINSERTF128 $1, X2, Y0, Y0
	VADDPD (DI)(AX*1), Y0, Y1
	VMOVUPD Y1, (DI)(AX*1)
	INCQ SI
	ADDQ $16, DX
	DECQ CX
	JNZ  o1loop

o1done:
	VZEROUPPER
	RET

// func addOrdered2(n int, ha, hb *float64, ba, bb *uint8, ord *float64)
TEXT ·addOrdered2(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ ha+8(FP), DI
	MOVQ hb+16(FP), R9
	MOVQ ba+24(FP), SI
	MOVQ bb+32(FP), R10
	MOVQ ord+40(FP), DX
	VMOVUPD onezero<>(SB), X2
	TESTQ CX, CX
	JEQ  o2done

o2loop:
	MOVBLZX (SI), AX
	MOVBLZX (R10), BX
	SHLQ $5, AX
	SHLQ $5, BX
	VMOVUPD (DX), X0
	VINSERTF128 $1, X2, Y0, Y0
	VADDPD (DI)(AX*1), Y0, Y1
	VMOVUPD Y1, (DI)(AX*1)
	VADDPD (R9)(BX*1), Y0, Y3
	VMOVUPD Y3, (R9)(BX*1)
	INCQ SI
	INCQ R10
	ADDQ $16, DX
	DECQ CX
	JNZ  o2loop

o2done:
	VZEROUPPER
	RET

// func addIndexed1(n int, ha *float64, ba *uint8, rows *int32, ord *float64)
TEXT ·addIndexed1(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ ha+8(FP), DI
	MOVQ ba+16(FP), SI
	MOVQ rows+24(FP), R8
	MOVQ ord+32(FP), DX
	VMOVUPD onezero<>(SB), X2
	TESTQ CX, CX
	JEQ  i1done

i1loop:
	MOVLQSX (R8), R11
	MOVBLZX (SI)(R11*1), AX
	SHLQ $5, AX
	VMOVUPD (DX), X0
	VINSERTF128 $1, X2, Y0, Y0
	VADDPD (DI)(AX*1), Y0, Y1
	VMOVUPD Y1, (DI)(AX*1)
	ADDQ $4, R8
	ADDQ $16, DX
	DECQ CX
	JNZ  i1loop

i1done:
	VZEROUPPER
	RET

// func addIndexed2(n int, ha, hb *float64, ba, bb *uint8, rows *int32, ord *float64)
TEXT ·addIndexed2(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ ha+8(FP), DI
	MOVQ hb+16(FP), R9
	MOVQ ba+24(FP), SI
	MOVQ bb+32(FP), R10
	MOVQ rows+40(FP), R8
	MOVQ ord+48(FP), DX
	VMOVUPD onezero<>(SB), X2
	TESTQ CX, CX
	JEQ  i2done

i2loop:
	MOVLQSX (R8), R11
	MOVBLZX (SI)(R11*1), AX
	MOVBLZX (R10)(R11*1), BX
	SHLQ $5, AX
	SHLQ $5, BX
	VMOVUPD (DX), X0
	VINSERTF128 $1, X2, Y0, Y0
	VADDPD (DI)(AX*1), Y0, Y1
	VMOVUPD Y1, (DI)(AX*1)
	VADDPD (R9)(BX*1), Y0, Y3
	VMOVUPD Y3, (R9)(BX*1)
	ADDQ $4, R8
	ADDQ $16, DX
	DECQ CX
	JNZ  i2loop

i2done:
	VZEROUPPER
	RET

// func addRows(n, nf, width int, h *float64, bins *uint8, rows *int32, gh *float64)
// h holds nf histograms one after another; row r's bins are
// bins[r*width : r*width+nf], its gradient pair gh[2r], gh[2r+1]. The
// rows and gradients 8 rows on are prefetched: a node's rows are spread
// over the matrix, and the long inner loop keeps the processor from
// running ahead to them by itself.
TEXT ·addRows(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ nf+8(FP), R9
	MOVQ width+16(FP), R15
	MOVQ h+24(FP), DI
	MOVQ bins+32(FP), SI
	MOVQ rows+40(FP), R8
	MOVQ gh+48(FP), DX
	VMOVUPD onezero<>(SB), X2
	MOVQ CX, BX
	SUBQ $8, BX            // BX: rows with a row 8 on to prefetch
	JLE  rtail
	SUBQ BX, CX            // CX: the 8 rows left after them

rpf:
	MOVLQSX 32(R8), R14
	MOVQ R14, R10
	IMULQ R15, R14
	PREFETCHT0 (SI)(R14*1)
	SHLQ $4, R10
	PREFETCHT0 (DX)(R10*1)
	MOVLQSX (R8), R11
	MOVQ R11, R10
	SHLQ $4, R10
	VMOVUPD (DX)(R10*1), X0
	VINSERTF128 $1, X2, Y0, Y0
	IMULQ R15, R11
	ADDQ SI, R11
	MOVQ DI, R12
	MOVQ R9, R13

rpffeat:
	MOVBLZX (R11), AX
	SHLQ $5, AX
	VADDPD (R12)(AX*1), Y0, Y1
	VMOVUPD Y1, (R12)(AX*1)
	INCQ R11
	ADDQ $8192, R12
	DECQ R13
	JNZ  rpffeat
	ADDQ $4, R8
	DECQ BX
	JNZ  rpf

rtail:
	TESTQ CX, CX
	JLE  rdone

rloop:
	MOVLQSX (R8), R11
	MOVQ R11, R10
	SHLQ $4, R10
	VMOVUPD (DX)(R10*1), X0
	VINSERTF128 $1, X2, Y0, Y0
	IMULQ R15, R11
	ADDQ SI, R11
	MOVQ DI, R12
	MOVQ R9, R13

rfeat:
	MOVBLZX (R11), AX
	SHLQ $5, AX
	VADDPD (R12)(AX*1), Y0, Y1
	VMOVUPD Y1, (R12)(AX*1)
	INCQ R11
	ADDQ $8192, R12
	DECQ R13
	JNZ  rfeat
	ADDQ $4, R8
	DECQ CX
	JNZ  rloop

rdone:
	VZEROUPPER
	RET
