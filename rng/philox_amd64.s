//go:build !noasm

#include "textflag.h"

// Philox4x32-10 on vectors of counters (see philox in rng.go). Each 64-bit
// lane holds one 32-bit word of one block in its low half; the high halves
// collect garbage that no step reads back, since VPMULUDQ multiplies the low
// halves only and the results keep only the low halves. Two groups of
// blocks are in flight to hide the multiplier's latency.

// Multipliers, lane offsets and the word interleave of the output.
DATA philoxM0<>+0(SB)/8, $0xD2511F53
DATA philoxM0<>+8(SB)/8, $0xD2511F53
DATA philoxM0<>+16(SB)/8, $0xD2511F53
DATA philoxM0<>+24(SB)/8, $0xD2511F53
GLOBL philoxM0<>(SB), RODATA|NOPTR, $32
DATA philoxM1<>+0(SB)/8, $0xCD9E8D57
DATA philoxM1<>+8(SB)/8, $0xCD9E8D57
DATA philoxM1<>+16(SB)/8, $0xCD9E8D57
DATA philoxM1<>+24(SB)/8, $0xCD9E8D57
GLOBL philoxM1<>(SB), RODATA|NOPTR, $32
DATA philoxIota<>+0(SB)/8, $0
DATA philoxIota<>+8(SB)/8, $1
DATA philoxIota<>+16(SB)/8, $2
DATA philoxIota<>+24(SB)/8, $3
DATA philoxIota<>+32(SB)/8, $4
DATA philoxIota<>+40(SB)/8, $5
DATA philoxIota<>+48(SB)/8, $6
DATA philoxIota<>+56(SB)/8, $7
DATA philoxIota<>+64(SB)/8, $8
DATA philoxIota<>+72(SB)/8, $9
DATA philoxIota<>+80(SB)/8, $10
DATA philoxIota<>+88(SB)/8, $11
DATA philoxIota<>+96(SB)/8, $12
DATA philoxIota<>+104(SB)/8, $13
DATA philoxIota<>+112(SB)/8, $14
DATA philoxIota<>+120(SB)/8, $15
GLOBL philoxIota<>(SB), RODATA|NOPTR, $128
DATA philoxInterleave<>+0(SB)/8, $0
DATA philoxInterleave<>+8(SB)/8, $8
DATA philoxInterleave<>+16(SB)/8, $1
DATA philoxInterleave<>+24(SB)/8, $9
DATA philoxInterleave<>+32(SB)/8, $2
DATA philoxInterleave<>+40(SB)/8, $10
DATA philoxInterleave<>+48(SB)/8, $3
DATA philoxInterleave<>+56(SB)/8, $11
DATA philoxInterleave<>+64(SB)/8, $4
DATA philoxInterleave<>+72(SB)/8, $12
DATA philoxInterleave<>+80(SB)/8, $5
DATA philoxInterleave<>+88(SB)/8, $13
DATA philoxInterleave<>+96(SB)/8, $6
DATA philoxInterleave<>+104(SB)/8, $14
DATA philoxInterleave<>+112(SB)/8, $7
DATA philoxInterleave<>+120(SB)/8, $15
GLOBL philoxInterleave<>(SB), RODATA|NOPTR, $128

// ROUND512 is one Philox round on 8 blocks: with p0 = M0*c0 and p1 = M1*c2,
// c0 = hi(p1)^c1^k0, c1 = p1, c2 = hi(p0)^c3^k1, c3 = p0. The new c1 and c3
// stay in p1 and p0, so the next round names the registers in another
// order instead of moving them. The keys are broadcast from k0off(R8) and
// k1off(R8).
#define ROUND512(c0, c1, c2, c3, p0, p1, k0off, k1off) \
	VPMULUDQ Z26, c0, p0; \
	VPMULUDQ Z27, c2, p1; \
	VPSRLQ $32, p1, c0; \
	VPTERNLOGD.BCST $0x96, k0off(R8), c1, c0; \
	VPSRLQ $32, p0, c2; \
	VPTERNLOGD.BCST $0x96, k1off(R8), c3, c2

// STORE512 packs 8 blocks (c0..c3) into 16 words at off(DI): word 0 of a
// block is c0 | c1<<32, word 1 is c2 | c3<<32, block after block.
#define STORE512(c0, c1, c2, c3, t0, t1, off) \
	VPSLLQ $32, c1, c1; \
	VPBLENDMD c1, c0, K1, c0; \
	VPSLLQ $32, c3, c3; \
	VPBLENDMD c3, c2, K1, c2; \
	VMOVDQA64 Z24, t0; \
	VPERMI2Q c2, c0, t0; \
	VMOVDQA64 Z25, t1; \
	VPERMI2Q c2, c0, t1; \
	VMOVDQU64 t0, off(DI); \
	VMOVDQU64 t1, off+64(DI)

// func philoxAVX512(dst []uint64, ctr uint64, keys *philoxKeys)
// Sets dst[2j], dst[2j+1] to the words of block ctr+j; len(dst) is a
// multiple of 32. Rows 2r and 2r+1 of keys hold round r's two keys, each
// repeated 8 times.
TEXT ·philoxAVX512(SB), NOSPLIT, $0-40
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ ctr+24(FP), AX
	MOVQ keys+32(FP), R8
	SHRQ $5, CX
	JZ   done512
	VPBROADCASTQ AX, Z30
	MOVQ $16, AX
	VPBROADCASTQ AX, Z31
	VPBROADCASTQ philoxM0<>+0(SB), Z26
	VPBROADCASTQ philoxM1<>+0(SB), Z27
	VMOVDQU64 philoxIota<>+0(SB), Z28
	VMOVDQU64 philoxIota<>+64(SB), Z29
	VMOVDQU64 philoxInterleave<>+0(SB), Z24
	VMOVDQU64 philoxInterleave<>+64(SB), Z25
	MOVL $0xAAAA, AX
	KMOVW AX, K1
loop512:
	VPADDQ Z28, Z30, Z0
	VPADDQ Z29, Z30, Z6
	VPSRLQ $32, Z0, Z1
	VPSRLQ $32, Z6, Z7
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3
	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	ROUND512(Z0, Z1, Z2, Z3, Z4, Z5, 0, 32)
	ROUND512(Z6, Z7, Z8, Z9, Z10, Z11, 0, 32)
	ROUND512(Z0, Z5, Z2, Z4, Z3, Z1, 64, 96)
	ROUND512(Z6, Z11, Z8, Z10, Z9, Z7, 64, 96)
	ROUND512(Z0, Z1, Z2, Z3, Z4, Z5, 128, 160)
	ROUND512(Z6, Z7, Z8, Z9, Z10, Z11, 128, 160)
	ROUND512(Z0, Z5, Z2, Z4, Z3, Z1, 192, 224)
	ROUND512(Z6, Z11, Z8, Z10, Z9, Z7, 192, 224)
	ROUND512(Z0, Z1, Z2, Z3, Z4, Z5, 256, 288)
	ROUND512(Z6, Z7, Z8, Z9, Z10, Z11, 256, 288)
	ROUND512(Z0, Z5, Z2, Z4, Z3, Z1, 320, 352)
	ROUND512(Z6, Z11, Z8, Z10, Z9, Z7, 320, 352)
	ROUND512(Z0, Z1, Z2, Z3, Z4, Z5, 384, 416)
	ROUND512(Z6, Z7, Z8, Z9, Z10, Z11, 384, 416)
	ROUND512(Z0, Z5, Z2, Z4, Z3, Z1, 448, 480)
	ROUND512(Z6, Z11, Z8, Z10, Z9, Z7, 448, 480)
	ROUND512(Z0, Z1, Z2, Z3, Z4, Z5, 512, 544)
	ROUND512(Z6, Z7, Z8, Z9, Z10, Z11, 512, 544)
	ROUND512(Z0, Z5, Z2, Z4, Z3, Z1, 576, 608)
	ROUND512(Z6, Z11, Z8, Z10, Z9, Z7, 576, 608)
	STORE512(Z0, Z1, Z2, Z3, Z4, Z5, 0)
	STORE512(Z6, Z7, Z8, Z9, Z10, Z11, 128)
	VPADDQ Z31, Z30, Z30
	ADDQ $256, DI
	DECQ CX
	JNZ  loop512
	VZEROUPPER
done512:
	RET

// ROUND256 is ROUND512 on 4 blocks with AVX2: no ternary logic, and the
// keys are whole rows of the key table.
#define ROUND256(c0, c1, c2, c3, p0, p1, k0off, k1off) \
	VPMULUDQ philoxM0<>+0(SB), c0, p0; \
	VPMULUDQ philoxM1<>+0(SB), c2, p1; \
	VPSRLQ $32, p1, c0; \
	VPXOR c1, c0, c0; \
	VPXOR k0off(R8), c0, c0; \
	VPSRLQ $32, p0, c2; \
	VPXOR c3, c2, c2; \
	VPXOR k1off(R8), c2, c2

// STORE256 packs 4 blocks into 8 words at off(DI) (see STORE512).
#define STORE256(c0, c1, c2, c3, t0, t1, off) \
	VPSLLQ $32, c1, c1; \
	VPBLENDD $0xAA, c1, c0, c0; \
	VPSLLQ $32, c3, c3; \
	VPBLENDD $0xAA, c3, c2, c2; \
	VPUNPCKLQDQ c2, c0, t0; \
	VPUNPCKHQDQ c2, c0, t1; \
	VPERM2I128 $0x20, t1, t0, c1; \
	VPERM2I128 $0x31, t1, t0, c3; \
	VMOVDQU c1, off(DI); \
	VMOVDQU c3, off+32(DI)

// func philoxAVX2(dst []uint64, ctr uint64, keys *philoxKeys)
// philoxAVX512 for AVX2; len(dst) is a multiple of 16.
TEXT ·philoxAVX2(SB), NOSPLIT, $0-40
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ ctr+24(FP), AX
	MOVQ keys+32(FP), R8
	SHRQ $4, CX
	JZ   done256
loop256:
	MOVQ AX, X12
	VPBROADCASTQ X12, Y12
	VPADDQ philoxIota<>+0(SB), Y12, Y0
	VPADDQ philoxIota<>+32(SB), Y12, Y6
	VPSRLQ $32, Y0, Y1
	VPSRLQ $32, Y6, Y7
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	ROUND256(Y0, Y1, Y2, Y3, Y4, Y5, 0, 32)
	ROUND256(Y6, Y7, Y8, Y9, Y10, Y11, 0, 32)
	ROUND256(Y0, Y5, Y2, Y4, Y3, Y1, 64, 96)
	ROUND256(Y6, Y11, Y8, Y10, Y9, Y7, 64, 96)
	ROUND256(Y0, Y1, Y2, Y3, Y4, Y5, 128, 160)
	ROUND256(Y6, Y7, Y8, Y9, Y10, Y11, 128, 160)
	ROUND256(Y0, Y5, Y2, Y4, Y3, Y1, 192, 224)
	ROUND256(Y6, Y11, Y8, Y10, Y9, Y7, 192, 224)
	ROUND256(Y0, Y1, Y2, Y3, Y4, Y5, 256, 288)
	ROUND256(Y6, Y7, Y8, Y9, Y10, Y11, 256, 288)
	ROUND256(Y0, Y5, Y2, Y4, Y3, Y1, 320, 352)
	ROUND256(Y6, Y11, Y8, Y10, Y9, Y7, 320, 352)
	ROUND256(Y0, Y1, Y2, Y3, Y4, Y5, 384, 416)
	ROUND256(Y6, Y7, Y8, Y9, Y10, Y11, 384, 416)
	ROUND256(Y0, Y5, Y2, Y4, Y3, Y1, 448, 480)
	ROUND256(Y6, Y11, Y8, Y10, Y9, Y7, 448, 480)
	ROUND256(Y0, Y1, Y2, Y3, Y4, Y5, 512, 544)
	ROUND256(Y6, Y7, Y8, Y9, Y10, Y11, 512, 544)
	ROUND256(Y0, Y5, Y2, Y4, Y3, Y1, 576, 608)
	ROUND256(Y6, Y11, Y8, Y10, Y9, Y7, 576, 608)
	STORE256(Y0, Y1, Y2, Y3, Y4, Y5, 0)
	STORE256(Y6, Y7, Y8, Y9, Y10, Y11, 64)
	ADDQ $8, AX
	ADDQ $128, DI
	DECQ CX
	JNZ  loop256
	VZEROUPPER
done256:
	RET
