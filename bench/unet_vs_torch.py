#!/usr/bin/python3
"""degradiff's UNet vs a plain-PyTorch mirror of diffusers' UNet2DModel
(bench/unet_torch.py), side by side (issue 4).

1. Numerics: the mirror loads the weights that degradiff writes and both
   run the same input (written here, read by bench/unetio); the table
   header reports max |Go - PyTorch| for
   - a Go-exported model (default: a random "cpu" preset model with every
     parameter jittered, written by "unetio init" with unet.Save; or
     --model DIR, e.g. from "degradiff export"),
   - the default model built into degradiff (float16 weights),
   - and, when ../shared/fixtures is there, the mirror against diffusers'
     own output on the tiny fixture UNet (a check of the yardstick itself).
2. Training throughput of the cpu preset at 64x64, batch 8: forward, MSE,
   backward and an AdamW step (lr 1e-4, betas 0.95/0.999, wd 1e-6), in
   samples/s. Ours: go test -bench BenchmarkTrainStepCPU64 ./models/unet,
   in float32 and, where the CPU has AVX512_BF16, mixed precision (bf16).
3. Inference (batch 1, t=500, no_grad in PyTorch) of the cpu preset at
   128x128 and 512x512 and of the reference preset (101M parameters) at
   256x256, each side in a fresh process, reporting the median time and the
   process's peak RSS (whole process: runtime, weights and activations).
   Ours: unet.Predict via "unetio infer" (with --bf16 also in bf16
   precision). PyTorch slices attention per
   (batch x head), as diffusers' set_attention_slice(1), wherever the score
   matrices of one attention call would exceed --attn-slice-mib; ours never
   holds a score matrix (memory-bounded attention).

Usage: /usr/bin/python3 bench/unet_vs_torch.py [--reps 3] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import benchlib as bl  # noqa: E402
import tinysafetensors as st  # noqa: E402
import unet_torch as ut  # noqa: E402

FIXTURES = os.path.join(bl.REPO, "..", "shared", "fixtures", "diffusers")
DEFAULT_MODEL = os.path.join(bl.REPO, "models", "defaultmodel", "weights")


def cross_check(unetio, model_spec, torch_model, tmp, threads, size=64):
    """Run the Go model (unetio predict) and torch_model on the same random
    input and return max |Go - PyTorch| and the output's max |value|."""
    g = torch.Generator().manual_seed(42)
    x = torch.randn(2, 3, size, size, generator=g)
    t = torch.tensor([37.0, 512.0])
    inp, out = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
    st.save(inp, {"x": x, "t": t})
    bl.run([unetio, "predict", "--model", model_spec, "--in", inp, "--out", out], env=bl.go_env(threads))
    y_go = st.load(out)["y"]
    with torch.no_grad():
        y = torch_model.eval()(x, t)
    return (y - y_go).abs().max().item(), y.abs().max().item()


def fixture_check():
    """max |mirror - diffusers| on the tiny fixture UNet, or None."""
    folder = os.path.join(FIXTURES, "unet_tiny")
    if not os.path.isdir(folder):
        return None
    io = st.load(os.path.join(FIXTURES, "unet_tiny_io.safetensors"))
    with torch.no_grad():
        y = ut.load_folder(folder).eval()(io["x"], io["timesteps_int64"])
    return (y - io["out.sample"]).abs().max().item()


def torch_train(args):
    """Seconds per training step of the cpu preset, batch 8 at 64x64."""
    model = ut.UNet2DModel(ut.preset_config("cpu")).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), eps=1e-8, weight_decay=1e-6)
    g = torch.Generator().manual_seed(1)
    x, target = torch.randn(8, 3, 64, 64, generator=g), torch.randn(8, 3, 64, 64, generator=g)
    t = torch.tensor([10.0, 90, 170, 250, 330, 410, 450, 499])

    def step():
        opt.zero_grad(set_to_none=True)
        F.mse_loss(model(x, t), target).backward()
        opt.step()

    return bl.time_torch(step, 1, args.reps, args.iters)


def go_infer(unetio, spec, size, warmup, reps, threads, precision="fp32"):
    out, wall, rss, _ = bl.run_measured([unetio, "infer", "--model", spec, "--size", str(size),
                                         "--warmup", str(warmup), "--reps", str(reps), "--precision", precision],
                                        env=bl.go_env(threads))
    return json.loads(out)["seconds"], rss


def torch_infer(preset, size, warmup, reps, threads, slice_size):
    cmd = [sys.executable, "-B", os.path.join(bl.BENCH_DIR, "unet_torch.py"), "infer", "--preset", preset,
           "--size", str(size), "--warmup", str(warmup), "--reps", str(reps), "--threads", str(threads),
           "--attn-slice", str(slice_size)]
    out, wall, rss, _ = bl.run_measured(cmd)
    return json.loads(out)["seconds"], rss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (median taken) for training and 128x128")
    ap.add_argument("--iters", type=int, default=1, help="training steps per repetition")
    ap.add_argument("--big-reps", type=int, default=1, help="timed runs at 512x512 and of the reference model")
    ap.add_argument("--sizes", default="128,512", help="cpu-preset inference sizes")
    ap.add_argument("--ref-size", type=int, default=256, help="reference-preset inference size (0: skip)")
    ap.add_argument("--attn-slice-mib", type=int, default=1024,
                    help="PyTorch slices attention when one call's scores would exceed this")
    ap.add_argument("--model", help="a Go-exported model folder for the cross-check (default: unetio init)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--bf16", action="store_true",
                    help="also time our inference with bf16 products (needs AVX512_BF16 to be fast)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads and GOMAXPROCS")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args()
    bl.setup_torch(args.threads)

    rows, checks = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        unetio = bl.go_build("./bench/unetio", tmp, "unetio")
        info = bl.machine(args.threads, bl.go_kernel(unetio, args.threads))

        bl.log("numerics")
        model_dir = args.model
        if not model_dir:
            model_dir = os.path.join(tmp, "model")
            bl.run([unetio, "init", "--preset", "cpu", "--seed", "1", "--jitter", "0.05", "--out", model_dir])
        d, scale = cross_check(unetio, model_dir, ut.load_folder(model_dir), tmp, args.threads)
        checks["max |Go - PyTorch|, exported model, 2x3x64x64"] = f"{d:.3g} (outputs up to {scale:.3g})"
        d, scale = cross_check(unetio, "default", ut.load_folder(DEFAULT_MODEL), tmp, args.threads)
        checks["max |Go - PyTorch|, built-in default model (F16 weights), 2x3x64x64"] = \
            f"{d:.3g} (outputs up to {scale:.3g})"
        fx = fixture_check()
        checks["max |mirror - diffusers 0.21.1| on the tiny fixture UNet"] = \
            f"{fx:.3g}" if fx is not None else "skipped (no ../shared/fixtures)"

        if not args.skip_train:
            go = bl.go_bench(["./models/unet"], "^BenchmarkTrainStepCPU64$", f"{args.iters}x", args.reps,
                             args.threads)
            bl.log("torch: training")
            theirs = 8 / statistics.median(torch_train(args))
            # One sub-benchmark per precision of the products (bf16 only
            # where the CPU has AVX512_BF16); PyTorch runs float32.
            # "/im2col": the same step with Winograd's convolutions off.
            for prec in ("fp32", "fp32/im2col", "bf16", "bf16/im2col"):
                name = f"BenchmarkTrainStepCPU64/{prec}"
                if name not in go:
                    continue
                ours = 8 / (bl.median_metric(go[name], "ns/op") * 1e-9)
                note = {"fp32": "fwd+MSE+bwd+AdamW", "fp32/im2col": "ours with Winograd off",
                        "bf16": "ours mixed precision (bf16 products), PyTorch float32",
                        "bf16/im2col": "ours bf16, Winograd off"}[prec]
                rows.append(bl.row(f"train step cpu preset 64x64 b8 {prec}", "samples/s", ours, theirs, "higher", note))

        jobs = [("cpu", int(s)) for s in args.sizes.split(",") if s] + (
            [("reference", args.ref_size)] if args.ref_size else [])
        for preset, size in jobs:
            big = size >= 256 or preset == "reference"
            warmup, reps = (1, args.big_reps) if big else (1, args.reps)
            probe = ut.UNet2DModel(ut.preset_config(preset))
            sliced = probe.attention_bytes(1, size, size) > args.attn_slice_mib * 2 ** 20
            del probe
            bl.log(f"go: infer {preset} {size}")
            gs, grss = go_infer(unetio, f"preset:{preset}", size, warmup, reps, args.threads)
            bl.log(f"torch: infer {preset} {size}")
            ts, trss = torch_infer(preset, size, warmup, reps, args.threads, 1 if sliced else 0)
            note = "torch attention sliced per head" if sliced else ""
            label = f"UNet {preset} {size}x{size} b1"
            rows.append(bl.row(label + " inference", "s", statistics.median(gs), statistics.median(ts), "lower",
                               note))
            if args.bf16:
                bl.log(f"go: infer {preset} {size} bf16")
                bs, _ = go_infer(unetio, f"preset:{preset}", size, warmup, reps, args.threads, "bf16")
                rows.append(bl.row(label + " inference bf16", "s", statistics.median(bs), statistics.median(ts),
                                   "lower", "ours bf16 products, PyTorch float32"))
            rows.append(bl.row(label + " peak RSS", "MiB", grss / 1024, trss / 1024, "lower", "whole process"))

    extra = {"numerical cross-checks": checks}
    extra["settings"] = (f"training: median of {args.reps} x {args.iters} steps; inference: median of "
                         f"{args.reps} runs ({args.big_reps} at >= 256 px or reference), 1 warm-up each")
    bl.report("degradiff UNet vs PyTorch (diffusers UNet2DModel mirror)", info, rows, args.json, extra)


if __name__ == "__main__":
    main()
