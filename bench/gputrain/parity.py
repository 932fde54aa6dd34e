#!/usr/bin/env python3
"""Parity of a model folder between the PyTorch mirror and degradiff's UNet:
the same random input through both, max |Go - PyTorch| printed.

    python3 bench/gputrain/parity.py MODEL_DIR [--unetio PATH] [--size 64]

unetio is built from bench/unetio when --unetio is not given."""

import argparse
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinysafetensors  # noqa: E402
import unet_torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--unetio", default="")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with tempfile.TemporaryDirectory() as tmp:
        exe = args.unetio
        if not exe:
            exe = os.path.join(tmp, "unetio")
            subprocess.run(["go", "build", "-o", exe, "./bench/unetio"], cwd=root, check=True)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(2, 3, args.size, args.size, generator=g)
        t = torch.tensor([37.0, 212.0])
        tinysafetensors.save(os.path.join(tmp, "in.safetensors"), {"x": x, "t": t})
        subprocess.run([exe, "predict", "--model", os.path.abspath(args.model), "--in", os.path.join(tmp, "in.safetensors"),
                        "--out", os.path.join(tmp, "out.safetensors")], check=True, stdout=subprocess.DEVNULL)
        y_go = tinysafetensors.load(os.path.join(tmp, "out.safetensors"))["y"]
        with torch.no_grad():
            y_pt = unet_torch.load_folder(args.model)(x, t)
        d = (y_go - y_pt).abs().max().item()
        print(f"{args.model}: max |Go - PyTorch| = {d:.3g} (output scale {y_pt.abs().max().item():.3g})")
        if not d < 1e-3:
            sys.exit(1)


if __name__ == "__main__":
    main()
