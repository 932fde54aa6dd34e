//go:build !noasm

#include "textflag.h"

// func transposeOffsAVX512(dst []float32, ld int, src []float32, offs *[16]int, mask int, cols int)
// Sets dst[c*ld+r] = src[offs[r]+c] for c < cols and the rows r whose bit
// is set in mask; cols is a multiple of 16. Each 16x16 block goes through
// registers in the four classic shuffle stages: 32-bit and 64-bit
// interleaves within 128-bit lanes, then two rounds of 128-bit lane
// shuffles. Masked stores leave the other rows of dst alone.
TEXT ·transposeOffsAVX512(SB), NOSPLIT, $0-80
	MOVQ dst_base+0(FP), DI
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ src_base+32(FP), SI
	MOVQ offs+56(FP), R13
	MOVQ mask+64(FP), AX
	KMOVW AX, K1
	MOVQ cols+72(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	MOVQ 0(R13), R14
	VMOVUPS (SI)(R14*4), Z0
	MOVQ 8(R13), R14
	VMOVUPS (SI)(R14*4), Z1
	MOVQ 16(R13), R14
	VMOVUPS (SI)(R14*4), Z2
	MOVQ 24(R13), R14
	VMOVUPS (SI)(R14*4), Z3
	MOVQ 32(R13), R14
	VMOVUPS (SI)(R14*4), Z4
	MOVQ 40(R13), R14
	VMOVUPS (SI)(R14*4), Z5
	MOVQ 48(R13), R14
	VMOVUPS (SI)(R14*4), Z6
	MOVQ 56(R13), R14
	VMOVUPS (SI)(R14*4), Z7
	MOVQ 64(R13), R14
	VMOVUPS (SI)(R14*4), Z8
	MOVQ 72(R13), R14
	VMOVUPS (SI)(R14*4), Z9
	MOVQ 80(R13), R14
	VMOVUPS (SI)(R14*4), Z10
	MOVQ 88(R13), R14
	VMOVUPS (SI)(R14*4), Z11
	MOVQ 96(R13), R14
	VMOVUPS (SI)(R14*4), Z12
	MOVQ 104(R13), R14
	VMOVUPS (SI)(R14*4), Z13
	MOVQ 112(R13), R14
	VMOVUPS (SI)(R14*4), Z14
	MOVQ 120(R13), R14
	VMOVUPS (SI)(R14*4), Z15

	// Stage 1: t(2i) = unpacklo(r(2i), r(2i+1)), t(2i+1) = unpackhi.
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31

	// Stage 2: u(4g+c) holds rows 4g..4g+3 of column 4k+c in lane k.
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z5
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z9
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z13
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z15

	// Stage 3, for each c: v0 = lanes 0,1 of u(c), u(4+c); v1 = lanes 2,3;
	// v2, v3 the same of u(8+c), u(12+c).
	VSHUFF32X4 $0x44, Z4, Z0, Z16
	VSHUFF32X4 $0xEE, Z4, Z0, Z17
	VSHUFF32X4 $0x44, Z12, Z8, Z18
	VSHUFF32X4 $0xEE, Z12, Z8, Z19
	VSHUFF32X4 $0x44, Z5, Z1, Z20
	VSHUFF32X4 $0xEE, Z5, Z1, Z21
	VSHUFF32X4 $0x44, Z13, Z9, Z22
	VSHUFF32X4 $0xEE, Z13, Z9, Z23
	VSHUFF32X4 $0x44, Z6, Z2, Z24
	VSHUFF32X4 $0xEE, Z6, Z2, Z25
	VSHUFF32X4 $0x44, Z14, Z10, Z26
	VSHUFF32X4 $0xEE, Z14, Z10, Z27
	VSHUFF32X4 $0x44, Z7, Z3, Z28
	VSHUFF32X4 $0xEE, Z7, Z3, Z29
	VSHUFF32X4 $0x44, Z15, Z11, Z30
	VSHUFF32X4 $0xEE, Z15, Z11, Z31

	// Stage 4: column 4k+c = lanes (0, 2) of v0|v1 and of v2|v3.
	VSHUFF32X4 $0x88, Z18, Z16, Z0  // column 0
	VSHUFF32X4 $0xDD, Z18, Z16, Z4  // column 4
	VSHUFF32X4 $0x88, Z19, Z17, Z8  // column 8
	VSHUFF32X4 $0xDD, Z19, Z17, Z12 // column 12
	VSHUFF32X4 $0x88, Z22, Z20, Z1
	VSHUFF32X4 $0xDD, Z22, Z20, Z5
	VSHUFF32X4 $0x88, Z23, Z21, Z9
	VSHUFF32X4 $0xDD, Z23, Z21, Z13
	VSHUFF32X4 $0x88, Z26, Z24, Z2
	VSHUFF32X4 $0xDD, Z26, Z24, Z6
	VSHUFF32X4 $0x88, Z27, Z25, Z10
	VSHUFF32X4 $0xDD, Z27, Z25, Z14
	VSHUFF32X4 $0x88, Z30, Z28, Z3
	VSHUFF32X4 $0xDD, Z30, Z28, Z7
	VSHUFF32X4 $0x88, Z31, Z29, Z11
	VSHUFF32X4 $0xDD, Z31, Z29, Z15

	// Store column c to dst + c*ld.
	MOVQ DI, R12
	VMOVUPS Z0, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z1, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z2, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z3, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z4, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z5, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z6, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z7, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z8, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z9, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z10, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z11, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z12, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z13, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z14, K1, (R12)
	ADDQ DX, R12
	VMOVUPS Z15, K1, (R12)
	ADDQ DX, R12
	MOVQ R12, DI
	ADDQ $64, SI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func copyRows32AVX512(dst []float32, src []float32, lds int, rows int)
// Sets dst[r*32+c] = src[r*lds+c] for r < rows, c < 32.
TEXT ·copyRows32AVX512(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ lds+48(FP), BX
	SHLQ $2, BX
	MOVQ rows+56(FP), CX
	TESTQ CX, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ BX, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET

// func gatherRowsAVX512(dst []float32, ld int, src []float32, offs []int, mask int)
// The low 16 bits of mask select the columns of the first 16, the next 16
// bits those of the second: masked loads do not touch the memory of the
// columns left out, so rows may end at the end of src.
TEXT ·gatherRowsAVX512(SB), NOSPLIT, $0-88
	MOVQ dst_base+0(FP), DI
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	MOVQ src_base+32(FP), SI
	MOVQ offs_base+56(FP), BX
	MOVQ offs_len+64(FP), CX
	MOVQ mask+80(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	TESTQ CX, CX
	JZ   done
loop:
	MOVQ (BX), AX
	VMOVUPS (SI)(AX*4), K1, Z0
	VMOVUPS 64(SI)(AX*4), K2, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ $8, BX
	ADDQ DX, DI
	DECQ CX
	JNZ  loop
done:
	VZEROUPPER
	RET
