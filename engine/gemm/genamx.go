//go:build ignore

// Genamx writes amx_amd64.s from the template below: lines "@op(args)"
// become the bytes of an AMX instruction, which the Go assembler does not
// know. Run it with go generate after changing the template.
package main

import (
	"fmt"
	"log"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// regs numbers the general registers as the instruction encodings do.
var regs = map[string]int{"AX": 0, "CX": 1, "DX": 2, "BX": 3, "SP": 4, "BP": 5, "SI": 6, "DI": 7,
	"R8": 8, "R9": 9, "R10": 10, "R11": 11, "R12": 12, "R13": 13}

func reg(name string) int {
	r, ok := regs[name]
	if !ok {
		log.Fatalf("unknown register %q", name)
	}
	return r
}

func bytesLine(comment string, bs ...int) string {
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("BYTE $0x%02X", b)
	}
	return "\t" + strings.Join(parts, "; ") + " // " + comment
}

// memory returns the second VEX byte's R, X and B bits with the map 0F38,
// and the ModRM and SIB bytes of [base+index*1] with tile register t.
func memory(t int, base, index string) (vex1, modrm, sib int) {
	b, x := reg(base), reg(index)
	if b&7 == 5 || x == 4 {
		log.Fatalf("[%s+%s] needs another encoding", base, index)
	}
	vex1 = 0x80 | 0x02 // R (inverted) set: tile registers need no extension
	if x < 8 {
		vex1 |= 0x40
	}
	if b < 8 {
		vex1 |= 0x20
	}
	return vex1, (t&7)<<3 | 4, (x&7)<<3 | b&7
}

func tileloadd(t int, base, index string) string {
	v, m, s := memory(t, base, index)
	return bytesLine(fmt.Sprintf("tileloadd tmm%d, [%s+%s*1]", t, base, index), 0xC4, v, 0x7B, 0x4B, m, s)
}

func tilestored(t int, base, index string) string {
	v, m, s := memory(t, base, index)
	return bytesLine(fmt.Sprintf("tilestored [%s+%s*1], tmm%d", base, index, t), 0xC4, v, 0x7A, 0x4B, m, s)
}

func tdp(d, a, b int) string {
	return bytesLine(fmt.Sprintf("tdpbf16ps tmm%d, tmm%d, tmm%d", d, a, b), 0xC4, 0xE2, (^b&15)<<3|0x02, 0x5C, 0xC0|d<<3|a)
}

func tilezero(t int) string {
	return bytesLine(fmt.Sprintf("tilezero tmm%d", t), 0xC4, 0xE2, 0x7B, 0x49, 0xC0|t<<3)
}

func ldtilecfg(r string) string {
	n := reg(r)
	if n&7 == 4 || n&7 == 5 {
		log.Fatalf("ldtilecfg [%s] needs another encoding", r)
	}
	v := 0xE2
	if n >= 8 {
		v = 0xC2
	}
	return bytesLine(fmt.Sprintf("ldtilecfg [%s]", r), 0xC4, v, 0x78, 0x49, n&7)
}

func tilerelease() string { return bytesLine("tilerelease", 0xC4, 0xE2, 0x78, 0x49, 0xC0) }

// epilogue returns the end of a tile kernel, after its sums are in acc
// (R8): the tiles released, then C = alpha*acc + beta*C row by row, as the
// AVX-512 kernels store their tiles (beta 0: C is not read). sfx keeps the
// labels of each kernel apart.
func epilogue(sfx string) string {
	return strings.NewReplacer("SFX", sfx, "TILERELEASE", tilerelease()).Replace(`TILERELEASE
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), DX
	SHLQ $2, DX
	MOVQ mr+64(FP), BX
	VBROADCASTSS alpha+72(FP), Z2
	MOVL beta+76(FP), AX
	SHLL $1, AX
	JNZ scaledSFX
rowsSFX0:
	VMULPS (R8), Z2, Z0
	VMULPS 64(R8), Z2, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, R8
	ADDQ DX, DI
	DECQ BX
	JNZ rowsSFX0
	VZEROUPPER
	RET
scaledSFX:
	VBROADCASTSS beta+76(FP), Z3
rowsSFX:
	VMULPS (R8), Z2, Z0
	VMULPS 64(R8), Z2, Z1
	VFMADD231PS (DI), Z3, Z0
	VFMADD231PS 64(DI), Z3, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $128, R8
	ADDQ DX, DI
	DECQ BX
	JNZ rowsSFX
	VZEROUPPER
	RET`)
}

// tiles numbers the tiles of a kernel with n A tiles (see kernel) and
// writes the instructions that use them through line.
type tiles struct {
	n    int
	line func(format string, args ...any)
}

func (ts tiles) a(i int) int { return 2*ts.n + i }
func (ts tiles) b(h int) int { return 3*ts.n + h }

// forC runs f on each accumulator and the offset of its sums in acc.
func (ts tiles) forC(f func(t, off int)) {
	for a := range ts.n {
		for h := range 2 {
			f(2*a+h, a*2048+h*64)
		}
	}
}

func (ts tiles) zero() { ts.forC(func(t, _ int) { ts.line("%s", tilezero(t)) }) }

// acc stores (or loads) the accumulators to (from) acc at R8, its rows
// stride bytes apart (a register).
func (ts tiles) acc(op func(int, string, string) string, stride string) {
	ts.forC(func(t, off int) {
		if off == 0 {
			ts.line("%s", op(t, "R8", stride))
			return
		}
		ts.line("\tLEAQ %d(R8), R11", off)
		ts.line("%s", op(t, "R11", stride))
	})
}

// products loads a block of A (at SI, rows R9 apart; its rows 16 and on
// at R11, which the lines second set) and the two halves of a block of B
// (at DI, rows R10 apart), and adds their products into the accumulators.
func (ts tiles) products(second ...string) {
	for a := range ts.n {
		if a == 0 {
			ts.line("%s", tileloadd(ts.a(a), "SI", "R9"))
			continue
		}
		for _, l := range second {
			ts.line("%s", l)
		}
		ts.line("%s", tileloadd(ts.a(a), "R11", "R9"))
	}
	ts.line("%s", tileloadd(ts.b(0), "DI", "R10"))
	ts.line("\tLEAQ 64(DI), R11")
	ts.line("%s", tileloadd(ts.b(1), "R11", "R10"))
	ts.forC(func(t, _ int) { ts.line("%s", tdp(t, ts.a(t/2), ts.b(t%2))) })
}

// kernel returns the tile kernel name with aTiles A tiles of 16 rows (1:
// up to 16 rows of C, 2: up to 32): tiles 0 to 2*aTiles-1 accumulate C
// (rows 16a to 16a+15, columns 16h to 16h+15 in tile 2a+h), tiles 2*aTiles
// + a hold a block of A (16 rows of 16 bf16 pairs) and tiles 3*aTiles + h
// the two halves of a block of B (16 pair rows of 16 columns). The sums go
// through the frame (acc: mr rows of 32), which Go would zero were it a Go
// variable; the last rem pairs run under a second tile configuration,
// which clears the tiles, so the sums so far go through acc.
func kernel(name string, aTiles int) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	ts := tiles{n: aTiles, line: line}
	cTiles := func(op func(int, string, string) string) { ts.acc(op, "R10") }
	multiply := func() { ts.products("\tMOVQ R9, R11", "\tSHLQ $4, R11", "\tADDQ SI, R11 // A's rows 16 and on") }
	zero := ts.zero
	sfx := strconv.Itoa(aTiles)
	line("// func %s(cfg, tail *[64]byte, a, b *float32, nblk, rem int, c *float32, ldc, mr int, alpha, beta float32)", name)
	line("TEXT ·%s(SB), $%d-80", name, 2048*aTiles)
	line("\tMOVQ a+16(FP), SI")
	line("\tMOVQ b+24(FP), DI")
	line("\tLEAQ 0(SP), R8 // acc")
	line("\tMOVQ $64, R9 // A's row stride in whole blocks")
	line("\tMOVQ $128, R10 // B's and acc's row stride")
	line("\tMOVQ mr+64(FP), R12")
	line("\tSHLQ $6, R12 // a block of A")
	line("\tMOVQ nblk+32(FP), BX")
	line("\tMOVQ rem+40(FP), CX")
	line("\tTESTQ BX, BX")
	line("\tJZ tail%s", sfx)
	line("\tMOVQ cfg+0(FP), AX")
	line("%s", ldtilecfg("AX"))
	zero()
	line("loop%s:", sfx)
	multiply()
	line("\tADDQ R12, SI")
	line("\tADDQ $2048, DI")
	line("\tDECQ BX")
	line("\tJNZ loop%s", sfx)
	cTiles(tilestored)
	line("")
	line("tail%s:", sfx)
	line("\tTESTQ CX, CX")
	line("\tJZ release%s", sfx)
	line("\tMOVQ tail+8(FP), AX")
	line("%s", ldtilecfg("AX"))
	line("\tMOVQ nblk+32(FP), BX")
	line("\tTESTQ BX, BX")
	line("\tJZ zero%s", sfx)
	cTiles(tileloadd)
	line("\tJMP tailmul%s", sfx)
	line("zero%s:", sfx)
	zero()
	line("tailmul%s:", sfx)
	line("\tMOVQ CX, R9")
	line("\tSHLQ $2, R9 // the tail block's rows are rem pairs long")
	multiply()
	cTiles(tilestored)
	line("")
	line("release%s:", sfx)
	b.WriteString(epilogue(sfx))
	return b.String()
}

// shiftEpilogue returns the end of a shifted-product kernel, after its
// sums are in acc (R8): the tiles released, then for each of the mr rows
// C = acc + bias[r] + beta*C over the first ncols columns (masked), as
// MulShifted documents; a nil bias adds zero.
func shiftEpilogue(sfx string) string {
	return strings.NewReplacer("SFX", sfx, "TILERELEASE", tilerelease()).Replace(`TILERELEASE
	MOVQ c+72(FP), DI
	MOVQ ldc+80(FP), DX
	SHLQ $2, DX
	MOVQ mr+88(FP), BX
	LEAQ amxMask<>(SB), R11
	MOVQ ncols+96(FP), AX
	MOVQ AX, CX
	CMPQ CX, $16
	JLE firstSFX
	MOVQ $16, CX
firstSFX:
	MOVWLZX (R11)(CX*2), R12
	KMOVW R12, K1
	SUBQ CX, AX
	MOVWLZX (R11)(AX*2), R12
	KMOVW R12, K2
	MOVQ bias+104(FP), SI
	MOVQ $4, R13
	TESTQ SI, SI
	JNZ biasSFX
	LEAQ amxZero<>(SB), SI
	XORQ R13, R13
biasSFX:
	MOVL beta+112(FP), AX
	SHLL $1, AX
	JNZ scaledSFX
rowsSFX0:
	VBROADCASTSS (SI), Z2
	VADDPS (R8), Z2, Z0
	VADDPS 64(R8), Z2, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ $128, R8
	ADDQ R13, SI
	ADDQ DX, DI
	DECQ BX
	JNZ rowsSFX0
	VZEROUPPER
	RET
scaledSFX:
	VBROADCASTSS beta+112(FP), Z3
rowsSFX:
	VBROADCASTSS (SI), Z2
	VMOVUPS.Z (DI), K1, Z4
	VMOVUPS.Z 64(DI), K2, Z5
	VADDPS (R8), Z2, Z0
	VADDPS 64(R8), Z2, Z1
	VFMADD231PS Z4, Z3, Z0
	VFMADD231PS Z5, Z3, Z1
	VMOVUPS Z0, K1, (DI)
	VMOVUPS Z1, K2, 64(DI)
	ADDQ $128, R8
	ADDQ R13, SI
	ADDQ DX, DI
	DECQ BX
	JNZ rowsSFX
	VZEROUPPER
	RET`)
}

// shiftKernel returns the shifted-product kernel name with aTiles A tiles
// (the tiles numbered as kernel's): for each shift t (offs[t] columns of B)
// and each block of 16 pairs of the depth, a block of the packed A (the
// next aStep bytes on) times B's 16 pair rows at the shifted columns, all
// in the accumulators, so every output is one sum over the whole depth.
func shiftKernel(name string, aTiles int) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	ts := tiles{n: aTiles, line: line}
	sfx := "s" + strconv.Itoa(aTiles)
	line("// func %s(cfg *[64]byte, a, b *float32, aStep int, offs *int, shifts, chunks, bChunk, ldb int, c *float32, ldc, mr, ncols int, bias *float32, beta float32)", name)
	line("TEXT ·%s(SB), $%d-116", name, 2048*aTiles)
	line("\tMOVQ cfg+0(FP), AX")
	line("%s", ldtilecfg("AX"))
	ts.zero()
	line("\tMOVQ a+8(FP), SI")
	line("\tMOVQ b+16(FP), R14")
	line("\tMOVQ aStep+24(FP), R13")
	line("\tMOVQ offs+32(FP), R15")
	line("\tMOVQ shifts+40(FP), BX")
	line("\tMOVQ bChunk+56(FP), DX")
	line("\tMOVQ ldb+64(FP), R10 // B's pair-row stride in bytes")
	line("\tMOVQ $64, R9 // A's row stride")
	line("shift%s:", sfx)
	line("\tMOVQ (R15), DI")
	line("\tSHLQ $2, DI")
	line("\tADDQ R14, DI // B at this shift")
	line("\tADDQ $8, R15")
	line("\tMOVQ chunks+48(FP), CX")
	line("chunk%s:", sfx)
	ts.products("\tLEAQ 1024(SI), R11 // A's rows 16 and on")
	line("\tADDQ R13, SI")
	line("\tADDQ DX, DI")
	line("\tDECQ CX")
	line("\tJNZ chunk%s", sfx)
	line("\tDECQ BX")
	line("\tJNZ shift%s", sfx)
	line("\tLEAQ 0(SP), R8 // acc")
	line("\tMOVQ $128, R12 // acc's row stride")
	ts.acc(tilestored, "R12")
	b.WriteString(shiftEpilogue(sfx))
	return b.String()
}

var call = regexp.MustCompile(`^@(\w+)\((.*)\)$`)

// expand returns the assembly of one template line.
func expand(line string) string {
	m := call.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return line
	}
	var args []string
	if m[2] != "" {
		for _, a := range strings.Split(m[2], ",") {
			args = append(args, strings.Trim(strings.TrimSpace(a), `"`))
		}
	}
	num := func(i int) int {
		n, err := strconv.Atoi(args[i])
		if err != nil {
			log.Fatalf("%s: %v", line, err)
		}
		return n
	}
	switch m[1] {
	case "tileloadd":
		return tileloadd(num(0), args[1], args[2])
	case "tilestored":
		return tilestored(num(0), args[1], args[2])
	case "tdp":
		return tdp(num(0), num(1), num(2))
	case "tilezero":
		return tilezero(num(0))
	case "ldtilecfg":
		return ldtilecfg(args[0])
	case "tilerelease":
		return tilerelease()
	case "epilogue":
		return epilogue(args[0])
	case "kernel":
		return kernel(args[0], num(1))
	case "shiftKernel":
		return shiftKernel(args[0], num(1))
	}
	log.Fatalf("unknown instruction in %q", line)
	return ""
}

func main() {
	var out strings.Builder
	out.WriteString("// Code generated by genamx.go; DO NOT EDIT.\n\n")
	for _, line := range strings.Split(strings.TrimSuffix(template, "\n"), "\n") {
		out.WriteString(expand(line) + "\n")
	}
	if err := os.WriteFile("amx_amd64.s", []byte(out.String()), 0o644); err != nil {
		log.Fatal(err)
	}
}

const template = `//go:build !noasm

#include "textflag.h"

// amxMask[r] has the low r bits set, r <= 16.
DATA amxMask<>+0(SB)/8, $0x0007000300010000
DATA amxMask<>+8(SB)/8, $0x007f003f001f000f
DATA amxMask<>+16(SB)/8, $0x07ff03ff01ff00ff
DATA amxMask<>+24(SB)/8, $0x7fff3fff1fff0fff
DATA amxMask<>+32(SB)/8, $0xffffffffffffffff
GLOBL amxMask<>(SB), RODATA|NOPTR, $40

// amxZero is the bias of a shifted product without one.
DATA amxZero<>+0(SB)/4, $0
GLOBL amxZero<>(SB), RODATA|NOPTR, $4

// AMX instructions are written as bytes: the Go assembler does not know
// them. The tiles live only within one call: Go may move the goroutine to
// another thread between calls, and no Go code runs in between.

@kernel("amxTileAsm", 1)

// amxTile2Asm is amxTileAsm for tiles of 17 to 32 rows: two A tiles (rows
// 0-15 and 16 to mr-1) and four accumulators, so that consecutive
// tdpbf16ps do not wait for each other.
@kernel("amxTile2Asm", 2)

// amxShiftAsm computes a block of up to 16 rows and 32 columns of a
// shifted product (Shifted.Mul); amxShift2Asm one of 17 to 32 rows.
@shiftKernel("amxShiftAsm", 1)

@shiftKernel("amxShift2Asm", 2)

// func amxPackRowsAVX512(dst, src *float32, ld, nx, w, kc int)
//
// Packs an AMX A panel straight from rows of op(A): row x < nx is
// src[x*ld:][:kc], rows nx to w-1 are zero. Each block of 32 values of a
// row (the last one kc%32, its odd end padded with zero) becomes 16 bf16
// pairs in order, as vcvtne2ps2bf16 makes them from two registers: a block
// of n pairs holds its w rows of n pairs one after another.
TEXT ·amxPackRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ nx+24(FP), R9
	MOVQ w+32(FP), R10
	MOVQ kc+40(FP), R11
	LEAQ amxMask<>(SB), R12
	XORQ R13, R13 // k0

block:
	CMPQ R13, R11
	JGE packed
	MOVQ R11, AX
	SUBQ R13, AX // f: values left in the rows
	CMPQ AX, $32
	JLE short
	MOVQ $32, AX
short:
	MOVQ AX, CX
	INCQ CX
	SHRQ $1, CX // n: pairs in the block
	MOVWLZX (R12)(CX*2), BX
	KMOVW BX, K3
	MOVQ AX, BX
	CMPQ BX, $16
	JLE lo
	MOVQ $16, BX
lo:
	MOVWLZX (R12)(BX*2), DX
	KMOVW DX, K1
	SUBQ BX, AX // values in the second register
	MOVWLZX (R12)(AX*2), DX
	KMOVW DX, K2
	LEAQ (SI)(R13*4), BX // row 0 at k0
	XORQ DX, DX // x

row:
	VPXORD Z2, Z2, Z2
	CMPQ DX, R9
	JGE store
	VMOVUPS.Z (BX), K1, Z0
	VMOVUPS.Z 64(BX), K2, Z1
	// VCVTNE2PS2BF16 Z0, Z1, Z2: words 0-15 from Z0, 16-31 from Z1.
	BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0
store:
	VMOVDQU32 Z2, K3, (DI)
	LEAQ (DI)(CX*4), DI
	ADDQ R8, BX
	INCQ DX
	CMPQ DX, R10
	JLT row
	ADDQ $32, R13
	JMP block

packed:
	VZEROUPPER
	RET
`
