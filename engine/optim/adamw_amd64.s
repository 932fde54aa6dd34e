//go:build !noasm

#include "textflag.h"

// func adamwAVX512(param, grad, mom, sq *float32, n int, c *adamCoef)
//
// c's fields, float32 each: decay 0, b1 4, omb1 8, b2 12, omb2 16,
// bc2sqrt 20, eps 24, negStepLen 28.
TEXT ·adamwAVX512(SB), NOSPLIT, $0-48
	MOVQ param+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ mom+16(FP), R8
	MOVQ sq+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Z20  // decay
	VBROADCASTSS 4(AX), Z21  // b1
	VBROADCASTSS 8(AX), Z22  // 1 - b1
	VBROADCASTSS 12(AX), Z23 // b2
	VBROADCASTSS 16(AX), Z24 // 1 - b2
	VBROADCASTSS 20(AX), Z25 // sqrt(1 - b2^t)
	VBROADCASTSS 24(AX), Z26 // eps
	VBROADCASTSS 28(AX), Z27 // -lr / (1 - b1^t)
	XORQ BX, BX

loop:
	VMOVUPS (SI)(BX*4), Z0 // g
	VMULPS (DI)(BX*4), Z20, Z1 // p*decay
	VMULPS (R8)(BX*4), Z21, Z2 // m*b1
	VMULPS Z0, Z22, Z3 // (1-b1)*g
	VADDPS Z3, Z2, Z2 // m
	VMULPS (R9)(BX*4), Z23, Z4 // v*b2
	VMULPS Z0, Z24, Z5 // (1-b2)*g
	VMULPS Z0, Z5, Z5 // ((1-b2)*g)*g
	VADDPS Z5, Z4, Z4 // v
	VSQRTPS Z4, Z6
	VDIVPS Z25, Z6, Z6 // sqrt(v)/bc2sqrt
	VADDPS Z26, Z6, Z6 // denom
	VMULPS Z2, Z27, Z7 // negStepLen*m
	VDIVPS Z6, Z7, Z7 // /denom
	VADDPS Z7, Z1, Z1
	VMOVUPS Z1, (DI)(BX*4)
	VMOVUPS Z2, (R8)(BX*4)
	VMOVUPS Z4, (R9)(BX*4)
	ADDQ $16, BX
	CMPQ BX, CX
	JLT loop
	VZEROUPPER
	RET
