"""Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words" (ViT), in PyTorch; and the small pre-activation
GroupNorm ResNet it is compared with (see paper.py for the claims, configs.py for the canonical layout).

ViT (Sec. 3.1), for an image x split into N = HW / P^2 patches x_p^1..x_p^N of P x P x C pixels:
  z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos                      (Eq. 1)
  z'_l = MSA(LN(z_{l-1})) + z_{l-1}                                     (Eq. 2)
  z_l = MLP(LN(z'_l)) + z'_l,  MLP = dense(GELU(dense(.)))              (Eq. 3)
  y = LN(z_L^0)                                                         (Eq. 4)
then the head: pre-training MLP head tanh(y W_r + b_r) W_h + b_h (Sec. 3.1), or a linear head.
MSA (App. A, Eqs. 5-8): per head h, [q, k, v] = z U_qkv; A = softmax(q k^T / sqrt(D_h)); SA = A v; the heads
concatenated and projected by U_msa. No attention mask (every token attends to every token), so the
mask-fill pitfall does not arise. Dropout (rate in the config) after the embedding, after the attention
projection, after the GELU and after the second MLP dense, as in the paper's code; its masks come in the
batch ("mask/...": 0 or 1 / (1 - rate)), drawn by the experiment with NumPy so both frameworks see the same.

Defaults written out (docs/pitfalls.md): LayerNorm epsilon 1e-6 (the paper's flax code; torch's own
default is 1e-5), exact erf GELU (approximate="none"), softmax over the key axis, attention scale applied
to q, patch flatten order (c, i, j) matching the Conv2d-layout kernel, the initialisers of the paper's code
(below), and Adam: torch.optim.AdamW with betas (0.9, 0.999), eps 1e-8 added after bias correction (the
paper's convention, and torch's), decoupled weight decay p -= lr * wd * p on every parameter, amsgrad off.
The learning rate is set before each step from configs.learning_rate (linear warmup and decay).

Layout conversions: Linear weights (out, in) and the Conv2d-layout patch kernel (D, C, P, P) go through
harness.layout. This file adds one conversion of its own, `qkv_from_torch` / `qkv_to_torch`: torch keeps
the query, key and value projections fused in one Linear(D, 3D) (as timm and nn.MultiheadAttention's
in_proj_weight do), rows [0:D] query, [D:2D] key, [2D:3D] value; canonically each is a separate (D, D)
kernel, i.e. each row block transposed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness import layout
from harness.adapters import CONV, AdaptedModel, Joint, TorchParams

from .configs import learning_rate, param_rename, param_shapes, resnet_blocks

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
LN_EPS = 1e-6  # ViT LayerNorm epsilon (flax default, the paper's code)
GN_EPS = 1e-5  # ResNet GroupNorm epsilon (torch.nn.GroupNorm's; BiT's code uses 1e-5 as well)
GELU_APPROXIMATE = "none"  # exact erf GELU, not the tanh approximation
PATCH_AXES = (0, 2, 4, 1, 3, 5)  # (b, c, gh, i, gw, j) -> (b, gh, gw, c, i, j): patches row-major, (c, i, j)
OPTIMIZER = torch.optim.AdamW  # decoupled weight decay (torch.optim.Adam's weight_decay would be L2)
qkv_block_from_torch = layout.dense_from_torch  # one (D, D) row block of the fused qkv weight -> kernel
# The key projection has no bias: q.(k + b_k) adds the same q.b_k to every logit of a query, which softmax
# removes, so b_k has no effect and an exactly zero gradient; under Adam its round-off gradient becomes a
# random walk that differs between frameworks. As in timm's BEiT (q_bias, zero k_bias, v_bias) it is left out.
KEY_BIAS = False


# --- conversions ------------------------------------------------------------------------------------------


def qkv_from_torch(weight: np.ndarray, bias: np.ndarray) -> dict[str, np.ndarray]:
    """Fused Linear(D, 3D) weight (3D, D) and bias (3D,) -> canonical query/key/value kernels, query and value
    biases (the key rows of the bias are held at zero: see KEY_BIAS)."""
    d = weight.shape[1]
    out = {}
    for i, name in enumerate(("query", "key", "value")):
        out[f"{name}/kernel"] = qkv_block_from_torch(weight[i * d:(i + 1) * d])
        if name != "key":
            out[f"{name}/bias"] = np.array(bias[i * d:(i + 1) * d], copy=True)
    return out


def qkv_to_torch(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of qkv_from_torch: canonical kernels and query/value biases -> fused (3D, D), (3D,)."""
    names = ("query", "key", "value")
    weight = np.concatenate([layout.dense_to_torch(params[f"{n}/kernel"]) for n in names], axis=0)
    q = np.asarray(params["query/bias"])
    bias = np.concatenate([q, np.zeros_like(q), np.asarray(params["value/bias"])])
    return weight, bias


def qkv_joint(block: int, builtin: bool) -> Joint:
    """Block `block`'s fused in-projection (weight (3D, D) and the query/value biases, or the built-in layer's
    fused (3D,) bias whose key rows are held at zero) <-> the canonical query/key/value parameters."""
    src = f"blocks/{block}/attn/" + ("mha/in_proj_weight" if builtin else "qkv/kernel")
    biases = [f"blocks/{block}/attn/mha/in_proj_bias"] if builtin else [f"blocks/{block}/attn/q_bias",
                                                                        f"blocks/{block}/attn/v_bias"]
    prefix = f"block{block}/attn/"
    keys = ("query/kernel", "key/kernel", "value/kernel", "query/bias", "value/bias")

    def to_canonical(a):
        b = [a[n] for n in biases]
        fused = b[0] if builtin else np.concatenate([b[0], np.zeros_like(b[0]), b[1]])
        return {prefix + k: v for k, v in qkv_from_torch(a[src], fused).items()}

    def from_canonical(p):
        w, b = qkv_to_torch({k: p[prefix + k] for k in keys})
        d = b.shape[0] // 3
        return {src: w, **({biases[0]: b} if builtin else {biases[0]: b[:d], biases[1]: b[2 * d:]})}

    return Joint((src, *biases), to_canonical, from_canonical)


# --- initialisers (the paper's code; written out, torch's defaults are kaiming_uniform(a=sqrt(5))) --------

TRUNC_STD = 0.87962566103423978  # std of a unit normal truncated to [-2, 2]


def truncated_variance_scaling_(w: torch.Tensor, scale: float, fan_in: int) -> None:
    """lecun_normal (scale 1) / he_normal (scale 2): truncated normal at +-2 std, variance scale / fan_in."""
    std = math.sqrt(scale / fan_in) / TRUNC_STD
    nn.init.trunc_normal_(w, mean=0.0, std=std, a=-2 * std, b=2 * std)


def xavier_uniform_(w: torch.Tensor, fan_in: int, fan_out: int) -> None:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(w, -bound, bound)


# --- ViT --------------------------------------------------------------------------------------------------


def layer_norm(x, norm: nn.LayerNorm):
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, eps=LN_EPS)


def gelu(x):
    return F.gelu(x, approximate=GELU_APPROXIMATE)


def dropout(x, batch, key, training):
    """Inverted dropout with the batch's mask (values 0 or 1 / (1 - rate)); identity in eval mode."""
    if not training or batch.get("mask/" + key) is None:
        return x
    return x * batch["mask/" + key]


class PatchEmbedding(nn.Module):
    """x_p E + b: non-overlapping P x P patches, flattened (c, i, j), times a Conv2d-layout kernel."""

    def __init__(self, c):
        super().__init__()
        self.patch = c.patch
        self.weight = nn.Parameter(torch.empty(c.dim, c.channels, c.patch, c.patch))
        self.bias = nn.Parameter(torch.empty(c.dim))

    def forward(self, x):  # x: NCHW
        b, ch, h, w = x.shape
        p = self.patch
        patches = x.reshape(b, ch, h // p, p, w // p, p).permute(*PATCH_AXES).reshape(b, (h // p) * (w // p), -1)
        return F.linear(patches, self.weight.reshape(self.weight.shape[0], -1), self.bias)


class Attention(nn.Module):
    """Multi-head self-attention written out (App. A), or torch.nn.MultiheadAttention (builtin=True) with the
    same fused in-projection layout."""

    def __init__(self, c, builtin: bool):
        super().__init__()
        self.heads, self.builtin = c.heads, builtin
        if builtin:
            self.mha = nn.MultiheadAttention(c.dim, c.heads, dropout=0.0, bias=True, add_bias_kv=False,
                                             add_zero_attn=False, batch_first=True)
        else:
            self.qkv = nn.Linear(c.dim, 3 * c.dim, bias=False)
            self.q_bias = nn.Parameter(torch.zeros(c.dim))
            self.v_bias = nn.Parameter(torch.zeros(c.dim))
            self.out = nn.Linear(c.dim, c.dim, bias=True)

    def _qkv_bias(self):
        """The fused (3D,) bias: query, zero key bias, value."""
        if self.builtin:
            return self.mha.in_proj_bias
        return torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])

    def _projections(self):
        """(qkv weight (3D, D), [qkv bias parameters], out weight (D, D), out bias) as parameters."""
        if self.builtin:
            return self.mha.in_proj_weight, [self.mha.in_proj_bias], self.mha.out_proj.weight, self.mha.out_proj.bias
        return self.qkv.weight, [self.q_bias, self.v_bias], self.out.weight, self.out.bias

    def _zero_key_bias_grad(self):
        """Builtin layer: its fused bias has key rows; hold them at zero (zero gradient, zero start)."""
        if self.builtin and self.mha.in_proj_bias.grad is not None:
            d = self.mha.in_proj_bias.shape[0] // 3
            self.mha.in_proj_bias.grad[d:2 * d] = 0.0

    def forward(self, x):
        if self.builtin:
            out, weights = self.mha(x, x, x, need_weights=True, average_attn_weights=False)
            return out, weights
        b, n, d = x.shape
        h = self.heads
        qkv = F.linear(x, self.qkv.weight, self._qkv_bias())
        q, k, v = qkv.reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)  # each (B, H, N, D_h)
        q = q * (d // h) ** -0.5
        weights = torch.softmax(q @ k.transpose(-2, -1), dim=-1)  # (B, H, N, N), softmax over keys
        context = (weights @ v).transpose(1, 2).reshape(b, n, d)  # heads side by side: column h * D_h + j
        return self.out(context), weights


class EncoderBlock(nn.Module):
    def __init__(self, c, builtin: bool, name: str):
        super().__init__()
        self.name = name
        self.ln1 = nn.LayerNorm(c.dim, eps=LN_EPS)
        self.attn = Attention(c, builtin)
        self.ln2 = nn.LayerNorm(c.dim, eps=LN_EPS)
        self.dense1 = nn.Linear(c.dim, c.mlp, bias=True)
        self.dense2 = nn.Linear(c.mlp, c.dim, bias=True)

    def forward(self, x, batch, training, taps):
        return self.run(x, batch, training, taps)

    def run(self, x, batch, training, taps):
        """The block; fills `taps` under the block's name."""
        name = self.name
        h = taps[f"{name}/ln1"] = layer_norm(x, self.ln1)
        a, taps[f"{name}/attn_weights"] = self.attn(h)
        a = taps[f"{name}/attn_out"] = dropout(a, batch, f"{name}/attn", training)
        x = taps[f"{name}/residual1"] = x + a  # Eq. 2
        h = taps[f"{name}/ln2"] = layer_norm(x, self.ln2)
        m = taps[f"{name}/mlp_hidden"] = dropout(gelu(self.dense1(h)), batch, f"{name}/mlp_hidden", training)
        m = taps[f"{name}/mlp_out"] = dropout(self.dense2(m), batch, f"{name}/mlp_out", training)
        x = taps[f"{name}/out"] = x + m  # Eq. 3
        return x


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.patch_embed = PatchEmbedding(c)
        self.cls = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos = nn.Parameter(torch.zeros(1, c.n_patches + 1, c.dim)) if c.pos_embed else None
        self.blocks = nn.ModuleList([EncoderBlock(c, c.attention_impl == "builtin_torch", f"block{i}")
                                     for i in range(c.depth)])
        self.final_norm = nn.LayerNorm(c.dim, eps=LN_EPS)
        self.pre_logits = nn.Linear(c.dim, c.head_hidden) if c.head_hidden else None
        self.head = nn.Linear(c.head_hidden or c.dim, c.classes)

    def forward(self, batch, training=False):
        taps = {}
        x = taps["patch_embed"] = self.patch_embed(batch["x"])
        z = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)  # Eq. 1
        if self.pos is not None:
            z = z + self.pos
        z = taps["embed"] = dropout(z, batch, "embed", training)
        for block in self.blocks:
            z = block.run(z, batch, training, taps)
        y = taps["final_norm"] = layer_norm(z, self.final_norm)  # Eq. 4 (LN of every token; y = token 0)
        y = y[:, 0]
        if self.pre_logits is not None:
            y = taps["pre_logits"] = torch.tanh(self.pre_logits(y))
        taps["output"] = self.head(y)
        return taps

    def init_weights(self):
        c = self.c
        with torch.no_grad():
            truncated_variance_scaling_(self.patch_embed.weight, 1.0, c.channels * c.patch**2)  # lecun_normal
            nn.init.zeros_(self.patch_embed.bias)
            nn.init.zeros_(self.cls)
            if self.pos is not None:
                nn.init.normal_(self.pos, mean=0.0, std=0.02)
            for block in self.blocks:
                qkv_w, qkv_b, out_w, out_b = block.attn._projections()
                xavier_uniform_(qkv_w, c.dim, c.dim)  # each (D, D) block: fan_in = fan_out = D
                xavier_uniform_(out_w, c.dim, c.dim)
                for bias in [*qkv_b, out_b]:
                    nn.init.zeros_(bias)
                for ln in (block.ln1, block.ln2):
                    nn.init.ones_(ln.weight)
                    nn.init.zeros_(ln.bias)
                xavier_uniform_(block.dense1.weight, c.dim, c.mlp)
                xavier_uniform_(block.dense2.weight, c.mlp, c.dim)
                nn.init.normal_(block.dense1.bias, std=1e-6)
                nn.init.normal_(block.dense2.bias, std=1e-6)
            nn.init.ones_(self.final_norm.weight)
            nn.init.zeros_(self.final_norm.bias)
            if self.pre_logits is not None:
                truncated_variance_scaling_(self.pre_logits.weight, 1.0, c.dim)
                nn.init.zeros_(self.pre_logits.bias)
            if c.zero_head:
                nn.init.zeros_(self.head.weight)
            else:
                xavier_uniform_(self.head.weight, c.head_hidden or c.dim, c.classes)
            nn.init.zeros_(self.head.bias)


# --- ResNet -----------------------------------------------------------------------------------------------


def group_norm(x, gn: nn.GroupNorm):
    return F.group_norm(x, gn.num_groups, gn.weight, gn.bias, eps=GN_EPS)


class PreActBlock(nn.Module):
    """GN, ReLU, 3x3 conv (stride s, pad 1), GN, ReLU, 3x3 conv (pad 1) + shortcut (He et al. 2016 v2)."""

    def __init__(self, c, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.gn1 = nn.GroupNorm(c.groups, cin, eps=GN_EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.gn2 = nn.GroupNorm(c.groups, cout, eps=GN_EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, padding=0, bias=False) \
            if cin != cout or stride != 1 else None

    def forward(self, x):
        h = F.relu(group_norm(x, self.gn1))
        short = self.shortcut(h) if self.shortcut is not None else x  # projection of the pre-activation (v2)
        h = self.conv1(h)
        h = self.conv2(F.relu(group_norm(h, self.gn2)))
        return h + short


class ResNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.stem = nn.Conv2d(c.channels, c.stem_width, 3, stride=c.stem_stride, padding=1, bias=False)
        self.names = [name for name, *_ in resnet_blocks(c)]
        self.blocks = nn.ModuleList([PreActBlock(c, cin, cout, s) for _, cin, cout, s in resnet_blocks(c)])
        self.final_norm = nn.GroupNorm(c.groups, c.widths[-1], eps=GN_EPS)
        self.head = nn.Linear(c.widths[-1], c.classes)

    def forward(self, batch, training=False):
        taps = {}
        x = taps["stem"] = self.stem(batch["x"])
        for name, block in zip(self.names, self.blocks, strict=True):
            x = taps[name] = block(x)
        x = taps["final_norm"] = F.relu(group_norm(x, self.final_norm))
        x = taps["pooled"] = x.mean(dim=(2, 3))
        taps["output"] = self.head(x)
        return taps

    def init_weights(self):
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.Conv2d):  # he_normal, truncated (the Keras HeNormal distribution)
                    truncated_variance_scaling_(m.weight, 2.0, m.in_channels * m.kernel_size[0] * m.kernel_size[1])
                elif isinstance(m, nn.GroupNorm):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            xavier_uniform_(self.head.weight, self.c.widths[-1], self.c.classes)
            nn.init.zeros_(self.head.bias)


# --- the common interface ---------------------------------------------------------------------------------

class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        self.net = (ViT if config.arch == "vit" else ResNet)(config).to(self.dtype)
        self.net.init_weights()
        self.opt = OPTIMIZER(self.net.parameters(), lr=learning_rate(config, 1), betas=(config.beta1, config.beta2),
                             eps=config.adam_eps, weight_decay=config.weight_decay, amsgrad=False, maximize=False)
        self.steps = 0
        builtin = config.arch == "vit" and config.attention_impl == "builtin_torch"
        joints = [qkv_joint(i, builtin) for i in range(config.depth)] if config.arch == "vit" else []
        self.params = TorchParams(self.net, f"vit torch Model ({config.arch})", rename=param_rename(config),
                                  layouts={"patch_embed/kernel": CONV}, joints=joints, order=param_shapes(config))

    # --- computation --------------------------------------------------------------------------------------

    def _tensors(self, batch):
        out = {}
        for k, v in batch.items():
            if k == "y":
                out[k] = self.on_device(torch.from_numpy(np.asarray(v, dtype=np.int64)))
            elif k == "x":  # NHWC -> NCHW
                out[k] = self.on_device(torch.from_numpy(layout.nhwc_to_nchw(np.asarray(v))).to(self.dtype))
            else:
                out[k] = self.on_device(torch.as_tensor(np.asarray(v)).to(self.dtype))
        return out

    def _loss(self, batch, training):
        taps = self.net(batch, training=training)
        return F.cross_entropy(taps["output"], batch["y"], reduction="mean", label_smoothing=0.0), taps

    def _hold_key_bias(self):
        if self.config.arch == "vit":
            for block in self.net.blocks:
                block.attn._zero_key_bias_grad()

    def forward(self, batch, training=False):
        with torch.no_grad():
            taps = self.net(self._tensors(batch), training=training)
        spatial = self.config.arch == "resnet"  # NCHW feature maps, compared as NHWC
        return {k: layout.nchw_to_nhwc(v.cpu().numpy()) if spatial and v.ndim == 4 else v.cpu().numpy()
                for k, v in taps.items()}

    def predict(self, batch):
        """Logits only (inference benchmark)."""
        with torch.no_grad():
            return self.net(self._tensors(batch))["output"].cpu().numpy()

    def grads(self, batch):
        self.net.zero_grad(set_to_none=True)
        loss, _ = self._loss(self._tensors(batch), training=True)
        loss.backward()
        self._hold_key_bias()
        grads = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), grads

    def train_step(self, batch):
        self.steps += 1
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(self.config, self.steps)
        self.opt.zero_grad(set_to_none=True)
        loss, _ = self._loss(self._tensors(batch), training=True)
        loss.backward()
        self._hold_key_bias()
        self.opt.step()
        return {"loss": loss.item()}

    def evaluate(self, batches):
        total, correct, n = 0.0, 0, 0
        with torch.no_grad():
            for batch in batches:
                b = self._tensors(batch)
                loss, taps = self._loss(b, training=False)
                total += loss.item() * len(b["y"])
                correct += int((taps["output"].argmax(dim=1) == b["y"]).sum())
                n += len(b["y"])
        return {"loss": total / n, "accuracy": correct / n}
