#!/usr/bin/python3
"""Engine kernels, degradiff vs PyTorch, side by side (issue 3).

Runs degradiff's Go benchmarks (go test -bench in engine/gemm, engine/conv
and engine/ag) and the same workloads in PyTorch, in one run:

  SGEMM 1024^3                      Go BenchmarkSgemm1024
  conv 3x3 W1 / W2, forward and     Go BenchmarkConvW{1,2}Forward{,Backward} (Winograd
                                    where it applies) and BenchmarkConvIm2col
    forward+backward (dx, dw, db)
  GroupNorm(32)+SiLU [8,64,64,64]   Go BenchmarkGroupNormSiLU/{forward,forward+backward}
  attention, 32x32 tokens, 128 ch,  Go BenchmarkAttention32x32/d{8,32}/{forward,forward+backward}
    heads of 8 (16) and of 32 (4)
  and, where the CPU has AVX512_BF16, ours with bf16 products (gemm.BF16)
  against PyTorch's float32: Go BenchmarkSgemmPrecision/bf16 and
  BenchmarkConvPrecision/W{1,2}/bf16 (forward+backward)

W1: N=8, Cin=Cout=64, 64x64, pad 1. W2: N=4, Cin=Cout=128, 32x32, pad 1.
Figures are GFLOP/s computed from the median time per call with one FLOP
convention for both sides (GroupNorm+SiLU: milliseconds):
  GEMM 2mnk; conv forward 2*N*Cout*Ho*Wo*Cin*K*K, forward+backward 3x that;
  attention forward 4*N*heads*L*L*d, forward+backward 3x that (the
  backward's four products of the forward's size; softmax is not counted).

Usage: /usr/bin/python3 bench/engine_vs_torch.py [--reps 5] [--iters 5] [--json]
"""

import argparse
import statistics
import sys
import tempfile

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import benchlib as bl  # noqa: E402

PKGS = ["./engine/gemm", "./engine/conv", "./engine/ag"]
PATTERN = "^(BenchmarkSgemm1024|BenchmarkSgemmPrecision|BenchmarkConvW[12]Forward|BenchmarkConvW[12]ForwardBackward|" \
          "BenchmarkConvPrecision|BenchmarkConvIm2col|BenchmarkGroupNormSiLU|BenchmarkAttention32x32)$"

CONVS = {"W1": (8, 64, 64, 64, 64), "W2": (4, 128, 128, 32, 32)}  # N, Cin, Cout, H, W


def conv_flops(n, cin, cout, h, w, k=3):
    return 2.0 * n * cout * h * w * cin * k * k


def attn_flops(tokens, channels, n=1):
    return 4.0 * n * tokens * tokens * channels


def torch_sgemm(args):
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    c = torch.empty(1024, 1024)
    mm = bl.time_torch(lambda: torch.mm(a, b, out=c), args.warmup, args.reps, args.iters)
    # oneDNN's own SGEMM, through the mkldnn linear op: independent of the
    # system BLAS that torch.mm calls.
    am, bm = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
    dnn = bl.time_torch(lambda: torch._C._nn.mkldnn_linear(am, bm, None), args.warmup, args.reps, args.iters)
    return mm, dnn


def torch_conv(shape, backward, args):
    n, cin, cout, h, w = shape
    x = torch.randn(n, cin, h, w, requires_grad=backward)
    wt = torch.randn(cout, cin, 3, 3, requires_grad=backward)
    b = torch.randn(cout, requires_grad=backward)
    dy = torch.randn(n, cout, h, w)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, wt, b, padding=1)

    def fwd_bwd():
        x.grad = wt.grad = b.grad = None
        F.conv2d(x, wt, b, padding=1).backward(dy)

    return bl.time_torch(fwd_bwd if backward else fwd, args.warmup, args.reps, args.iters)


def torch_groupnorm(backward, args):
    x = torch.randn(8, 64, 64, 64, requires_grad=backward)
    g = (torch.rand(64) + 0.5).requires_grad_(backward)
    b = (torch.rand(64) * 0.3).requires_grad_(backward)

    def fwd():
        with torch.no_grad():
            F.silu(F.group_norm(x, 32, g, b, 1e-5))

    def fwd_bwd():
        x.grad = g.grad = b.grad = None
        y = F.silu(F.group_norm(x, 32, g, b, 1e-5))
        y.backward(torch.ones_like(y))  # Go's Backward seeds ones too

    return bl.time_torch(fwd_bwd if backward else fwd, args.warmup, args.reps, args.iters)


def attention(q, k, v, heads):
    """diffusers' AttnProcessor on [N, L, C] tokens (the processor diffusers
    0.21 uses with torch < 2): split heads, baddbmm scores, softmax, bmm,
    merge heads. Go's benchmark times the same: its Attention op takes
    [N, L, C] and splits the heads itself."""
    n, l, c = q.shape
    d = c // heads

    def split(t):
        return t.reshape(n, l, heads, d).permute(0, 2, 1, 3).reshape(n * heads, l, d)

    q, k, v = split(q), split(k), split(v)
    s = torch.baddbmm(torch.empty(n * heads, l, l), q, k.transpose(-1, -2), beta=0, alpha=d ** -0.5)
    o = torch.bmm(s.softmax(dim=-1), v)
    return o.reshape(n, heads, l, d).permute(0, 2, 1, 3).reshape(n, l, c)


def torch_attention(d, backward, args, side=32, channels=128):
    tokens = side * side
    q, k, v = (torch.randn(1, tokens, channels, requires_grad=backward) for _ in range(3))
    heads = channels // d

    def fwd():
        with torch.no_grad():
            attention(q, k, v, heads)

    def fwd_bwd():
        q.grad = k.grad = v.grad = None
        y = attention(q, k, v, heads)
        y.backward(torch.ones_like(y))

    return bl.time_torch(fwd_bwd if backward else fwd, args.warmup, args.reps, args.iters)


def gflops(flops, seconds):
    return flops / seconds / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions per side (go test -count); median taken")
    ap.add_argument("--iters", type=int, default=5, help="calls per repetition (go test -benchtime Nx)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed PyTorch calls first (Go benchmarks warm up themselves)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads and GOMAXPROCS")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args()
    bl.setup_torch(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        unetio = bl.go_build("./bench/unetio", tmp, "unetio")
        info = bl.machine(args.threads, bl.go_kernel(unetio, args.threads))
    go = bl.go_bench(PKGS, PATTERN, f"{args.iters}x", args.reps, args.threads)

    def go_sec(name):
        if name not in go:
            raise RuntimeError(f"Go benchmark {name} did not run; found {sorted(go)}")
        return bl.median_metric(go[name], "ns/op") * 1e-9

    med = statistics.median
    rows = []
    bl.log("torch: sgemm")
    mm, dnn = torch_sgemm(args)
    f = 2.0 * 1024 ** 3
    ours = gflops(f, go_sec("BenchmarkSgemm1024"))
    rows.append(bl.row("SGEMM 1024^3", "GFLOP/s", ours, gflops(f, med(mm)), "higher", "torch.mm (system BLAS)"))
    rows.append(bl.row("SGEMM 1024^3", "GFLOP/s", ours, gflops(f, med(dnn)), "higher", "oneDNN (mkldnn_linear)"))
    # bf16 products (gemm.BF16) run only where the CPU has AVX512_BF16;
    # PyTorch stays in float32, the precision it trains in on CPU here.
    bf16 = "BenchmarkSgemmPrecision/bf16" in go
    if bf16:
        rows.append(bl.row("GEMM 1024^3 bf16 (ours)", "GFLOP/s", gflops(f, go_sec("BenchmarkSgemmPrecision/bf16")),
                           gflops(f, med(mm)), "higher", "vs torch.mm float32"))

    for name, shape in CONVS.items():
        f = conv_flops(*shape)
        for backward, suffix, label in [(False, "Forward", "fwd"), (True, "ForwardBackward", "fwd+bwd")]:
            bl.log(f"torch: conv {name} {label}")
            t = torch_conv(shape, backward, args)
            mult = 3 if backward else 1
            n, cin, cout, h, w = shape
            rows.append(bl.row(f"conv3x3 {name} {label}", "GFLOP/s", gflops(mult * f, go_sec(f"BenchmarkConv{name}{suffix}")),
                               gflops(mult * f, med(t)), "higher", f"N={n} C={cin}->{cout} {h}x{w}"))
            # The default float32 path runs Winograd's F(2x2,3x3) on these
            # shapes; the im2col row is the same convolution without it.
            sub = "forward+backward" if backward else "forward"
            rows.append(bl.row(f"conv3x3 {name} {label} im2col (ours)", "GFLOP/s",
                               gflops(mult * f, go_sec(f"BenchmarkConvIm2col/{name}/{sub}")),
                               gflops(mult * f, med(t)), "higher", "Winograd off"))
            if backward and bf16:
                rows.append(bl.row(f"conv3x3 {name} {label} bf16 (ours)", "GFLOP/s",
                                   gflops(mult * f, go_sec(f"BenchmarkConvPrecision/{name}/bf16")),
                                   gflops(mult * f, med(t)), "higher", "vs PyTorch float32"))

    for backward, sub, label in [(False, "forward", "fwd"), (True, "forward+backward", "fwd+bwd")]:
        bl.log(f"torch: groupnorm+silu {label}")
        t = torch_groupnorm(backward, args)
        rows.append(bl.row(f"GroupNorm+SiLU {label}", "ms", go_sec(f"BenchmarkGroupNormSiLU/{sub}") * 1e3,
                           med(t) * 1e3, "lower", "[8,64,64,64], 32 groups"))

    for d in (8, 32):
        f = attn_flops(32 * 32, 128)
        for backward, sub, label in [(False, "forward", "fwd"), (True, "forward+backward", "fwd+bwd")]:
            bl.log(f"torch: attention d{d} {label}")
            t = torch_attention(d, backward, args)
            mult = 3 if backward else 1
            rows.append(bl.row(f"attention 32x32 d{d} {label}", "GFLOP/s",
                               gflops(mult * f, go_sec(f"BenchmarkAttention32x32/d{d}/{sub}")),
                               gflops(mult * f, med(t)), "higher", f"L=1024 C=128, {128 // d} heads of {d}"))

    extra = {"settings": f"median of {args.reps} repetitions x {args.iters} calls per side; "
                         f"PyTorch warm-up {args.warmup} calls"}
    bl.report("degradiff engine vs PyTorch", info, rows, args.json,
              dict(extra, go_raw=go) if args.json else extra)


if __name__ == "__main__":
    main()
