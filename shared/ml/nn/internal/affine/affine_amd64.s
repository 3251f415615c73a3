#include "textflag.h"

// func rows32(z, a, w *float64, in, stride int, bias float64, n int)
//
// For j = 0, 32, ... < n: Y0..Y7 = bias; for l < in with w[l] != 0 (a
// NaN weight counts, as in gonum): Y8 = w[l] broadcast, Yk = Yk + (Y8 *
// a[l*stride + j + 4k .. +4]) with VMULPD then VADDPD (the sum is the
// first operand, as it is ADDPD's destination in gonum's AxpyUnitary);
// then store z[j .. j+32]. Every instruction is VEX-encoded: a legacy
// SSE one (MOVSD, UCOMISD) with the upper halves of the YMM registers
// dirty costs a state transition each time (40x slower here).
// ACC adds the products of lane group k (bytes off of the row) into acc.
#define ACC(off, acc, tmp) VMULPD off(R11), Y8, tmp; VADDPD tmp, acc, acc

// PUT stores acc at bytes off of z.
#define PUT(off, acc) VMOVUPD acc, off(DI)

TEXT ·rows32(SB), NOSPLIT, $0-56
	MOVQ z+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ w+16(FP), R9
	MOVQ in+24(FP), R10
	MOVQ stride+32(FP), R13
	SHLQ $3, R13
	VBROADCASTSD bias+40(FP), Y15
	MOVQ n+48(FP), CX
	SHRQ $5, CX
	VXORPD X14, X14, X14

block:
	VMOVAPD Y15, Y0
	VMOVAPD Y15, Y1
	VMOVAPD Y15, Y2
	VMOVAPD Y15, Y3
	VMOVAPD Y15, Y4
	VMOVAPD Y15, Y5
	VMOVAPD Y15, Y6
	VMOVAPD Y15, Y7
	XORQ BX, BX
	MOVQ SI, R11

term:
	VMOVSD (R9)(BX*8), X8
	VUCOMISD X14, X8
	JNE  use
	JP   use
	JMP  next

use:
	VBROADCASTSD X8, Y8
	ACC(0, Y0, Y9)
	ACC(32, Y1, Y10)
	ACC(64, Y2, Y11)
	ACC(96, Y3, Y12)
	ACC(128, Y4, Y9)
	ACC(160, Y5, Y10)
	ACC(192, Y6, Y11)
	ACC(224, Y7, Y12)

next:
	ADDQ R13, R11
	INCQ BX
	CMPQ BX, R10
	JLT  term

	PUT(0, Y0)
	PUT(32, Y1)
	PUT(64, Y2)
	PUT(96, Y3)
	PUT(128, Y4)
	PUT(160, Y5)
	PUT(192, Y6)
	PUT(224, Y7)
	ADDQ $256, DI
	ADDQ $256, SI
	DECQ CX
	JNZ  block
	VZEROUPPER
	RET
