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
