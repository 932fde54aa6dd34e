"""A compact PyTorch UniPC (diffusers 0.21 UniPCMultistepScheduler with its
defaults: solver_order 2, bh2, predict_x0, lower_order_final, no corrector
disabled) and the img2img (SDEdit) loop of the official
DDPMImg2ImgPipeline, as degradiff's diffusion/sampler and synth run them.

Only epsilon prediction without thresholding is implemented (what
degradiff's models use); the scheduler config is a diffusers
scheduler_config.json dict (a DDPMScheduler config works: UniPC takes the
betas, spacing and offset from it and its own defaults for the rest).
"""

import math

import numpy as np
import torch


def make_betas(cfg):
    """The betas of a diffusers scheduler config, in float32 as diffusers
    computes them."""
    n = cfg.get("num_train_timesteps", 1000)
    start, end = cfg.get("beta_start", 0.0001), cfg.get("beta_end", 0.02)
    kind = cfg.get("beta_schedule", "linear")
    if cfg.get("trained_betas") is not None:
        return torch.tensor(cfg["trained_betas"], dtype=torch.float32)
    if kind == "linear":
        return torch.linspace(start, end, n, dtype=torch.float32)
    if kind == "scaled_linear":
        return torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float32) ** 2
    if kind == "squaredcos_cap_v2":
        def abar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)],
                            dtype=torch.float32)
    raise ValueError(f"scheduler config: beta_schedule {kind!r} is not supported")


class UniPC:
    """UniPCMultistepScheduler, bh2, order 2, data prediction."""

    def __init__(self, cfg, solver_order=2):
        if cfg.get("prediction_type", "epsilon") != "epsilon":
            raise ValueError("UniPC mirror: only prediction_type epsilon is implemented")
        if cfg.get("thresholding"):
            raise ValueError("UniPC mirror: thresholding is not implemented")
        self.num_train = cfg.get("num_train_timesteps", 1000)
        self.spacing = cfg.get("timestep_spacing", "linspace")  # UniPC's default
        self.offset = cfg.get("steps_offset", 0)
        self.order = solver_order
        self.alphas_cumprod = torch.cumprod(1.0 - make_betas(cfg), dim=0)
        self.alpha_t = torch.sqrt(self.alphas_cumprod)
        self.sigma_t = torch.sqrt(1 - self.alphas_cumprod)
        self.lambda_t = torch.log(self.alpha_t) - torch.log(self.sigma_t)
        self.timesteps = []

    def set_timesteps(self, n):
        """n+1 points spaced as configured, the last (0) dropped."""
        last = self.num_train
        if self.spacing == "linspace":
            ts = np.linspace(0, last - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif self.spacing == "leading":
            ratio = last // (n + 1)
            ts = (np.arange(0, n + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64) + self.offset
        elif self.spacing == "trailing":
            ts = np.arange(last, 0, -last / n).round().copy().astype(np.int64) - 1
        else:
            raise ValueError(f"timestep_spacing {self.spacing!r} is not supported")
        _, first = np.unique(ts, return_index=True)
        self.timesteps = [int(t) for t in ts[np.sort(first)]]
        self.model_outputs = [None] * self.order
        self.timestep_list = [None] * self.order
        self.lower_order_nums = 0
        self.last_sample = None
        self.this_order = 0

    def add_noise(self, x0, noise, t):
        a = self.alphas_cumprod[t]
        return a ** 0.5 * x0 + (1 - a) ** 0.5 * noise

    def _coeffs(self, t, order):
        """R, b, h_phi_1, B_h and the D1 ratios for a step from the newest
        history entry to t (shared by UniP and UniC)."""
        s0 = self.timestep_list[-1]
        h = self.lambda_t[t] - self.lambda_t[s0]
        rks, idx = [], []
        for i in range(1, order):
            si = self.timestep_list[-(i + 1)]
            rks.append((self.lambda_t[si] - self.lambda_t[s0]) / h)
            idx.append(-(i + 1))
        rk_all = torch.tensor([float(r) for r in rks] + [1.0])
        hh = -h  # predict_x0
        h_phi_1 = torch.expm1(hh)
        h_phi_k = h_phi_1 / hh - 1
        b_h = torch.expm1(hh)  # bh2
        fact = 1
        R, b = [], []
        for i in range(1, order + 1):
            R.append(torch.pow(rk_all, i - 1))
            b.append(h_phi_k * fact / b_h)
            fact *= i + 1
            h_phi_k = h_phi_k / hh - 1 / fact
        return torch.stack(R), torch.tensor(b), h_phi_1, b_h, rks, idx, s0

    def _predict(self, x, t, order):  # multistep_uni_p_bh_update
        R, b, h_phi_1, b_h, rks, idx, s0 = self._coeffs(t, order)
        m0 = self.model_outputs[-1]
        x_t = self.sigma_t[t] / self.sigma_t[s0] * x - self.alpha_t[t] * h_phi_1 * m0
        if rks:
            rhos = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(R[:-1, :-1], b[:-1])
            res = sum(rho * (self.model_outputs[j] - m0) / rk for rho, rk, j in zip(rhos, rks, idx))
            x_t = x_t - self.alpha_t[t] * b_h * res
        return x_t.to(x.dtype)

    def _correct(self, model_t, t):  # multistep_uni_c_bh_update
        order = self.this_order
        R, b, h_phi_1, b_h, rks, idx, s0 = self._coeffs(t, order)
        m0, x = self.model_outputs[-1], self.last_sample
        rhos = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(R, b)
        x_t = self.sigma_t[t] / self.sigma_t[s0] * x - self.alpha_t[t] * h_phi_1 * m0
        res = sum(rho * (self.model_outputs[j] - m0) / rk for rho, rk, j in zip(rhos[:-1], rks, idx))
        return (x_t - self.alpha_t[t] * b_h * (res + rhos[-1] * (model_t - m0))).to(x.dtype)

    def step(self, model_output, t, sample):
        """One scheduler step from sample at timestep t; returns the sample
        at the next timestep."""
        i = self.timesteps.index(t) if t in self.timesteps else len(self.timesteps) - 1
        x0 = (sample - self.sigma_t[t] * model_output) / self.alpha_t[t]  # convert_model_output
        if i > 0 and self.last_sample is not None:
            sample = self._correct(x0, t)
        prev_t = 0 if i == len(self.timesteps) - 1 else self.timesteps[i + 1]
        self.model_outputs = self.model_outputs[1:] + [x0]
        self.timestep_list = self.timestep_list[1:] + [t]
        order = min(self.order, len(self.timesteps) - i)  # lower_order_final
        self.this_order = min(order, self.lower_order_nums + 1)
        self.last_sample = sample
        out = self._predict(sample, prev_t, self.this_order)
        if self.lower_order_nums < self.order:
            self.lower_order_nums += 1
        return out


def img2img_start(steps, strength):
    """The index of the first timestep run: DDPMImg2ImgPipeline.get_timesteps."""
    init = min(int(steps * strength), steps)
    return max(steps - init, 0)


def img2img(model, sched, lq, noise, steps, strength):
    """The official DDPMImg2ImgPipeline loop on lq (in [-1, 1]): noise to the
    first timestep of the last steps*strength ones, then denoise with
    model(x, t) -> eps. Returns the final sample (in [-1, 1] space, not
    clamped) and the number of model evaluations."""
    sched.set_timesteps(steps)
    ts = sched.timesteps[img2img_start(steps, strength):]
    if not ts:
        return lq.clone(), 0
    x = sched.add_noise(lq, noise, ts[0])
    for t in ts:
        x = sched.step(model(x, torch.tensor(t, dtype=torch.int64)), t, x)
    return x, len(ts)
