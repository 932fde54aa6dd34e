#!/usr/bin/env python3
"""Held-out denoising loss of diffusion models: epsilon MSE on whole
images of a folder (e.g. 128x128 real LQ images no model trained on) at
fixed timesteps, with the same noise for every model, so that models are
compared on identical work.

    python3 bench/gputrain/heldout_loss.py --data DIR --ts 10,50,100,150,200,240 MODEL_DIR...
"""
import argparse
import glob
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import unet_torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ts", default="10,50,100,150,200,240")
    ap.add_argument("--size", type=int, default=128, help="centre crop side")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(2)
    s = args.size
    xs = []
    for f in sorted(glob.glob(os.path.join(args.data, "*"))):
        a = np.asarray(Image.open(f).convert("RGB"))
        h, w = a.shape[:2]
        if h < s or w < s:
            continue
        y, x = (h - s) // 2, (w - s) // 2
        xs.append(torch.from_numpy(a[y:y + s, x:x + s].copy()).permute(2, 0, 1).float() * (2 / 255) - 1)
    x0 = torch.stack(xs)
    ts = [int(t) for t in args.ts.split(",")]
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    acp = torch.cumprod(1 - betas, 0).float()
    g = torch.Generator().manual_seed(args.seed)
    noise = {t: torch.randn(x0.shape, generator=g) for t in ts}
    print(f"{len(xs)} images of {s}x{s}; eps MSE per timestep")
    print("model".ljust(40) + "".join(f"{t:>9}" for t in ts) + "     mean")
    for m in args.models:
        net = unet_torch.load_folder(m).eval()
        row = []
        with torch.no_grad():
            for t in ts:
                a = acp[t]
                xt = a.sqrt() * x0 + (1 - a).sqrt() * noise[t]
                err = 0.0
                for i in range(0, len(x0), 4):
                    err += ((net(xt[i:i + 4], float(t)) - noise[t][i:i + 4]) ** 2).sum().item()
                row.append(err / x0.numel())
        print(os.path.basename(m.rstrip("/"))[-40:].ljust(40) + "".join(f"{v:9.4f}" for v in row) + f"{np.mean(row):9.4f}", flush=True)


if __name__ == "__main__":
    main()
