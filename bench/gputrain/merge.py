#!/usr/bin/env python3
"""Join the EMA shards of train_ddpm_torch.py into a diffusers pipeline
folder that degradiff loads (`synth --model DIR`, scripts/update-default-model.sh
after `degradiff export` is not needed):

    python3 bench/gputrain/merge.py --prefix OUT/nat.ema --config OUT/nat.config.json \
        --out MODEL [--fp16] [--note TEXT]

MODEL/unet/{config.json,diffusion_pytorch_model.safetensors},
MODEL/scheduler/scheduler_config.json (the built-in model's DDPMScheduler:
linear betas 1e-4..0.02 over 1000 steps, leading spacing, the schedule the
script trains with) and MODEL/info.json.
"""

import argparse
import glob
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinysafetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEDULER = os.path.join(HERE, "..", "..", "models", "defaultmodel", "weights", "scheduler_config.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prefix", required=True, help="PREFIX of PREFIX.partK.safetensors")
    ap.add_argument("--config", required=True, help="the run's config.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fp16", action="store_true", help="store float16 weights")
    ap.add_argument("--note", default="", help="info.json notes")
    args = ap.parse_args()
    parts = sorted(glob.glob(args.prefix + ".part*.safetensors"))
    if not parts:
        raise SystemExit(f"{args.prefix}.part*.safetensors: none found")
    state, step, want = {}, None, None
    for p in parts:
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            meta = json.loads(f.read(n)).get("__metadata__", {})
        step = step or meta.get("step")
        want = int(meta["part"].split("/")[1]) if "part" in meta else None
        state.update(tinysafetensors.load(p))
    if want is not None and want != len(parts):
        raise SystemExit(f"{args.prefix}: {len(parts)} parts found, the files say {want}")
    dtype = torch.float16 if args.fp16 else torch.float32
    state = {k: v.to(dtype) for k, v in state.items()}
    with open(args.config) as f:
        cfg = json.load(f)
    cfg["_class_name"] = "UNet2DModel"
    cfg["_diffusers_version"] = "0.21.1"
    os.makedirs(os.path.join(args.out, "unet"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "scheduler"), exist_ok=True)
    with open(os.path.join(args.out, "unet", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    tinysafetensors.save(os.path.join(args.out, "unet", "diffusion_pytorch_model.safetensors"), state)
    shutil.copy(SCHEDULER, os.path.join(args.out, "scheduler", "scheduler_config.json"))
    with open(os.path.join(args.out, "info.json"), "w") as f:
        json.dump({"notes": args.note or f"EMA weights after {step} steps of bench/gputrain/train_ddpm_torch.py",
                   "run": os.path.basename(args.prefix), "step": int(step or 0)}, f, indent=2)
        f.write("\n")
    print(f"{args.out}: {len(state)} tensors, step {step}, {dtype}")


if __name__ == "__main__":
    main()
