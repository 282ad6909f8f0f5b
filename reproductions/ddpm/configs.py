"""DDPM configuration and the U-Net's block plan, framework-free (both implementations build from the plan;
the batch maker reads it for the dropout masks' shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Canonical parameter names are the module paths; torch's ModuleDict keys cannot hold "/", so the U-Net's
# block names ("down0/res0") are stored there with "__".
PARAM_RENAME = ((r"__", "/"),)



@dataclass(frozen=True)
class DDPMConfig:
    """Defaults: the paper's process (T=1000, beta 1e-4 .. 0.02, L_simple) on a small U-Net for 8x8 digits."""

    arch: str = "unet"  # "unet" (images, NHWC) | "mlp" (2-D toys)
    shape: tuple[int, ...] = (8, 8, 1)  # one example: (H, W, C) or (D,)
    T: int = 1000
    beta_1: float = 1e-4
    beta_T: float = 0.02
    objective: str = "eps_simple"  # eps_simple (L_simple) | eps_true | mu_true (L, fixed Sigma) | mu_mse
    sigma2: str = "beta"  # sampling variance: "beta" (fixedlarge, the official CIFAR-10) | "beta_tilde"
    clip_denoised: bool = True  # the official p_sample clips the predicted x_0 to [-1, 1]
    # U-Net (Sec. 4 / App. B; official ch=128, ch_mult (1, 2, 2, 2), 2 blocks, attention at 16)
    ch: int = 16
    ch_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    attn_resolutions: tuple[int, ...] = (4,)
    groups: int = 8  # GroupNorm groups (official 32)
    dropout: float = 0.1
    zero_init_scale: float = 1e-10  # official init_scale=0 layers (conv2, proj_out, conv_out) use 1e-10
    # MLP (2-D toys)
    mlp_hidden: int = 128
    mlp_layers: int = 3
    temb_dim: int = 32
    # Adam (official: lr 2e-4, eps 1e-8 in the TF1/Keras "epsilon hat" convention, warmup 5000, clip 1)
    lr: float = 2e-4
    adam_eps: float = 1e-8
    warmup: int = 5000
    grad_clip: float = 1.0
    batch: int = 128
    # experiment budget
    steps: int = 1000
    n_samples: int = 500


def scaled(T: int) -> dict:
    """The paper's schedule for a shorter chain: beta range multiplied by 1000 / T, so that alpha_bar_T stays
    of the same order as the paper's (2.0e-5 at T=100 against 4.0e-5 at T=1000)."""
    return {"T": T, "beta_1": 1e-4 * 1000 / T, "beta_T": 0.02 * 1000 / T}


class Block(NamedTuple):
    kind: str  # conv_in | res | attn | down | up | out
    name: str
    cin: int
    cout: int
    res: int  # spatial size at the block's input
    push: bool = False  # its output is a skip connection
    pop: bool = False  # concatenates a skip connection to its input first


def unet_plan(c: DDPMConfig) -> list[Block]:
    """The official model (diffusion_tf/models/unet.py) as an ordered list of blocks."""
    H, C = c.shape[0], c.shape[-1]
    plan = [Block("conv_in", "conv_in", C, c.ch, H, push=True)]
    hs, cur, res = [c.ch], c.ch, H
    last = len(c.ch_mult) - 1
    for i, mult in enumerate(c.ch_mult):
        out = c.ch * mult
        for b in range(c.num_res_blocks):
            attn = res in c.attn_resolutions
            plan.append(Block("res", f"down{i}/res{b}", cur, out, res, push=not attn))
            cur = out
            if attn:
                plan.append(Block("attn", f"down{i}/attn{b}", cur, cur, res, push=True))
            hs.append(cur)
        if i != last:
            plan.append(Block("down", f"down{i}/downsample", cur, cur, res, push=True))
            hs.append(cur)
            res //= 2
    plan += [Block("res", "mid/res0", cur, cur, res), Block("attn", "mid/attn", cur, cur, res),
             Block("res", "mid/res1", cur, cur, res)]
    for i in reversed(range(len(c.ch_mult))):
        out = c.ch * c.ch_mult[i]
        for b in range(c.num_res_blocks + 1):
            skip = hs.pop()
            plan.append(Block("res", f"up{i}/res{b}", cur + skip, out, res, pop=True))
            cur = out
            if res in c.attn_resolutions:
                plan.append(Block("attn", f"up{i}/attn{b}", cur, cur, res))
        if i != 0:
            plan.append(Block("up", f"up{i}/upsample", cur, cur, res))
            res *= 2
    plan.append(Block("out", "out", cur, C, res))
    return plan


def mask_shapes(c: DDPMConfig, batch: int) -> dict[str, tuple[int, ...]]:
    """Dropout masks, one per residual block (after its second GroupNorm + swish), NHWC."""
    if c.arch != "unet":
        return {}
    return {f"mask/{b.name}": (batch, b.res, b.res, b.cout) for b in unet_plan(c) if b.kind == "res"}


def schedule_numpy(c: DDPMConfig) -> dict[str, np.ndarray]:
    """The reference schedule in NumPy float64 (the claims check the frameworks' own against it)."""
    betas = np.linspace(c.beta_1, c.beta_T, c.T, dtype=np.float64)
    alpha_bar = np.cumprod(1.0 - betas)
    return {"betas": betas, "alpha_bar": alpha_bar}
