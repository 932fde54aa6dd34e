//go:build !noasm

#include "textflag.h"

// The tile routines of wino_tiles.go, 16 channels a step; c is a positive
// multiple of 16. Go's operand order: VSUBPS b, a, d sets d = a - b.

// func winoInputTileAVX512(p *float32, rs, c int, v *float32, ks int)
//
// d[i][j] = p[i*rs + j*c + ch]; v[(4i+j)*ks + ch] = (Bᵀ d B)[i][j].
TEXT ·winoInputTileAVX512(SB), NOSPLIT, $0-40
	MOVQ p+0(FP), AX          // column 0
	MOVQ rs+8(FP), R8
	SHLQ $2, R8               // row stride, bytes
	LEAQ (R8)(R8*2), R9       // 3 rows
	MOVQ c+16(FP), CX
	MOVQ CX, R10
	SHLQ $2, R10              // c, bytes
	LEAQ (AX)(R10*1), BX      // column 1
	LEAQ (AX)(R10*2), DX      // column 2
	LEAQ (BX)(R10*2), SI      // column 3
	MOVQ v+24(FP), DI         // k = 0
	MOVQ ks+32(FP), R11
	SHLQ $2, R11              // ks, bytes
	LEAQ (R11)(R11*2), R12    // 3 ks
	LEAQ (DI)(R11*4), R13     // k = 4
	LEAQ (DI)(R11*8), R14     // k = 8
	LEAQ (R13)(R11*8), R15    // k = 12
	SHRQ $4, CX
inloop:
	VMOVUPS (AX), Z0
	VMOVUPS (BX), Z1
	VMOVUPS (DX), Z2
	VMOVUPS (SI), Z3
	VMOVUPS (AX)(R8*1), Z4
	VMOVUPS (BX)(R8*1), Z5
	VMOVUPS (DX)(R8*1), Z6
	VMOVUPS (SI)(R8*1), Z7
	VMOVUPS (AX)(R8*2), Z8
	VMOVUPS (BX)(R8*2), Z9
	VMOVUPS (DX)(R8*2), Z10
	VMOVUPS (SI)(R8*2), Z11
	VMOVUPS (AX)(R9*1), Z12
	VMOVUPS (BX)(R9*1), Z13
	VMOVUPS (DX)(R9*1), Z14
	VMOVUPS (SI)(R9*1), Z15
	// r[i][j] = Z(16+4i+j): r0 = d0-d2, r1 = d1+d2, r2 = d2-d1, r3 = d1-d3.
	VSUBPS Z8, Z0, Z16
	VSUBPS Z9, Z1, Z17
	VSUBPS Z10, Z2, Z18
	VSUBPS Z11, Z3, Z19
	VADDPS Z8, Z4, Z20
	VADDPS Z9, Z5, Z21
	VADDPS Z10, Z6, Z22
	VADDPS Z11, Z7, Z23
	VSUBPS Z4, Z8, Z24
	VSUBPS Z5, Z9, Z25
	VSUBPS Z6, Z10, Z26
	VSUBPS Z7, Z11, Z27
	VSUBPS Z12, Z4, Z28
	VSUBPS Z13, Z5, Z29
	VSUBPS Z14, Z6, Z30
	VSUBPS Z15, Z7, Z31
	// Row i: r0-r2, r1+r2, r2-r1, r1-r3 to k = 4i .. 4i+3.
	VSUBPS Z18, Z16, Z0
	VADDPS Z18, Z17, Z1
	VSUBPS Z17, Z18, Z2
	VSUBPS Z19, Z17, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R11*1)
	VMOVUPS Z2, (DI)(R11*2)
	VMOVUPS Z3, (DI)(R12*1)
	VSUBPS Z22, Z20, Z0
	VADDPS Z22, Z21, Z1
	VSUBPS Z21, Z22, Z2
	VSUBPS Z23, Z21, Z3
	VMOVUPS Z0, (R13)
	VMOVUPS Z1, (R13)(R11*1)
	VMOVUPS Z2, (R13)(R11*2)
	VMOVUPS Z3, (R13)(R12*1)
	VSUBPS Z26, Z24, Z0
	VADDPS Z26, Z25, Z1
	VSUBPS Z25, Z26, Z2
	VSUBPS Z27, Z25, Z3
	VMOVUPS Z0, (R14)
	VMOVUPS Z1, (R14)(R11*1)
	VMOVUPS Z2, (R14)(R11*2)
	VMOVUPS Z3, (R14)(R12*1)
	VSUBPS Z30, Z28, Z0
	VADDPS Z30, Z29, Z1
	VSUBPS Z29, Z30, Z2
	VSUBPS Z31, Z29, Z3
	VMOVUPS Z0, (R15)
	VMOVUPS Z1, (R15)(R11*1)
	VMOVUPS Z2, (R15)(R11*2)
	VMOVUPS Z3, (R15)(R12*1)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, DX
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R13
	ADDQ $64, R14
	ADDQ $64, R15
	DECQ CX
	JNZ  inloop
	VZEROUPPER
	RET

// func winoOutputTileAVX512(m *float32, ks, c int, bias, q *float32, rq int)
//
// M[k] = m[k*ks + ch]; s = Aᵀ M; pixel (a, b) of the block, s's row a
// combined by Aᵀ's row b, plus bias[ch], to q[a*rq + b*c + ch].
TEXT ·winoOutputTileAVX512(SB), NOSPLIT, $0-48
	MOVQ m+0(FP), DI          // k = 0
	MOVQ ks+8(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (DI)(R11*4), R13     // k = 4
	LEAQ (DI)(R11*8), R14     // k = 8
	LEAQ (R13)(R11*8), R15    // k = 12
	MOVQ c+16(FP), CX
	MOVQ CX, R10
	SHLQ $2, R10
	MOVQ bias+24(FP), SI
	MOVQ q+32(FP), AX         // pixel (0, 0)
	LEAQ (AX)(R10*1), BX      // pixel (0, 1)
	MOVQ rq+40(FP), R8
	SHLQ $2, R8
	SHRQ $4, CX
outloop:
	VMOVUPS (DI), Z0
	VMOVUPS (DI)(R11*1), Z1
	VMOVUPS (DI)(R11*2), Z2
	VMOVUPS (DI)(R12*1), Z3
	VMOVUPS (R13), Z4
	VMOVUPS (R13)(R11*1), Z5
	VMOVUPS (R13)(R11*2), Z6
	VMOVUPS (R13)(R12*1), Z7
	VMOVUPS (R14), Z8
	VMOVUPS (R14)(R11*1), Z9
	VMOVUPS (R14)(R11*2), Z10
	VMOVUPS (R14)(R12*1), Z11
	VMOVUPS (R15), Z12
	VMOVUPS (R15)(R11*1), Z13
	VMOVUPS (R15)(R11*2), Z14
	VMOVUPS (R15)(R12*1), Z15
	VMOVUPS (SI), Z31
	// s0j = m0j + m1j + m2j to Z(16+j); s1j = m1j - m2j - m3j to Z(20+j).
	VADDPS Z4, Z0, Z16
	VADDPS Z8, Z16, Z16
	VADDPS Z5, Z1, Z17
	VADDPS Z9, Z17, Z17
	VADDPS Z6, Z2, Z18
	VADDPS Z10, Z18, Z18
	VADDPS Z7, Z3, Z19
	VADDPS Z11, Z19, Z19
	VSUBPS Z8, Z4, Z20
	VSUBPS Z12, Z20, Z20
	VSUBPS Z9, Z5, Z21
	VSUBPS Z13, Z21, Z21
	VSUBPS Z10, Z6, Z22
	VSUBPS Z14, Z22, Z22
	VSUBPS Z11, Z7, Z23
	VSUBPS Z15, Z23, Z23
	// Row a: s0 + s1 + s2 + b, s1 - s2 - s3 + b.
	VADDPS Z17, Z16, Z0
	VADDPS Z18, Z0, Z0
	VADDPS Z31, Z0, Z0
	VSUBPS Z18, Z17, Z1
	VSUBPS Z19, Z1, Z1
	VADDPS Z31, Z1, Z1
	VADDPS Z21, Z20, Z2
	VADDPS Z22, Z2, Z2
	VADDPS Z31, Z2, Z2
	VSUBPS Z22, Z21, Z3
	VSUBPS Z23, Z3, Z3
	VADDPS Z31, Z3, Z3
	VMOVUPS Z0, (AX)
	VMOVUPS Z1, (BX)
	VMOVUPS Z2, (AX)(R8*1)
	VMOVUPS Z3, (BX)(R8*1)
	ADDQ $64, DI
	ADDQ $64, R13
	ADDQ $64, R14
	ADDQ $64, R15
	ADDQ $64, SI
	ADDQ $64, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  outloop
	VZEROUPPER
	RET

// func winoOutputGradTileAVX512(d *float32, rd, c int, dm *float32, ks int)
//
// dY[a][b] = d[a*rd + b*c + ch]; e[a] = (d0, d0+d1, d0-d1, 0-d1) of row
// a; dm[(4i+j)*ks + ch] = e0, e0+e1, e0-e1, 0-e1 for i = 0..3.
TEXT ·winoOutputGradTileAVX512(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), AX          // pixel (0, 0)
	MOVQ rd+8(FP), R8
	SHLQ $2, R8
	MOVQ c+16(FP), CX
	MOVQ CX, R10
	SHLQ $2, R10
	LEAQ (AX)(R10*1), BX      // pixel (0, 1)
	MOVQ dm+24(FP), DI        // k = 0
	MOVQ ks+32(FP), R11
	SHLQ $2, R11
	LEAQ (R11)(R11*2), R12
	LEAQ (DI)(R11*4), R13     // k = 4
	LEAQ (DI)(R11*8), R14     // k = 8
	LEAQ (R13)(R11*8), R15    // k = 12
	SHRQ $4, CX
	VXORPS Z31, Z31, Z31
gradloop:
	VMOVUPS (AX), Z0          // d00
	VMOVUPS (BX), Z1          // d01
	VMOVUPS (AX)(R8*1), Z2    // d10
	VMOVUPS (BX)(R8*1), Z3    // d11
	// e0 = Z4..Z7, e1 = Z8..Z11.
	VMOVAPS Z0, Z4
	VADDPS Z1, Z0, Z5
	VSUBPS Z1, Z0, Z6
	VSUBPS Z1, Z31, Z7
	VMOVAPS Z2, Z8
	VADDPS Z3, Z2, Z9
	VSUBPS Z3, Z2, Z10
	VSUBPS Z3, Z31, Z11
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, (DI)(R11*1)
	VMOVUPS Z6, (DI)(R11*2)
	VMOVUPS Z7, (DI)(R12*1)
	VADDPS Z8, Z4, Z12
	VADDPS Z9, Z5, Z13
	VADDPS Z10, Z6, Z14
	VADDPS Z11, Z7, Z15
	VMOVUPS Z12, (R13)
	VMOVUPS Z13, (R13)(R11*1)
	VMOVUPS Z14, (R13)(R11*2)
	VMOVUPS Z15, (R13)(R12*1)
	VSUBPS Z8, Z4, Z12
	VSUBPS Z9, Z5, Z13
	VSUBPS Z10, Z6, Z14
	VSUBPS Z11, Z7, Z15
	VMOVUPS Z12, (R14)
	VMOVUPS Z13, (R14)(R11*1)
	VMOVUPS Z14, (R14)(R11*2)
	VMOVUPS Z15, (R14)(R12*1)
	VSUBPS Z8, Z31, Z12
	VSUBPS Z9, Z31, Z13
	VSUBPS Z10, Z31, Z14
	VSUBPS Z11, Z31, Z15
	VMOVUPS Z12, (R15)
	VMOVUPS Z13, (R15)(R11*1)
	VMOVUPS Z14, (R15)(R11*2)
	VMOVUPS Z15, (R15)(R12*1)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, DI
	ADDQ $64, R13
	ADDQ $64, R14
	ADDQ $64, R15
	DECQ CX
	JNZ  gradloop
	VZEROUPPER
	RET
