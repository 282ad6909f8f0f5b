"""Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models", in PyTorch (see paper.py for claims).

Forward process (Eqs. 2, 4): beta_t linear from beta_1 to beta_T, alpha_t = 1 - beta_t, alpha_bar_t = prod alpha_s,
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
Posterior (Eqs. 6-7): q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
    mu~_t = beta_t sqrt(alpha_bar_{t-1}) / (1 - alpha_bar_t) x_0
            + (1 - alpha_bar_{t-1}) sqrt(alpha_t) / (1 - alpha_bar_t) x_t,
    beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.
Objectives (Table 2): eps_simple = L_simple (Eq. 14) = mean ||eps - eps_theta(x_t, t)||^2; mu_mse = unweighted
mean ||mu~_t - mu_theta||^2; *_true = the bound's L_{t-1} (Eq. 8) with fixed Sigma: mean ||mu~_t - mu_theta||^2 /
(2 sigma_t^2) / ln 2 (bits per dim), eps models giving mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta)
/ sqrt(alpha_t) (Eq. 11). Ancestral sampling (Algorithm 2), as the official p_sample: x_0 predicted from the
model, clipped to [-1, 1], mean = mu~(x_0 pred, x_t), x_{t-1} = mean + sigma_t z (no noise at t = 0), with
the injected z. Indices t are 0-based (t = 0 is the paper's t = 1), as in the official code.

The U-Net is the official one (PixelCNN++-style; diffusion_tf/models/unet.py): conv_in, per resolution
residual blocks (GroupNorm, swish, 3x3 conv, + Dense(swish(temb)), GroupNorm, swish, dropout, 3x3 conv,
1x1 'nin' shortcut when channels change) with self-attention at the chosen resolutions, downsampling by a
stride-2 3x3 conv, a middle res-attn-res, the upsampling path with skip concatenation and nearest x2 + conv,
then GroupNorm, swish, conv_out. Timestep embedding: sinusoidal [sin, cos] of t * 10000^(-i / (d/2 - 1)),
then Dense(4 ch), swish, Dense(4 ch).

Defaults written out (docs/pitfalls.md): GroupNorm eps 1e-6 (official; torch's default is 1e-5);
swish = x * sigmoid(x); the stride-2 conv pads ONE pixel at the bottom/right only (TF 'SAME', the official
code), never torch's symmetric padding; attention softmax over keys, scaled by C^-1/2; init
variance_scaling(fan_avg, uniform) with scale 1e-10 for conv2/proj_out/conv_out and zero biases; Adam in the
official TF1 ("epsilon hat") convention via harness.conventions; global-norm clipping by hand as
g * clip * min(1/||g||, 1/clip) (torch's clip_grad_norm_ divides by ||g|| + 1e-6); lr warmup lr * min(t /
warmup, 1) for step t (1-based).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness import conventions, layout
from harness.adapters import AdaptedModel, TorchParams

from .configs import PARAM_RENAME, unet_plan

CHANNELS_LAST = True  # conv layers: channels_last (NHWC memory) is one of its execution modes

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
GN_EPS = 1e-6
DOWN_PAD = (0, 1, 0, 1)  # (left, right, top, bottom): TF 'SAME' for a stride-2 3x3 conv on an even size
NOISE_AT_LAST_STEP = False  # Algorithm 2: z = 0 at t = 1


def swish(x):
    return x * torch.sigmoid(x)


def timestep_embedding(t, dim: int, dtype):
    """Sinusoidal embedding [sin(t w_i), cos(t w_i)], w_i = exp(-i ln(10000) / (dim/2 - 1))."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float64, device=t.device) * -(math.log(10000.0) / (half - 1)))
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1).to(dtype)


def clip_global_norm(grads, max_norm: float) -> None:
    """g *= max_norm * min(1 / ||g||, 1 / max_norm) over all gradients together (Keras's global_clipnorm)."""
    norm = torch.sqrt(sum((g * g).sum() for g in grads))
    scale = max_norm * torch.minimum(1.0 / norm, torch.tensor(1.0 / max_norm, dtype=norm.dtype))
    for g in grads:
        g.mul_(scale)


CLIP_GRADS = clip_global_norm


def _fan_avg_uniform_(w: torch.Tensor, scale: float) -> None:
    """variance_scaling(scale, 'fan_avg', 'uniform') for a torch Linear (out, in) or Conv (out, in, kh, kw)."""
    rf = w[0, 0].numel() if w.dim() == 4 else 1
    fan_in, fan_out = w.shape[1] * rf, w.shape[0] * rf
    bound = math.sqrt(3.0 * scale / ((fan_in + fan_out) / 2.0))
    with torch.no_grad():
        w.uniform_(-bound, bound)


def _conv(cin, cout, k, dtype, scale=1.0, padding=0, stride=1):
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=True, dtype=dtype)
    _fan_avg_uniform_(conv.weight, scale)
    nn.init.zeros_(conv.bias)
    return conv


def _dense(n_in, n_out, dtype, scale=1.0):
    layer = nn.Linear(n_in, n_out, bias=True, dtype=dtype)
    _fan_avg_uniform_(layer.weight, scale)
    nn.init.zeros_(layer.bias)
    return layer


class GroupNorm(nn.GroupNorm):
    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, eps=GN_EPS)


def _norm(groups, channels, dtype):
    return GroupNorm(groups, channels, eps=GN_EPS, affine=True, dtype=dtype)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_ch, c, dtype):
        super().__init__()
        self.norm1 = _norm(c.groups, cin, dtype)
        self.conv1 = _conv(cin, cout, 3, dtype, padding=1)
        self.temb_proj = _dense(temb_ch, cout, dtype)
        self.norm2 = _norm(c.groups, cout, dtype)
        self.conv2 = _conv(cout, cout, 3, dtype, scale=c.zero_init_scale, padding=1)
        self.nin_shortcut = _conv(cin, cout, 1, dtype) if cin != cout else None

    def forward(self, x, temb, mask=None):
        h = self.conv1(swish(self.norm1(x)))
        h = h + self.temb_proj(swish(temb))[:, :, None, None]
        h = swish(self.norm2(h))
        if mask is not None:
            h = h * mask
        h = self.conv2(h)
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h


class AttnBlock(nn.Module):
    def __init__(self, ch, c, dtype):
        super().__init__()
        self.norm = _norm(c.groups, ch, dtype)
        self.q, self.k, self.v = (_conv(ch, ch, 1, dtype) for _ in range(3))
        self.k.bias = None  # KEY_BIAS: softmax cancels it (q . b_k is the same for every key); see paper.py
        self.proj_out = _conv(ch, ch, 1, dtype, scale=c.zero_init_scale)

    def forward(self, x):
        B, C, H, W = x.shape
        h = self.norm(x)
        q, k, v = (f(h).reshape(B, C, H * W) for f in (self.q, self.k, self.v))
        w = torch.einsum("bci,bcj->bij", q, k) * (C ** -0.5)
        w = torch.softmax(w, dim=2)  # over the keys j
        h = torch.einsum("bij,bcj->bci", w, v).reshape(B, C, H, W)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    def __init__(self, ch, dtype):
        super().__init__()
        self.conv = _conv(ch, ch, 3, dtype, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, DOWN_PAD))


class Upsample(nn.Module):
    def __init__(self, ch, dtype):
        super().__init__()
        self.conv = _conv(ch, ch, 3, dtype, padding=1)

    def forward(self, x):
        return self.conv(x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))  # nearest x2


class Out(nn.Module):
    def __init__(self, cin, cout, c, dtype):
        super().__init__()
        self.norm_out = _norm(c.groups, cin, dtype)
        self.conv_out = _conv(cin, cout, 3, dtype, scale=c.zero_init_scale, padding=1)

    def forward(self, x):
        return self.conv_out(swish(self.norm_out(x)))


class UNet(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        self.c, self.plan = c, unet_plan(c)
        temb_ch = 4 * c.ch
        self.temb = nn.ModuleDict({"dense0": _dense(c.ch, temb_ch, dtype), "dense1": _dense(temb_ch, temb_ch, dtype)})
        blocks = {}
        for b in self.plan:
            if b.kind == "conv_in":
                blocks[b.name] = _conv(b.cin, b.cout, 3, dtype, padding=1)
            elif b.kind == "res":
                blocks[b.name] = ResBlock(b.cin, b.cout, temb_ch, c, dtype)
            elif b.kind == "attn":
                blocks[b.name] = AttnBlock(b.cin, c, dtype)
            elif b.kind == "down":
                blocks[b.name] = Downsample(b.cin, dtype)
            elif b.kind == "up":
                blocks[b.name] = Upsample(b.cin, dtype)
            else:
                blocks[b.name] = Out(b.cin, b.cout, c, dtype)
        self.blocks = nn.ModuleDict({k.replace("/", "__"): v for k, v in blocks.items()})

    def forward(self, x, t, masks=None):
        return self.run(x, t, masks)

    def run(self, x, t, masks=None, taps=None):
        """x NCHW, t (B,) int -> the model output (eps or mu), NCHW. `masks` by block name (NCHW)."""
        emb = timestep_embedding(t, self.c.ch, x.dtype)
        temb = self.temb["dense1"](swish(self.temb["dense0"](emb)))
        if taps is not None:
            taps["temb"] = temb
        hs, h = [], x
        for b in self.plan:
            module = self.blocks[b.name.replace("/", "__")]
            if b.pop:
                h = torch.cat([h, hs.pop()], dim=1)
            if b.kind == "res":
                h = module(h, temb, None if masks is None else masks[f"mask/{b.name}"])
            else:
                h = module(h)
            if b.push:
                hs.append(h)
            if taps is not None:
                taps[b.name] = h
        return h


class MLP(nn.Module):
    """2-D toys: [x, sinusoidal(t)] -> (Dense, swish) x L -> Dense."""

    def __init__(self, c, dtype):
        super().__init__()
        self.c = c
        widths = [c.shape[0] + c.temb_dim] + [c.mlp_hidden] * c.mlp_layers
        self.dense = nn.ModuleList(_dense(a, b, dtype) for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.out = _dense(widths[-1], c.shape[0], dtype)

    def forward(self, x, t, masks=None):
        return self.run(x, t, masks)

    def run(self, x, t, masks=None, taps=None):
        h = torch.cat([x, timestep_embedding(t, self.c.temb_dim, x.dtype)], dim=1)
        for j, layer in enumerate(self.dense):
            h = swish(layer(h))
            if taps is not None:
                taps[f"mlp/dense{j}"] = h
        h = self.out(h)
        if taps is not None:
            taps["out"] = h
        return h


class Diffusion:
    """The schedule's tables (computed in float64, then cast) and the process's maths."""

    def __init__(self, c, dtype, device="cpu"):
        betas = torch.linspace(c.beta_1, c.beta_T, c.T, dtype=torch.float64)
        alphas = 1.0 - betas
        ab = torch.cumprod(alphas, dim=0)
        ab_prev = torch.cat([torch.ones(1, dtype=torch.float64), ab[:-1]])
        post_var = betas * (1.0 - ab_prev) / (1.0 - ab)
        model_var = betas if c.sigma2 == "beta" else post_var
        model_var = torch.cat([post_var[1:2], model_var[1:]])  # official: t = 0 takes beta~_1 (its log)
        self.tables64 = {
            "betas": betas, "alpha_bar": ab, "sqrt_ab": torch.sqrt(ab), "sqrt_1m_ab": torch.sqrt(1.0 - ab),
            "sqrt_recip_ab": torch.sqrt(1.0 / ab), "sqrt_recipm1_ab": torch.sqrt(1.0 / ab - 1.0),
            "coef1": betas * torch.sqrt(ab_prev) / (1.0 - ab),
            "coef2": (1.0 - ab_prev) * torch.sqrt(alphas) / (1.0 - ab),
            "model_var": model_var, "model_sd": torch.exp(0.5 * torch.log(model_var)),
        }
        # On the model's device, as the timesteps that index them are (a CPU table indexed by cuda t fails).
        self.tab = {k: v.to(device=device, dtype=dtype) for k, v in self.tables64.items()}
        self.c = c

    def at(self, name, t, ndim):
        return self.tab[name][t].reshape(-1, *([1] * (ndim - 1)))

    def q_sample(self, x0, t, noise):
        return self.at("sqrt_ab", t, x0.dim()) * x0 + self.at("sqrt_1m_ab", t, x0.dim()) * noise

    def posterior_mean(self, x0, xt, t):
        return self.at("coef1", t, xt.dim()) * x0 + self.at("coef2", t, xt.dim()) * xt

    def predict_x0(self, out, xt, t):
        n = xt.dim()
        if self.c.objective.startswith("eps"):
            return self.at("sqrt_recip_ab", t, n) * xt - self.at("sqrt_recipm1_ab", t, n) * out
        return out / self.at("coef1", t, n) - (self.at("coef2", t, n) / self.at("coef1", t, n)) * xt

    def loss(self, out, x0, xt, t, noise):
        c = self.c
        if c.objective == "eps_simple":
            return ((noise - out) ** 2).mean()
        mu_true = self.posterior_mean(x0, xt, t)
        mu_model = out if c.objective.startswith("mu") else self.posterior_mean(self.predict_x0(out, xt, t), xt, t)
        if c.objective == "mu_mse":
            return ((mu_true - mu_model) ** 2).mean()
        return ((mu_true - mu_model) ** 2 / (2.0 * self.at("model_var", t, xt.dim()))).mean() / math.log(2.0)

    def p_step(self, out, xt, t, z):
        x0 = self.predict_x0(out, xt, t)
        if self.c.clip_denoised:
            x0 = torch.clamp(x0, -1.0, 1.0)
        mean = self.posterior_mean(x0, xt, t)
        noisy = (t > 0) if not NOISE_AT_LAST_STEP else torch.ones_like(t, dtype=torch.bool)
        return mean + noisy.to(xt.dtype).reshape(-1, *([1] * (xt.dim() - 1))) * self.at("model_sd", t, xt.dim()) * z


def chain_taps(T: int) -> list[int]:
    """Which chain steps (1-based, of T) forward() reports: all for short chains, else about ten."""
    return list(range(1, T + 1)) if T <= 20 else sorted({*range(T // 10, T + 1, T // 10), T})


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = c = config
        self.dtype = getattr(torch, dtype)
        self.image = c.arch == "unet"
        self.net = UNet(c, self.dtype) if self.image else MLP(c, self.dtype)
        self.diffusion = Diffusion(c, self.dtype, self.device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(0.9, 0.999), eps=c.adam_eps,
                                    weight_decay=0.0, amsgrad=False)
        self._steps = 0
        self.params = TorchParams(self.net, "ddpm torch Model", rename=PARAM_RENAME)

    # --- computation --------------------------------------------------------------------------------------

    def _x(self, a):
        """NHWC NumPy -> NCHW tensor (images); (B, D) unchanged."""
        a = np.asarray(a)
        if self.image:
            a = layout.nhwc_to_nchw(a)
        return self.on_device(torch.as_tensor(a, dtype=self.dtype))

    def _out(self, x):
        a = x.detach().cpu().numpy()
        return layout.nchw_to_nhwc(a) if self.image else a.copy()

    def _masks(self, batch):
        return {k: self._x(v) for k, v in batch.items() if k.startswith("mask/")}

    def _loss(self, batch, training=True, taps=None):
        x0, noise = self._x(batch["x0"]), self._x(batch["noise"])
        t = self.on_device(torch.as_tensor(np.asarray(batch["t"]), dtype=torch.int64))
        xt = self.diffusion.q_sample(x0, t, noise)
        if taps is not None:
            taps["x_t"] = xt
        out = self.net.run(xt, t, self._masks(batch) if training else None, taps)
        return self.diffusion.loss(out, x0, xt, t, noise)

    def _chain(self, x, z, taps=None):
        T = self.config.T
        keep = set(chain_taps(T)) if taps is not None else set()
        for k, i in enumerate(reversed(range(T)), start=1):
            t = torch.full((x.shape[0],), i, dtype=torch.int64, device=x.device)
            x = self.diffusion.p_step(self.net.run(x, t), x, t, z[i])
            if k in keep:
                taps[f"chain/step{k}"] = x
        return x

    def forward(self, batch, training=False):
        """Taps of the network on x_t = q_sample(x0, t, noise), then (when the batch carries x_T and z) the
        ancestral sampling chain from x_T with the injected z (always in eval mode); "output" ends it."""
        taps = {}
        with torch.no_grad():
            loss = self._loss(batch, training, taps)
            taps["loss"] = loss.reshape(1)
            if "x_T" in batch:
                z = torch.stack([self._x(zi) for zi in np.asarray(batch["z"])])
                taps["output"] = self._chain(self._x(batch["x_T"]), z, taps)
            else:
                taps["output"] = taps["out"]
        return {k: (self._out(v) if v.dim() == 4 else v.cpu().numpy().copy()) for k, v in taps.items()}

    def grads(self, batch):
        self.net.zero_grad(set_to_none=True)
        loss = self._loss(batch)
        loss.backward()
        out = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), out

    def train_step(self, batch):
        c = self.config
        self._steps += 1
        for group in self.opt.param_groups:
            group["lr"] = c.lr * min(self._steps / c.warmup, 1.0) if c.warmup else c.lr
            group["eps"] = conventions.torch_adam_eps_matching_keras(c.adam_eps, 0.999, self._steps)
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss(batch)
        loss.backward()
        if c.grad_clip:
            CLIP_GRADS([p.grad for p in self.net.parameters()], c.grad_clip)
        self.opt.step()
        return {"loss": loss.item()}

    def sample(self, batch):
        """Algorithm 2 from batch["x_T"] with the injected noise batch["z"] (T, B, ...): x_0, NHWC / (B, D)."""
        with torch.no_grad():
            z = torch.stack([self._x(zi) for zi in np.asarray(batch["z"])])
            return self._out(self._chain(self._x(batch["x_T"]), z))

    def schedule(self):
        return {k: v.cpu().numpy().copy() for k, v in self.diffusion.tables64.items()}

    def evaluate(self, batches):
        with torch.no_grad():
            return {"loss": float(np.mean([self._loss(b, training=False).item() for b in batches]))}
