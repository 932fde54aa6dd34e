//go:build !noasm

#include "textflag.h"

// Word indices that interleave the two halves of a zmm register of 32
// bf16: word 2x takes word x, word 2x+1 takes word 16+x.
DATA pairIndex<>+0(SB)/8, $0x0011000100100000
DATA pairIndex<>+8(SB)/8, $0x0013000300120002
DATA pairIndex<>+16(SB)/8, $0x0015000500140004
DATA pairIndex<>+24(SB)/8, $0x0017000700160006
DATA pairIndex<>+32(SB)/8, $0x0019000900180008
DATA pairIndex<>+40(SB)/8, $0x001b000b001a000a
DATA pairIndex<>+48(SB)/8, $0x001d000d001c000c
DATA pairIndex<>+56(SB)/8, $0x001f000f001e000e
GLOBL pairIndex<>(SB), RODATA|NOPTR, $64

// tailMask[r] has the low r bits set, r <= 16.
DATA tailMask<>+0(SB)/8, $0x0007000300010000
DATA tailMask<>+8(SB)/8, $0x007f003f001f000f
DATA tailMask<>+16(SB)/8, $0x07ff03ff01ff00ff
DATA tailMask<>+24(SB)/8, $0x7fff3fff1fff0fff
DATA tailMask<>+32(SB)/8, $0xffffffffffffffff
GLOBL tailMask<>(SB), RODATA|NOPTR, $40

// func pairConvertAVX512(dst *float32, ldd, sw int, src *float32, offs *int, lds, nx, rows int)
//
// Converts rows 0 to rows-1 of src into bf16 pairs: row r at
// src[offs[r]:], or at src[r*lds:] when offs is nil, nx values each. Row q
// of dst (at dst[q*ldd:], sw words) holds rows 2q and 2q+1 (the second
// zero for an odd last q) interleaved, columns nx to sw-1 zero. For each
// pair of rows, 16 columns at a time (masked at the ends), both rows are
// converted into one register of 32 bf16, interleaved by vpermw and
// stored. Both rows of a group are loaded before it is stored, so the
// conversion may run in place (dst == src, lds == ldd).
TEXT ·pairConvertAVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), SI
	MOVQ src+24(FP), R14
	MOVQ offs+32(FP), R15
	MOVQ lds+40(FP), R8
	MOVQ rows+56(FP), R9
	VMOVDQU16 pairIndex<>(SB), Z31
	LEAQ tailMask<>(SB), R12
	XORQ R10, R10 // q

rows:
	MOVQ R10, AX
	SHLQ $1, AX // 2q
	CMPQ AX, R9
	JGE done
	MOVQ AX, BX
	IMULQ R8, BX // 2q*lds
	TESTQ R15, R15
	JZ lo
	MOVQ (R15)(AX*8), BX // offs[2q]

lo:
	LEAQ (R14)(BX*4), DI // row 2q
	INCQ AX
	XORQ R13, R13 // R13 = 1: row 2q+1 exists
	CMPQ AX, R9
	JGE single
	MOVQ AX, BX
	IMULQ R8, BX
	TESTQ R15, R15
	JZ hi
	MOVQ (R15)(AX*8), BX

hi:
	LEAQ (R14)(BX*4), DX // row 2q+1
	MOVQ $1, R13

single:
	MOVQ R10, BX
	IMULQ ldd+8(FP), BX
	LEAQ (SI)(BX*4), R11 // row q of the result
	XORQ CX, CX // x

cols:
	MOVQ sw+16(FP), AX
	SUBQ CX, AX
	CMPQ AX, $16
	JLE stmask
	MOVQ $16, AX

stmask:
	MOVWLZX (R12)(AX*2), BX
	KMOVW BX, K2 // columns stored
	MOVQ nx+48(FP), AX
	SUBQ CX, AX // source columns left
	JG some
	XORQ AX, AX

some:
	CMPQ AX, $16
	JLE ldmask
	MOVQ $16, AX

ldmask:
	MOVWLZX (R12)(AX*2), BX
	KMOVW BX, K1 // columns loaded
	VMOVUPS.Z (DI)(CX*4), K1, Z0
	VPXORD Z1, Z1, Z1
	TESTQ R13, R13
	JZ convert
	VMOVUPS.Z (DX)(CX*4), K1, Z1

convert:
	// VCVTNE2PS2BF16 Z0, Z1, Z2: words 0-15 from Z0, 16-31 from Z1.
	BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
	VPERMW Z2, Z31, Z2
	VMOVUPS Z2, K2, (R11)(CX*4)
	ADDQ $16, CX
	CMPQ CX, sw+16(FP)
	JLT cols
	INCQ R10
	JMP rows

done:
	VZEROUPPER
	RET
