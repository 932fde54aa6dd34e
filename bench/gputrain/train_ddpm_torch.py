#!/usr/bin/env python3
"""Train a degradiff DDPM on a GPU with the plain-PyTorch UNet mirror.

degradiff's supported way to train is `degradiff train` on the CPU. When a
GPU is at hand, this script runs the same objective (random square crops
with horizontal flips, epsilon prediction, MSE, timesteps uniform below
--max-t of a 1000-step linear schedule, AdamW with the reference's betas,
weight decay and clipping, cosine learning rate with warm-up, diffusers'
EMA rule) much longer, and writes the EMA weights with diffusers' key names,
so that `degradiff synth --model` and the built-in model load them
unchanged (bench/gputrain/README.md: the parity check and how the weights
are embedded).

Training images come from bench/gputrain/prep (the pixels degradiff's
decoder gives), as PNG, WebP or JPEG files in one folder, and are kept on
the GPU as uint8. The run is bounded by --minutes: the step count of the
cosine schedule is fixed after timing the first steps. Every --save-every
seconds and at the end the EMA weights are written (atomically) as
safetensors files no larger than --shard-mib each.

    python3 bench/gputrain/train_ddpm_torch.py --data DIR --out DIR \
        --preset cpu --resolution 128 --batch 64 --max-t 250 --minutes 8
"""

import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tinysafetensors  # noqa: E402
import unet_torch  # noqa: E402


def load_images(folder, size, min_side, device):
    """Every image of folder as a uint8 [3, H, W] tensor on device; sides
    below size (but at least min_side) reflect-padded to size, centred, as
    the Go trainer pads them."""
    files = sorted(f for ext in ("png", "webp", "jpg", "jpeg", "JPG", "JPEG")
                   for f in glob.glob(os.path.join(folder, "*." + ext)))
    imgs, skipped = [], 0
    for f in files:
        a = np.asarray(Image.open(f).convert("RGB"))
        h, w = a.shape[:2]
        if min(h, w) < min_side:
            skipped += 1
            continue
        t = torch.from_numpy(a.copy()).permute(2, 0, 1).contiguous()
        ph, pw = max(size - h, 0), max(size - w, 0)
        if ph or pw:
            t = F.pad(t[None].float(), (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="reflect")[0].to(torch.uint8)
        imgs.append(t.to(device))
    if not imgs:
        raise SystemExit(f"{folder}: no usable images")
    return imgs, len(files), skipped


class Crops:
    """Random crops: images visited in a fresh permutation every epoch, crop
    positions uniform, flips with probability 1/2, scaled to [-1, 1]."""

    def __init__(self, imgs, size, gen):
        self.imgs, self.size, self.gen = imgs, size, gen
        self.perm, self.pos = [], 0

    def next_index(self):
        if self.pos >= len(self.perm):
            self.perm = torch.randperm(len(self.imgs), generator=self.gen).tolist()
            self.pos = 0
        self.pos += 1
        return self.perm[self.pos - 1]

    def batch(self, n, device):
        s = self.size
        out = torch.empty(n, 3, s, s, dtype=torch.uint8, device=device)
        r = torch.rand(n, 3, generator=self.gen).tolist()
        for i in range(n):
            im = self.imgs[self.next_index()]
            h, w = im.shape[1:]
            y = int(r[i][0] * (h - s + 1))
            x = int(r[i][1] * (w - s + 1))
            c = im[:, y:y + s, x:x + s]
            out[i] = c.flip(-1) if r[i][2] < 0.5 else c
        return out.float() * (2.0 / 255) - 1


def save_sharded(path_prefix, state, shard_bytes, dtype, meta):
    """Write state as path_prefix.partK.safetensors files of at most
    shard_bytes of tensor data each (atomically), and remove stale parts."""
    parts, cur, size = [], {}, 0
    for k in sorted(state):
        v = state[k].detach().to("cpu", dtype)
        nb = v.numel() * v.element_size()
        if cur and size + nb > shard_bytes:
            parts.append(cur)
            cur, size = {}, 0
        cur[k] = v
        size += nb
    parts.append(cur)
    for i, p in enumerate(parts):
        tmp = f"{path_prefix}.part{i}.safetensors.tmp"
        tinysafetensors.save(tmp, p, dict(meta, part=f"{i}/{len(parts)}"))
        os.replace(tmp, f"{path_prefix}.part{i}.safetensors")
    for f in glob.glob(path_prefix + ".part*.safetensors"):
        k = int(f.rsplit(".part", 1)[1].split(".")[0])
        if k >= len(parts):
            os.remove(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder of training images")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", default="ddpm", help="prefix of the output files")
    ap.add_argument("--preset", default="cpu", help="models/unet preset the config starts from")
    ap.add_argument("--block-out-channels", default="", help="override, e.g. 32,64,96,128")
    ap.add_argument("--norm-num-groups", type=int, default=0, help="override of norm_num_groups")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--min-side-fraction", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--max-t", type=int, default=250, help="timesteps drawn uniformly in [0, max-t)")
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget of the training loop")
    ap.add_argument("--max-steps", type=int, default=0, help="cap on the steps (0: as the budget allows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=float, default=120.0, help="seconds between EMA saves")
    ap.add_argument("--save-dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--shard-mib", type=float, default=15.0)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="bf16 autocast for the UNet (fp32 master weights, optimizer and EMA)")
    args = ap.parse_args()

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)  # crops (CPU)
    gen_dev = torch.Generator(device=dev).manual_seed(args.seed + 1)  # timesteps and noise
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    cfg = unet_torch.preset_config(args.preset)
    if args.block_out_channels:
        cfg["block_out_channels"] = [int(c) for c in args.block_out_channels.split(",")]
    if args.norm_num_groups:
        cfg["norm_num_groups"] = args.norm_num_groups
    cfg["sample_size"] = args.resolution
    model = unet_torch.UNet2DModel(cfg).to(dev)
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    nparams = sum(p.numel() for p in model.parameters())
    named = dict(model.named_parameters())
    if set(named) != set(ema):
        raise SystemExit("the model has buffers besides its parameters; the EMA would miss them")
    param_list = [named[k] for k in sorted(named)]
    ema_list = [ema[k] for k in sorted(named)]

    t0 = time.time()
    imgs, nfiles, skipped = load_images(args.data, args.resolution,
                                        int(args.resolution * args.min_side_fraction + 0.5), dev)
    crops = Crops(imgs, args.resolution, gen)
    print(f"{args.name}: {len(imgs)} images ({skipped} of {nfiles} too small) in {time.time() - t0:.1f}s; "
          f"{nparams} parameters; device {dev}", flush=True)

    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    acp = torch.cumprod(1 - betas, 0).float().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.95, 0.999), eps=1e-8, weight_decay=1e-6)

    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, f"{args.name}.log.jsonl"), "w")
    prefix = os.path.join(args.out, f"{args.name}.ema")
    shard = int(args.shard_mib * 2**20)
    dtype = torch.float32 if args.save_dtype == "fp32" else torch.float16
    with open(os.path.join(args.out, f"{args.name}.config.json"), "w") as f:
        json.dump(dict(cfg, _class_name="UNet2DModel"), f, indent=2)

    budget = args.minutes * 60
    total = args.max_steps or 10**9  # fixed after the timing steps
    timing_from, timing_to, mark = 20, 60, {}
    start = time.time()
    last_save, acc, accn = start, 0.0, 0
    step = 0
    while step < total:
        if step in (timing_from, timing_to):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            mark[step] = time.time()
        if step == timing_to:
            # steps after the warm-up (cuDNN's autotuning) set the pace
            per = (mark[timing_to] - mark[timing_from]) / (timing_to - timing_from)
            planned = int((budget - (mark[timing_to] - start)) / per * 0.97) + timing_to
            total = min(args.max_steps or planned, planned)
            print(f"{args.name}: {per * 1000:.1f} ms/step, {args.batch / per:.0f} samples/s: {total} steps planned",
                  flush=True)
        # learning rate: linear warm-up, then cosine to 0 over the planned steps
        if step < args.warmup:
            lr = args.lr * (step + 1) / args.warmup
        else:
            span = max(total - args.warmup, 1) if total < 10**9 else 10**9
            lr = args.lr * 0.5 * (1 + math.cos(math.pi * min(step - args.warmup, span) / span))
        for g in opt.param_groups:
            g["lr"] = lr
        x0 = crops.batch(args.batch, dev)
        t = torch.randint(0, args.max_t, (args.batch,), generator=gen_dev, device=dev)
        eps = torch.randn(x0.shape, generator=gen_dev, device=dev)
        a = acp[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16 and dev.type == "cuda"):
            pred = model(xt, t.float())
        loss = F.mse_loss(pred.float(), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        # diffusers EMAModel: decay = 1 - (1 + step / inv_gamma) ** -power, capped
        decay = min(1 - (1 + step) ** -0.75, 0.9999)
        with torch.no_grad():
            torch._foreach_mul_(ema_list, decay)
            torch._foreach_add_(ema_list, param_list, alpha=1 - decay)
        acc += loss.item() if step % 10 == 0 else 0.0
        accn += 1 if step % 10 == 0 else 0
        if step % 200 == 0:
            rec = {"step": step, "loss": acc / max(accn, 1), "lr": lr, "grad_norm": float(gnorm),
                   "seconds": round(time.time() - start, 1), "ema_decay": decay}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(f"{args.name}: {json.dumps(rec)}", flush=True)
            acc, accn = 0.0, 0
        if time.time() - last_save > args.save_every:
            save_sharded(prefix, ema, shard, dtype, {"step": str(step), "name": args.name})
            last_save = time.time()
    save_sharded(prefix, ema, shard, dtype, {"step": str(step), "name": args.name})
    print(f"{args.name}: done, {step} steps in {time.time() - start:.0f}s "
          f"({step * args.batch} samples of {args.resolution}x{args.resolution})", flush=True)


if __name__ == "__main__":
    main()
