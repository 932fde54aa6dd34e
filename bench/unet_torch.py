#!/usr/bin/python3
"""A plain-PyTorch mirror of diffusers' UNet2DModel (v0.21.1), the network
that degradiff's models/unet implements, for the yardstick scripts.

The module names equal diffusers' (conv_in, time_embedding.linear_1,
down_blocks.i.resnets.j.norm1, ...attentions.j.to_q, ...to_out.0,
...downsamplers.0.conv, ...upsamplers.0.conv, mid_block, conv_norm_out,
conv_out), so the state-dict keys are diffusers' and a model saved by
degradiff (or by diffusers) loads with load_weights. Only what degradiff
supports is mirrored: positional time embedding, "default" ResNet time
shift, conv down/upsampling, SiLU, the deprecated attention-block layout.

Attention follows diffusers' AttnProcessor (the processor diffusers 0.21
uses on torch < 2.0, as on this machine): baddbmm scores, float32 softmax,
bmm. attn_slice > 0 processes that many (batch x head) slices at a time,
like diffusers' set_attention_slice (SlicedAttnProcessor), which bounds the
memory of the score matrices at large sizes.

Run as a script it times inference of a preset in its own process and
prints JSON (seconds per run and the process's peak RSS), which
unet_vs_torch.py uses for the memory figures:

    /usr/bin/python3 bench/unet_torch.py infer --preset cpu --size 512
"""

import argparse
import json
import math
import os
import resource
import time

import torch
import torch.nn.functional as F
from torch import nn

import tinysafetensors

# The presets of models/unet/config.go, as diffusers config dicts (only the
# keys that differ from diffusers' defaults).
PRESETS = {
    "tiny": {
        "sample_size": 32, "block_out_channels": [32, 64, 64], "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"], "norm_num_groups": 8,
    },
    "reference": {
        "sample_size": 256, "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
    },
    "cpu": {
        "sample_size": 128, "block_out_channels": [64, 128, 128, 192], "layers_per_block": 1,
        "down_block_types": ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
        "attention_head_dim": 32,
    },
}

# diffusers' UNet2DModel defaults (v0.21.1).
DEFAULTS = {
    "in_channels": 3, "out_channels": 3, "center_input_sample": False,
    "time_embedding_type": "positional", "freq_shift": 0, "flip_sin_to_cos": True,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [224, 448, 672, 896], "layers_per_block": 2,
    "mid_block_scale_factor": 1, "downsample_padding": 1, "downsample_type": "conv",
    "upsample_type": "conv", "dropout": 0.0, "act_fn": "silu", "attention_head_dim": 8,
    "norm_num_groups": 32, "norm_eps": 1e-5, "resnet_time_scale_shift": "default",
    "add_attention": True, "class_embed_type": None, "num_class_embeds": None,
}


def preset_config(name):
    """Return the full config dict of a models/unet preset."""
    cfg = dict(DEFAULTS)
    cfg.update(PRESETS[name])
    return cfg


def full_config(cfg):
    """Fill the absent keys of a config.json dict with diffusers' defaults
    and refuse what the mirror does not implement."""
    out = dict(DEFAULTS)
    out.update({k: v for k, v in cfg.items() if not k.startswith("_")})
    checks = {"time_embedding_type": "positional", "resnet_time_scale_shift": "default",
              "downsample_type": "conv", "upsample_type": "conv", "class_embed_type": None,
              "num_class_embeds": None}
    for key, want in checks.items():
        if out[key] != want:
            raise ValueError(f"unet config: {key}={out[key]!r} is not mirrored (want {want!r})")
    if out["act_fn"] not in ("silu", "swish"):
        raise ValueError(f"unet config: act_fn={out['act_fn']!r} is not mirrored")
    return out


def timestep_embedding(t, dim, flip_sin_to_cos, shift, max_period=10000):
    """diffusers' get_timestep_embedding."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32, device=t.device)
    exponent = exponent / (half - shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps, scale, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.scale = scale

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return (x + h) / self.scale


class Attention(nn.Module):
    """diffusers' Attention with the deprecated attention-block layout:
    group norm over the feature map, pixels as tokens, residual, rescale."""

    def __init__(self, ch, heads, head_dim, groups, eps, rescale):
        super().__init__()
        inner = heads * head_dim
        self.heads, self.scale, self.rescale = heads, head_dim ** -0.5, rescale
        self.group_norm = nn.GroupNorm(groups, ch, eps=eps)
        self.to_q = nn.Linear(ch, inner)
        self.to_k = nn.Linear(ch, inner)
        self.to_v = nn.Linear(ch, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, ch), nn.Dropout(0.0)])
        self.slice = 0  # (batch x head) slices per chunk; 0: all at once
        self.factor = 1  # downscaling of its level, set by UNet2DModel

    def _split(self, x):  # head_to_batch_dim
        b, n, c = x.shape
        h = self.heads
        return x.reshape(b, n, h, c // h).permute(0, 2, 1, 3).reshape(b * h, n, c // h)

    def _merge(self, x, b):  # batch_to_head_dim
        bh, n, d = x.shape
        h = self.heads
        return x.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, h * d)

    def _attend(self, q, k, v):  # get_attention_scores + bmm
        scores = torch.baddbmm(torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype, device=q.device),
                               q, k.transpose(-1, -2), beta=0, alpha=self.scale)
        return torch.bmm(scores.float().softmax(dim=-1).to(v.dtype), v)

    def forward(self, x):
        b, c, hh, ww = x.shape
        tok = self.group_norm(x).view(b, c, hh * ww).transpose(1, 2)
        q, k, v = (self._split(f(tok)) for f in (self.to_q, self.to_k, self.to_v))
        if self.slice <= 0 or self.slice >= q.shape[0]:
            o = self._attend(q, k, v)
        else:
            o = torch.cat([self._attend(q[i:i + self.slice], k[i:i + self.slice], v[i:i + self.slice])
                           for i in range(0, q.shape[0], self.slice)])
        o = self.to_out[1](self.to_out[0](self._merge(o, b)))
        o = o.transpose(1, 2).reshape(b, c, hh, ww)
        return (o + x) / self.rescale


class Downsample2D(nn.Module):
    def __init__(self, ch, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Block(nn.Module):
    """A down or up block (DownBlock2D, AttnDownBlock2D, UpBlock2D,
    AttnUpBlock2D): resnets, optional attentions, optional resampler."""

    def __init__(self, resnets, attentions, down=None, up=None):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions)
        if down is not None:
            self.downsamplers = nn.ModuleList([down])
        if up is not None:
            self.upsamplers = nn.ModuleList([up])

    def down_forward(self, h, temb):
        outs = []
        for i, r in enumerate(self.resnets):
            h = r(h, temb)
            if len(self.attentions):
                h = self.attentions[i](h)
            outs.append(h)
        if hasattr(self, "downsamplers"):
            h = self.downsamplers[0](h)
            outs.append(h)
        return h, outs

    def up_forward(self, h, skips, temb):
        for i, r in enumerate(self.resnets):
            h = r(torch.cat([h, skips.pop()], dim=1), temb)
            if len(self.attentions):
                h = self.attentions[i](h)
        if hasattr(self, "upsamplers"):
            h = self.upsamplers[0](h)
        return h


class MidBlock(nn.Module):
    def __init__(self, resnets, attentions):
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList(attentions)

    def forward(self, h, temb):
        h = self.resnets[0](h, temb)
        for a, r in zip(self.attentions, self.resnets[1:]):
            h = r(a(h), temb)
        if not len(self.attentions):
            h = self.resnets[1](h, temb)
        return h


class UNet2DModel(nn.Module):
    """The network of diffusers' UNet2DModel for a config dict."""

    def __init__(self, config):
        super().__init__()
        c = full_config(config)
        self.config = c
        chans, groups, eps = c["block_out_channels"], c["norm_num_groups"], c["norm_eps"]
        n, c0, layers, drop = len(chans), chans[0], c["layers_per_block"], c["dropout"]
        temb = 4 * c0
        head_dim = c["attention_head_dim"]

        def attn(ch, rescale=1.0, factor=1):
            d = head_dim if head_dim is not None else ch
            a = Attention(ch, ch // d, d, groups, eps, rescale)
            a.factor = factor
            return a

        def resnet(cin, cout, scale=1.0):
            return ResnetBlock2D(cin, cout, temb, groups, eps, scale, drop)

        self.conv_in = nn.Conv2d(c["in_channels"], c0, 3, padding=1)
        self.time_embedding = TimestepEmbedding(c0, temb)
        self.down_blocks = nn.ModuleList()
        out = c0
        for i, typ in enumerate(c["down_block_types"]):
            cin, out = out, chans[i]
            has_attn = typ.replace("UNetRes", "") == "AttnDownBlock2D"
            rs = [resnet(cin if j == 0 else out, out) for j in range(layers)]
            at = [attn(out, factor=2 ** i) for _ in range(layers)] if has_attn else []
            down = Downsample2D(out, c["downsample_padding"]) if i < n - 1 else None
            self.down_blocks.append(Block(rs, at, down=down))
        mid, msf = chans[-1], c["mid_block_scale_factor"]
        self.mid_block = MidBlock([resnet(mid, mid, msf), resnet(mid, mid, msf)],
                                  [attn(mid, msf, factor=2 ** (n - 1))] if c["add_attention"] else [])
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(chans))
        out = rev[0]
        for i, typ in enumerate(c["up_block_types"]):
            prev, out, cin = out, rev[i], rev[min(i + 1, n - 1)]
            has_attn = typ.replace("UNetRes", "") == "AttnUpBlock2D"
            rs = []
            for j in range(layers + 1):
                skip = cin if j == layers else out
                rs.append(resnet((prev if j == 0 else out) + skip, out))
            at = [attn(out, factor=2 ** (n - 1 - i)) for _ in range(layers + 1)] if has_attn else []
            self.up_blocks.append(Block(rs, at, up=Upsample2D(out) if i < n - 1 else None))
        self.conv_norm_out = nn.GroupNorm(groups, c0, eps=eps)
        self.conv_out = nn.Conv2d(c0, c["out_channels"], 3, padding=1)

    def set_attention_slice(self, size):
        """Process attention size (batch x head) slices at a time (0: all)."""
        for m in self.modules():
            if isinstance(m, Attention):
                m.slice = size

    def attention_bytes(self, batch, height, width):
        """Bytes of the largest score matrix of any attention block for an
        input of that size when attention is not sliced."""
        most = 0
        for m in self.modules():
            if isinstance(m, Attention):
                tokens = (height // m.factor) * (width // m.factor)
                most = max(most, 4 * batch * m.heads * tokens * tokens)
        return most

    def forward(self, x, t):
        """The model output for x [N, C, H, W] at timesteps t (a number or
        one per sample), as UNet2DModel.forward(...).sample."""
        c = self.config
        if not torch.is_tensor(t):
            t = torch.tensor([t], dtype=torch.float32, device=x.device)
        t = t.reshape(-1) * torch.ones(x.shape[0], dtype=t.dtype, device=x.device)
        temb = self.time_embedding(timestep_embedding(t, c["block_out_channels"][0], c["flip_sin_to_cos"],
                                                      c["freq_shift"]))
        if c["center_input_sample"]:
            x = 2 * x - 1.0
        h = self.conv_in(x)
        skips = [h]
        for b in self.down_blocks:
            h, outs = b.down_forward(h, temb)
            skips += outs
        h = self.mid_block(h, temb)
        for b in self.up_blocks:
            h = b.up_forward(h, skips, temb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def load_folder(folder):
    """Build the model of a diffusers UNet folder (config.json and
    diffusion_pytorch_model.safetensors, or a pipeline folder with unet/)
    and load its weights (F16/BF16 widened to float32)."""
    if os.path.isdir(os.path.join(folder, "unet")):
        folder = os.path.join(folder, "unet")
    with open(os.path.join(folder, "config.json")) as f:
        model = UNet2DModel(json.load(f))
    load_weights(model, tinysafetensors.load(os.path.join(folder, "diffusion_pytorch_model.safetensors")))
    return model


def load_weights(model, state):
    """Load a {key: tensor} state dict with diffusers' keys; every key must
    match (the legacy query/key/value/proj_attn names are renamed)."""
    legacy = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}
    fixed = {}
    for k, v in state.items():
        parts = k.split(".")
        if len(parts) >= 2 and parts[-2] in legacy and "attentions" in parts:
            k = ".".join(parts[:-2] + [legacy[parts[-2]], parts[-1]])
        fixed[k] = v.float()
    missing, unexpected = model.load_state_dict(fixed, strict=False)
    if missing or unexpected:
        raise ValueError(f"state dict mismatch: missing {missing[:5]}..., unexpected {unexpected[:5]}...")
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    inf = sub.add_parser("infer", help="time no_grad inference of a random preset model; print JSON")
    inf.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    inf.add_argument("--size", type=int, default=128)
    inf.add_argument("--batch", type=int, default=1)
    inf.add_argument("--warmup", type=int, default=1)
    inf.add_argument("--reps", type=int, default=3)
    inf.add_argument("--threads", type=int, default=2)
    inf.add_argument("--attn-slice", type=int, default=0, help="attention slice size (0: none)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet2DModel(preset_config(args.preset)).eval()
    model.set_attention_slice(args.attn_slice)
    x = torch.randn(args.batch, 3, args.size, args.size)
    secs = []
    with torch.no_grad():
        for i in range(args.warmup + args.reps):
            start = time.perf_counter()
            model(x, 500.0)
            if i >= args.warmup:
                secs.append(time.perf_counter() - start)
    print(json.dumps({"seconds": secs, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "params": sum(p.numel() for p in model.parameters()),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
