#include "textflag.h"

// func adam8(n int, p, grad, m, v *float64, c *AdamCoefficients)
TEXT ·adam8(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ p+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ c+40(FP), R10
	VBROADCASTSD 0(R10), Z20
	VBROADCASTSD 8(R10), Z21
	VBROADCASTSD 16(R10), Z22
	VBROADCASTSD 24(R10), Z23
	VBROADCASTSD 32(R10), Z24
	VBROADCASTSD 40(R10), Z25
	VBROADCASTSD 48(R10), Z26
	SHRQ $3, CX

adamloop:
	VMOVUPD (SI), Z0
	VMULPD  (R8), Z20, Z1
	VMULPD  Z0, Z21, Z2
	VADDPD  Z2, Z1, Z1
	VMOVUPD Z1, (R8)
	VMULPD  (R9), Z22, Z3
	VMULPD  Z0, Z23, Z4
	VMULPD  Z0, Z4, Z4
	VADDPD  Z4, Z3, Z3
	VMOVUPD Z3, (R9)
	VSQRTPD Z3, Z5
	VMULPD  Z25, Z5, Z5
	VADDPD  Z26, Z5, Z5
	VMULPD  Z1, Z24, Z6
	VDIVPD  Z5, Z6, Z6
	VMOVUPD (DI), Z7
	VSUBPD  Z6, Z7, Z7
	VMOVUPD Z7, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, DI
	DECQ CX
	JNZ  adamloop
	VZEROUPPER
	RET

// func narrow8(n int, dst *float32, src *float64)
TEXT ·narrow8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	SHRQ $3, CX

narrowloop:
	VCVTPD2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  narrowloop
	VZEROUPPER
	RET

// func widen8(n int, dst *float64, src *float32)
TEXT ·widen8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	SHRQ $3, CX

widenloop:
	VCVTPS2PD (SI), Z0
	VMOVUPD   Z0, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  widenloop
	VZEROUPPER
	RET

// func sum8(n int, v *float32, s *[8]float64)
TEXT ·sum8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ v+8(FP), SI
	MOVQ s+16(FP), DI
	VMOVUPD (DI), Z1
	SHRQ $3, CX

sumloop:
	VCVTPS2PD (SI), Z0
	VADDPD    Z0, Z1, Z1
	ADDQ $32, SI
	DECQ CX
	JNZ  sumloop
	VMOVUPD Z1, (DI)
	VZEROUPPER
	RET

// The AVX2 loops: the same operations four lanes at a time (n a positive
// multiple of 8, as for the AVX-512 ones).

// func adam4(n int, p, grad, m, v *float64, c *AdamCoefficients)
TEXT ·adam4(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ p+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ c+40(FP), R10
	VBROADCASTSD 0(R10), Y8
	VBROADCASTSD 8(R10), Y9
	VBROADCASTSD 16(R10), Y10
	VBROADCASTSD 24(R10), Y11
	VBROADCASTSD 32(R10), Y12
	VBROADCASTSD 40(R10), Y13
	VBROADCASTSD 48(R10), Y14
	SHRQ $2, CX

adam4loop:
	VMOVUPD (SI), Y0
	VMULPD  (R8), Y8, Y1
	VMULPD  Y0, Y9, Y2
	VADDPD  Y2, Y1, Y1
	VMOVUPD Y1, (R8)
	VMULPD  (R9), Y10, Y3
	VMULPD  Y0, Y11, Y4
	VMULPD  Y0, Y4, Y4
	VADDPD  Y4, Y3, Y3
	VMOVUPD Y3, (R9)
	VSQRTPD Y3, Y5
	VMULPD  Y13, Y5, Y5
	VADDPD  Y14, Y5, Y5
	VMULPD  Y1, Y12, Y6
	VDIVPD  Y5, Y6, Y6
	VMOVUPD (DI), Y7
	VSUBPD  Y6, Y7, Y7
	VMOVUPD Y7, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, DI
	DECQ CX
	JNZ  adam4loop
	VZEROUPPER
	RET

// func narrow4(n int, dst *float32, src *float64)
TEXT ·narrow4(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	SHRQ $2, CX

narrow4loop:
	VCVTPD2PSY (SI), X0
	VMOVUPS    X0, (DI)
	ADDQ $32, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  narrow4loop
	VZEROUPPER
	RET

// func widen4(n int, dst *float64, src *float32)
TEXT ·widen4(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	SHRQ $2, CX

widen4loop:
	VCVTPS2PD (SI), Y0
	VMOVUPD   Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  widen4loop
	VZEROUPPER
	RET

// func sum4(n int, v *float32, s *[8]float64)
TEXT ·sum4(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ v+8(FP), SI
	MOVQ s+16(FP), DI
	VMOVUPD (DI), Y2
	VMOVUPD 32(DI), Y3
	SHRQ $3, CX

sum4loop:
	VCVTPS2PD (SI), Y0
	VCVTPS2PD 16(SI), Y1
	VADDPD    Y0, Y2, Y2
	VADDPD    Y1, Y3, Y3
	ADDQ $32, SI
	DECQ CX
	JNZ  sum4loop
	VMOVUPD Y2, (DI)
	VMOVUPD Y3, 32(DI)
	VZEROUPPER
	RET
