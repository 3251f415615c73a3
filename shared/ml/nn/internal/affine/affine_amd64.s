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
	VMULPD 0(R11), Y8, Y9
	VADDPD Y9, Y0, Y0
	VMULPD 32(R11), Y8, Y10
	VADDPD Y10, Y1, Y1
	VMULPD 64(R11), Y8, Y11
	VADDPD Y11, Y2, Y2
	VMULPD 96(R11), Y8, Y12
	VADDPD Y12, Y3, Y3
	VMULPD 128(R11), Y8, Y9
	VADDPD Y9, Y4, Y4
	VMULPD 160(R11), Y8, Y10
	VADDPD Y10, Y5, Y5
	VMULPD 192(R11), Y8, Y11
	VADDPD Y11, Y6, Y6
	VMULPD 224(R11), Y8, Y12
	VADDPD Y12, Y7, Y7

next:
	ADDQ R13, R11
	INCQ BX
	CMPQ BX, R10
	JLT  term

	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	DECQ CX
	JNZ  block
	VZEROUPPER
	RET
