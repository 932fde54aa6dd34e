//go:build !noasm

#include "textflag.h"

// func corrRowAVX512(dst, src []float32, stride int, box []float32, kh, kw int)
// Sets dst[x] = Σ_i Σ_j box[i*kw+j]·src[i*stride+x+j] for x < len(dst),
// summing over i, then j, in increasing order with one fused multiply-add
// per tap. Blocks of 64 outputs keep 4 accumulators in registers across all
// taps: per tap one broadcast weight and 4 multiply-adds from memory. The
// last len(dst)%16 outputs use masked loads and stores, so nothing beyond
// the rows' extent is touched. The caller checks the slice lengths.
TEXT ·corrRowAVX512(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ stride+48(FP), DX
	SHLQ $2, DX
	MOVQ box_base+56(FP), R8
	MOVQ kh+80(FP), R9
	MOVQ kw+88(FP), R10

block64:
	CMPQ CX, $64
	JB   block16
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, R13
row64:
	XORQ R14, R14
tap64:
	VBROADCASTSS (R12)(R14*4), Z4
	VFMADD231PS (R11)(R14*4), Z4, Z0
	VFMADD231PS 64(R11)(R14*4), Z4, Z1
	VFMADD231PS 128(R11)(R14*4), Z4, Z2
	VFMADD231PS 192(R11)(R14*4), Z4, Z3
	INCQ R14
	CMPQ R14, R10
	JB   tap64
	ADDQ DX, R11
	LEAQ (R12)(R10*4), R12
	DECQ R13
	JNZ  row64
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, CX
	JMP  block64

block16:
	CMPQ CX, $16
	JB   tail
	VXORPS Z0, Z0, Z0
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, R13
row16:
	XORQ R14, R14
tap16:
	VBROADCASTSS (R12)(R14*4), Z4
	VFMADD231PS (R11)(R14*4), Z4, Z0
	INCQ R14
	CMPQ R14, R10
	JB   tap16
	ADDQ DX, R11
	LEAQ (R12)(R10*4), R12
	DECQ R13
	JNZ  row16
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  block16

tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VXORPS Z0, Z0, Z0
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, R13
rowT:
	XORQ R14, R14
tapT:
	VBROADCASTSS (R12)(R14*4), Z4
	VMOVUPS.Z (R11)(R14*4), K1, Z5
	VFMADD231PS Z5, Z4, Z0
	INCQ R14
	CMPQ R14, R10
	JB   tapT
	ADDQ DX, R11
	LEAQ (R12)(R10*4), R12
	DECQ R13
	JNZ  rowT
	VMOVUPS Z0, K1, (DI)

done:
	VZEROUPPER
	RET

// func corrRowAVX2(dst, src []float32, stride int, box []float32, kh, kw int)
// corrRowAVX512 for AVX2 and FMA: blocks of 64 outputs in 8 accumulators,
// then blocks of 8; len(dst) is a multiple of 8.
TEXT ·corrRowAVX2(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ stride+48(FP), DX
	SHLQ $2, DX
	MOVQ box_base+56(FP), R8
	MOVQ kh+80(FP), R9
	MOVQ kw+88(FP), R10

a2block64:
	CMPQ CX, $64
	JB   a2block8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, R13
a2row64:
	XORQ R14, R14
a2tap64:
	VBROADCASTSS (R12)(R14*4), Y8
	VFMADD231PS (R11)(R14*4), Y8, Y0
	VFMADD231PS 32(R11)(R14*4), Y8, Y1
	VFMADD231PS 64(R11)(R14*4), Y8, Y2
	VFMADD231PS 96(R11)(R14*4), Y8, Y3
	VFMADD231PS 128(R11)(R14*4), Y8, Y4
	VFMADD231PS 160(R11)(R14*4), Y8, Y5
	VFMADD231PS 192(R11)(R14*4), Y8, Y6
	VFMADD231PS 224(R11)(R14*4), Y8, Y7
	INCQ R14
	CMPQ R14, R10
	JB   a2tap64
	ADDQ DX, R11
	LEAQ (R12)(R10*4), R12
	DECQ R13
	JNZ  a2row64
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, DI
	ADDQ $256, SI
	SUBQ $64, CX
	JMP  a2block64

a2block8:
	CMPQ CX, $8
	JB   a2done
	VXORPS Y0, Y0, Y0
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ R9, R13
a2row8:
	XORQ R14, R14
a2tap8:
	VBROADCASTSS (R12)(R14*4), Y8
	VFMADD231PS (R11)(R14*4), Y8, Y0
	INCQ R14
	CMPQ R14, R10
	JB   a2tap8
	ADDQ DX, R11
	LEAQ (R12)(R10*4), R12
	DECQ R13
	JNZ  a2row8
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  a2block8

a2done:
	VZEROUPPER
	RET
