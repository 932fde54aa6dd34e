#!/usr/bin/python3
"""Pair synthesis throughput, degradiff vs PyTorch (issue 5).

Workload: 512x512 HQ images (degradiff samples), official degradation
preset (scale 4, so 128x128 LQ), SDEdit with UniPC, 50 steps, strength
uniform in [0, 0.25] raised to at least 1/50: about 1 to 12 UNet
evaluations per pair, with the default model built into degradiff.

Measured:
1. ours, end to end: "degradiff synth" on the images (degradation, SDEdit,
   PNG writing, manifest), pairs/s and the process's peak RSS;
2. ours, degradation only: "degradiff degrade --preset official" on the same
   images (no PyTorch counterpart: the degradation is not mirrored);
3. the diffusion part alone, on both sides, on identical work: the initial
   LQ images and strengths that step 1 used (its LR_init/ and
   manifest.jsonl), one noise tensor per pair drawn here, the same weights.
   Ours: "unetio sdedit" (sampler.Img2Img with unet.Predict, as synth runs
   it); PyTorch: the mirror UNet (bench/unet_torch.py) and UniPC
   (bench/unipc_torch.py, diffusers 0.21 semantics, leading spacing from
   the model's scheduler config). Pairs run one after another with batch 1
   on both sides. The outputs are compared (max |Go - PyTorch|).

Usage: /usr/bin/python3 bench/synth_vs_torch.py [--pairs 6] [--json]
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__

import torch  # noqa: E402

import benchlib as bl  # noqa: E402
import tinysafetensors as st  # noqa: E402
import unet_torch as ut  # noqa: E402
import unipc_torch as up  # noqa: E402

DEFAULT_MODEL = os.path.join(bl.REPO, "models", "defaultmodel", "weights")
SAMPLE_SCENES = 6  # degradiff samples renders this many scenes per seed


def make_images(degradiff, folder, count, size):
    """Render count HQ images (several sample seeds in subfolders)."""
    seeds = -(-count // SAMPLE_SCENES)
    for s in range(seeds):
        bl.run([degradiff, "samples", "--out", os.path.join(folder, f"s{s}"), "--size", str(size),
                "--seed", str(s + 1)])
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(folder) for f in fs)
    for f in files[count:]:
        os.remove(f)
    return files[:count]


def read_manifest(out_dir):
    with open(os.path.join(out_dir, "manifest.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return sorted(recs, key=lambda r: r["lr"])


def torch_sdedit(model, sched_cfg, init, noise, strengths, steps):
    """Run the img2img loop per pair; return outputs, seconds and evals."""
    outs, secs, evals = [], [], []
    with torch.no_grad():
        for i, s in enumerate(strengths):
            start = time.perf_counter()
            y, n = up.img2img(model, up.UniPC(sched_cfg), init[i:i + 1], noise[i:i + 1], steps, s)
            secs.append(time.perf_counter() - start)
            outs.append(y)
            evals.append(n)
    return torch.cat(outs), secs, evals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=6, help="HQ images, one pair each")
    ap.add_argument("--size", type=int, default=512, help="HQ image size")
    ap.add_argument("--steps", type=int, default=50, help="inference steps")
    ap.add_argument("--seed", type=int, default=1, help="synth seed (strengths, degradations)")
    ap.add_argument("--workers", type=int, default=0, help="degradiff synth --workers (0: its default)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads and GOMAXPROCS")
    ap.add_argument("--keep", help="keep the work folder here (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = ap.parse_args()
    bl.setup_torch(args.threads)
    env = bl.go_env(args.threads)

    tmp = tempfile.mkdtemp(prefix="synth_vs_torch")
    try:
        degradiff = bl.go_build("./cmd/degradiff", tmp, "degradiff")
        unetio = bl.go_build("./bench/unetio", tmp, "unetio")
        info = bl.machine(args.threads, bl.go_kernel(unetio, args.threads))
        hq = os.path.join(tmp, "hq")
        make_images(degradiff, hq, args.pairs, args.size)

        bl.log(f"ours: degradiff synth on {args.pairs} images")
        out = os.path.join(tmp, "synth")
        cmd = [degradiff, "synth", "--hq", hq, "--out", out, "--seed", str(args.seed), "--steps", str(args.steps),
               "--keep-init"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        _, synth_wall, synth_rss, _ = bl.run_measured(cmd, env=env)
        recs = read_manifest(out)
        if len(recs) != args.pairs:
            raise RuntimeError(f"synth wrote {len(recs)} pairs, want {args.pairs}")

        bl.log("ours: degradiff degrade (official preset)")
        _, degrade_wall, degrade_rss, _ = bl.run_measured(
            [degradiff, "degrade", "--preset", "official", "--hq", hq, "--out", os.path.join(tmp, "degrade"),
             "--seed", str(args.seed)], env=env)

        # The diffusion part on identical inputs.
        packed = os.path.join(tmp, "init.safetensors")
        bl.run([unetio, "pack", "--out", packed] +
               [os.path.join(out, r["lr"].replace("LR/", "LR_init/", 1)) for r in recs])
        init = st.load(packed)["x"] * 2 - 1
        noise = torch.randn(init.shape, generator=torch.Generator().manual_seed(2024))
        strengths = [float(r["strength"]) for r in recs]
        sd_in, sd_out = os.path.join(tmp, "sd_in.safetensors"), os.path.join(tmp, "sd_out.safetensors")
        st.save(sd_in, {"init": init, "noise": noise, "strength": torch.tensor(strengths, dtype=torch.float64)})
        bl.log("ours: unetio sdedit")
        res, _, sd_rss, _ = bl.run_measured([unetio, "sdedit", "--model", "default", "--in", sd_in, "--out", sd_out,
                                             "--steps", str(args.steps)], env=env)
        go_sd = json.loads(res)
        go_out = st.load(sd_out)["out"]

        bl.log("torch: sdedit")
        model = ut.load_folder(DEFAULT_MODEL).eval()
        with open(os.path.join(DEFAULT_MODEL, "scheduler_config.json")) as f:
            sched_cfg = json.load(f)
        # One untimed UNet call: oneDNN builds its kernels on first use.
        with torch.no_grad():
            model(init[:1], torch.tensor(500))
        t_out, t_secs, t_evals = torch_sdedit(model, sched_cfg, init, noise, strengths, args.steps)
        torch_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if t_evals != go_sd["evals"] or t_evals != [r["run_steps"] for r in recs]:
            raise RuntimeError(f"UNet evaluations differ: torch {t_evals}, Go {go_sd['evals']}, "
                               f"synth {[r['run_steps'] for r in recs]}")
        diff = (t_out - go_out).abs().max().item()
    finally:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.move(tmp, args.keep)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    n = args.pairs
    evals = sum(t_evals)
    rows = [
        bl.row("synth end to end (degrade+SDEdit+I/O)", "pairs/s", n / synth_wall, None, "higher",
               "degradiff synth; no PyTorch counterpart"),
        bl.row("synth end to end peak RSS", "MiB", synth_rss / 1024, None, "lower", "degradiff synth process"),
        bl.row("degradation only (official preset)", "pairs/s", n / degrade_wall, None, "higher",
               "degradiff degrade; not mirrored in PyTorch"),
        bl.row("SDEdit diffusion only", "pairs/s", n / sum(go_sd["seconds"]), n / sum(t_secs), "higher",
               f"same inits/strengths/noise, {evals} UNet evals"),
        bl.row("SDEdit per UNet evaluation", "ms", 1e3 * sum(go_sd["seconds"]) / evals, 1e3 * sum(t_secs) / evals,
               "lower", "128x128, batch 1"),
        bl.row("SDEdit peak RSS", "MiB", sd_rss / 1024, torch_rss / 1024, "lower",
               "ours: unetio process; torch: this script's process"),
    ]
    extra = {
        "workload": f"{n} HQ images {args.size}x{args.size} -> LQ {args.size // 4}x{args.size // 4}, official preset, "
                    f"UniPC {args.steps} steps, strengths {', '.join(f'{s:.3f}' for s in strengths[:12])}"
                    f"{', ...' if len(strengths) > 12 else ''}",
        "UNet evaluations per pair": f"{statistics.mean(t_evals):.1f} on average ({min(t_evals)}..{max(t_evals)})",
        "max |Go - PyTorch| over the SDEdit outputs": f"{diff:.3g}",
        "note": "PyTorch runs only the diffusion part; the degradation rows are degradiff alone",
    }
    bl.report("degradiff synth vs PyTorch (SDEdit with the same weights)", info, rows, args.json, extra)


if __name__ == "__main__":
    main()
