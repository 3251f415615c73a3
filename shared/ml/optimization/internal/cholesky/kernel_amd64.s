#include "textflag.h"

// func kernel4x8AVX2(k int, a, b, out *float64)
//
// out[r*8+q] = sum_p a[p*8+r] * b[p*8+q] for r < 4, q < 8: row r in
// Y(2r), Y(2r+1); each step loads one row of the B strip (two 4-wide
// registers) and broadcasts four A values. Every lane is one FMA chain
// from zero in p order, as kernel4x8Go. k >= 1.
TEXT ·kernel4x8AVX2(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ out+24(FP), DX

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

loop:
	VMOVUPD      (DI), Y8
	VMOVUPD      32(DI), Y9
	VBROADCASTSD (SI), Y10
	VBROADCASTSD 8(SI), Y11
	VFMADD231PD  Y8, Y10, Y0
	VFMADD231PD  Y9, Y10, Y1
	VBROADCASTSD 16(SI), Y12
	VFMADD231PD  Y8, Y11, Y2
	VFMADD231PD  Y9, Y11, Y3
	VBROADCASTSD 24(SI), Y13
	VFMADD231PD  Y8, Y12, Y4
	VFMADD231PD  Y9, Y12, Y5
	VFMADD231PD  Y8, Y13, Y6
	VFMADD231PD  Y9, Y13, Y7
	ADDQ         $64, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop

	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VMOVUPD Y2, 64(DX)
	VMOVUPD Y3, 96(DX)
	VMOVUPD Y4, 128(DX)
	VMOVUPD Y5, 160(DX)
	VMOVUPD Y6, 192(DX)
	VMOVUPD Y7, 224(DX)
	VZEROUPPER
	RET

// func dotLanesAVX2(k int, x, v, acc *float64)
//
// acc[c] = sum_p x[p] * v[p*8+c] for c < 8, in four partial sums (p mod 4:
// Y0/Y1, Y2/Y3, Y4/Y5, Y6/Y7; the k mod 4 last terms in the first),
// combined as (s0+s1) + (s2+s3), as dotLanesGo. k >= 1.
TEXT ·dotLanesAVX2(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ v+16(FP), DI
	MOVQ acc+24(FP), DX

	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

	CMPQ CX, $4
	JLT  tail

loop4:
	VBROADCASTSD (SI), Y8
	VFMADD231PD  (DI), Y8, Y0
	VFMADD231PD  32(DI), Y8, Y1
	VBROADCASTSD 8(SI), Y9
	VFMADD231PD  64(DI), Y9, Y2
	VFMADD231PD  96(DI), Y9, Y3
	VBROADCASTSD 16(SI), Y10
	VFMADD231PD  128(DI), Y10, Y4
	VFMADD231PD  160(DI), Y10, Y5
	VBROADCASTSD 24(SI), Y11
	VFMADD231PD  192(DI), Y11, Y6
	VFMADD231PD  224(DI), Y11, Y7
	ADDQ         $32, SI
	ADDQ         $256, DI
	SUBQ         $4, CX
	CMPQ         CX, $4
	JGE          loop4

tail:
	TESTQ CX, CX
	JZ    done

tail1:
	VBROADCASTSD (SI), Y8
	VFMADD231PD  (DI), Y8, Y0
	VFMADD231PD  32(DI), Y8, Y1
	ADDQ         $8, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          tail1

done:
	VADDPD  Y2, Y0, Y0
	VADDPD  Y3, Y1, Y1
	VADDPD  Y6, Y4, Y4
	VADDPD  Y7, Y5, Y5
	VADDPD  Y4, Y0, Y0
	VADDPD  Y5, Y1, Y1
	VMOVUPD Y0, (DX)
	VMOVUPD Y1, 32(DX)
	VZEROUPPER
	RET

// func dotAVX2(k int, x, y *float64) float64
//
// sum_p x[p]*y[p] in four 4-wide partial sums (16 terms a step), then the
// k mod 16 last terms one at a time into the first lane. k >= 0.
TEXT ·dotAVX2(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	CMPQ CX, $16
	JLT  dtail

dloop:
	VMOVUPD     (SI), Y4
	VMOVUPD     32(SI), Y5
	VMOVUPD     64(SI), Y6
	VMOVUPD     96(SI), Y7
	VFMADD231PD (DI), Y4, Y0
	VFMADD231PD 32(DI), Y5, Y1
	VFMADD231PD 64(DI), Y6, Y2
	VFMADD231PD 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         dloop

dtail:
	VADDPD       Y1, Y0, Y0
	VADDPD       Y3, Y2, Y2
	VADDPD       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	TESTQ        CX, CX
	JZ           ddone

dtail1:
	VMOVSD      (SI), X4
	VFMADD231SD (DI), X4, X0
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JNZ         dtail1

ddone:
	VMOVSD X0, ret+24(FP)
	VZEROUPPER
	RET

// func axpyAVX2(k int, alpha float64, x, y *float64)
//
// y[p] += alpha*x[p] (one FMA each), 8 a step, then one at a time. k >= 0.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	MOVQ         k+0(FP), CX
	VBROADCASTSD alpha+8(FP), Y0
	MOVQ         x+16(FP), SI
	MOVQ         y+24(FP), DI
	CMPQ         CX, $8
	JLT          atail

aloop:
	VMOVUPD     (DI), Y1
	VMOVUPD     32(DI), Y2
	VFMADD231PD (SI), Y0, Y1
	VFMADD231PD 32(SI), Y0, Y2
	VMOVUPD     Y1, (DI)
	VMOVUPD     Y2, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $8, CX
	CMPQ        CX, $8
	JGE         aloop

atail:
	TESTQ CX, CX
	JZ    adone

atail1:
	VMOVSD      (DI), X1
	VFMADD231SD (SI), X0, X1
	VMOVSD      X1, (DI)
	ADDQ        $8, SI
	ADDQ        $8, DI
	DECQ        CX
	JNZ         atail1

adone:
	VZEROUPPER
	RET
