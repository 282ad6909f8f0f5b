"""ViT and baseline-ResNet configurations, the learning-rate schedule and the canonical parameter shapes.

Framework-free (NumPy-free, even): imported by paper.py, both implementations and the parameter-count test.

Canonical parameter names and layouts (Keras storage, `y = x @ W`), both frameworks:
  patch_embed/kernel (P, P, C, D)  patch_embed/bias (D,)        -- the paper's E (Eq. 1), as a conv kernel
  embedding/cls (1, 1, D)          embedding/pos (1, N + 1, D)  -- x_class and E_pos (Eq. 1)
  block{i}/ln1/{gamma,beta} (D,)   block{i}/attn/{query,key,value,out}/kernel (D, D), {query,value,out}/bias (D,)
  block{i}/ln2/{gamma,beta} (D,)   block{i}/mlp/dense1/kernel (D, M), .../bias (M,), dense2 (M, D), (D,)
  final_norm/{gamma,beta} (D,)     pre_logits/kernel (D, R), bias (R,) (only when R = head_hidden > 0)
  head/kernel (R or D, K)          head/bias (K,)
There is no key bias: it adds the same q.b_k to every logit of a query, so softmax removes it (no effect on
the output, an exactly zero gradient that Adam would turn into a framework-dependent random walk of
round-off). The paper's code has one (D parameters per block, 9,216 in ViT-B/16). The query/key/value/out
kernels hold the heads side by side: column h * D_h + j is head h's unit j (the
paper's code stores (D, H, D_h), which is this reshaped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ViTConfig:
    """A Vision Transformer (Sec. 3.1). Defaults: the reduced model trained in paper.py."""

    arch: str = "vit"
    image_size: int = 28
    channels: int = 1
    patch: int = 7  # P: 28 / 7 = 4 x 4 = 16 patches
    dim: int = 64  # D (Table 1: "Hidden size")
    depth: int = 2  # L (Table 1: "Layers")
    heads: int = 4  # k (Table 1: "Heads")
    mlp: int = 128  # Table 1: "MLP size"
    classes: int = 10
    head_hidden: int = 64  # pre-training head: one hidden tanh layer of this size (0: a single linear layer)
    pos_embed: bool = True  # learned 1-D position embeddings; False = Table 8's "no positional embedding"
    dropout: float = 0.1  # after the embedding, the attention output, and both MLP layers (masks in the batch)
    zero_head: bool = True  # the paper's code initialises the head kernel to zero
    attention_impl: str = "hand"  # "hand" | "builtin_torch" | "builtin_tf": that side uses its built-in layer
    # Optimizer (App. B.1): Adam, beta1 0.9, beta2 0.999, epsilon 1e-8 added AFTER bias correction (the
    # paper's flax code, = torch's convention), decoupled weight decay (p -= lr * wd * p) on every
    # parameter, linear warmup then linear decay.
    lr: float = 3e-3  # Table 3, ImageNet (the paper's smallest pre-training set): lr 3e-3, wd 0.3, dropout 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    weight_decay: float = 0.3
    warmup_steps: int = 20
    total_steps: int = 0  # 0: constant after warmup

    @property
    def grid(self) -> int:
        return self.image_size // self.patch

    @property
    def n_patches(self) -> int:
        return self.grid**2

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def __post_init__(self) -> None:
        if self.image_size % self.patch:
            raise ValueError(f"image size {self.image_size} is not a multiple of the patch size {self.patch}")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not a multiple of heads {self.heads}")
        if self.attention_impl not in ("hand", "builtin_torch", "builtin_tf"):
            raise ValueError(f"unknown attention_impl {self.attention_impl!r}")


@dataclass(frozen=True)
class ResNetConfig:
    """The comparison CNN: a small pre-activation ResNet with GroupNorm, as the paper's BiT baselines are
    (BiT: ResNet v2 with Group Normalization and Weight Standardization; WS is left out here).

    stem: 3x3 conv (stride `stem_stride`, no bias); then one pre-activation basic block per stage
    (GN, ReLU, 3x3 conv, GN, ReLU, 3x3 conv; a 1x1 projection shortcut where the shape changes);
    then GN, ReLU, global average pooling and a linear head. Every 3x3 conv pads 1 pixel on each side
    explicitly (TensorFlow's 'same' would pad stride-2 convs asymmetrically).
    """

    arch: str = "resnet"
    image_size: int = 28
    channels: int = 1
    stem_width: int = 16
    stem_stride: int = 2
    widths: tuple[int, ...] = (32, 64)
    strides: tuple[int, ...] = (2, 2)  # 28 -> 14 (stem) -> 7 -> 4
    groups: int = 8  # GroupNorm groups
    classes: int = 10
    lr: float = 3e-3  # the ViT's optimizer and hyperparameters, for a like-for-like comparison
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    weight_decay: float = 0.3
    warmup_steps: int = 20
    total_steps: int = 0


def learning_rate(c, step: int) -> float:
    """The learning rate for 1-based optimizer step `step`: linear warmup over `warmup_steps`, then linear
    decay towards 0 at `total_steps` (App. B.1: "linear learning rate warmup and decay"); constant after
    warmup when total_steps is 0."""
    if step < 1:
        raise ValueError("optimizer steps are 1-based")
    if c.warmup_steps and step <= c.warmup_steps:
        return c.lr * step / c.warmup_steps
    if not c.total_steps:
        return c.lr
    left = c.total_steps + 1 - step
    return c.lr * max(left, 0) / (c.total_steps + 1 - c.warmup_steps)


# ---------------------------------------------------------------------------------------------------------
# Canonical parameter shapes (used by the parameter-count test; both Models must match them exactly)


def vit_param_shapes(c: ViTConfig) -> dict[str, tuple[int, ...]]:
    d, m, p = c.dim, c.mlp, c.patch
    shapes: dict[str, tuple[int, ...]] = {"patch_embed/kernel": (p, p, c.channels, d), "patch_embed/bias": (d,),
                                          "embedding/cls": (1, 1, d)}
    if c.pos_embed:
        shapes["embedding/pos"] = (1, c.n_patches + 1, d)
    for i in range(c.depth):
        b = f"block{i}"
        shapes.update({f"{b}/ln1/gamma": (d,), f"{b}/ln1/beta": (d,)})
        for proj in ("query", "key", "value", "out"):
            shapes[f"{b}/attn/{proj}/kernel"] = (d, d)
            if proj != "key":
                shapes[f"{b}/attn/{proj}/bias"] = (d,)
        shapes.update({f"{b}/ln2/gamma": (d,), f"{b}/ln2/beta": (d,),
                       f"{b}/mlp/dense1/kernel": (d, m), f"{b}/mlp/dense1/bias": (m,),
                       f"{b}/mlp/dense2/kernel": (m, d), f"{b}/mlp/dense2/bias": (d,)})
    shapes.update({"final_norm/gamma": (d,), "final_norm/beta": (d,)})
    width = d
    if c.head_hidden:
        shapes.update({"pre_logits/kernel": (d, c.head_hidden), "pre_logits/bias": (c.head_hidden,)})
        width = c.head_hidden
    shapes.update({"head/kernel": (width, c.classes), "head/bias": (c.classes,)})
    return shapes


def resnet_blocks(c: ResNetConfig) -> list[tuple[str, int, int, int]]:
    """(name, in channels, out channels, stride) per block."""
    blocks, cin = [], c.stem_width
    for s, (w, stride) in enumerate(zip(c.widths, c.strides, strict=True)):
        blocks.append((f"stage{s + 1}", cin, w, stride))
        cin = w
    return blocks


def resnet_param_shapes(c: ResNetConfig) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"stem/kernel": (3, 3, c.channels, c.stem_width)}
    for name, cin, cout, stride in resnet_blocks(c):
        shapes.update({f"{name}/gn1/gamma": (cin,), f"{name}/gn1/beta": (cin,),
                       f"{name}/conv1/kernel": (3, 3, cin, cout),
                       f"{name}/gn2/gamma": (cout,), f"{name}/gn2/beta": (cout,),
                       f"{name}/conv2/kernel": (3, 3, cout, cout)})
        if cin != cout or stride != 1:
            shapes[f"{name}/shortcut/kernel"] = (1, 1, cin, cout)
    last = c.widths[-1]
    shapes.update({"final_norm/gamma": (last,), "final_norm/beta": (last,),
                   "head/kernel": (last, c.classes), "head/bias": (c.classes,)})
    return shapes


def param_shapes(c) -> dict[str, tuple[int, ...]]:
    return vit_param_shapes(c) if c.arch == "vit" else resnet_param_shapes(c)


def param_rename(c) -> tuple[tuple[str, object], ...]:
    """How both frameworks' module paths spell the canonical names of `param_shapes` (harness.adapters):
    the encoder blocks (a list `blocks`) are block0, block1, ... (ViT) or the stage names of `resnet_blocks`;
    the class token and position embedding are embedding/cls and embedding/pos; the MLP's two layers sit under
    mlp/; torch's hand-written patch embedding stores a Conv2d-layout `weight`; the built-in attention layers
    name their projections in_proj/out_proj (torch) or _query_dense ... _output_dense (Keras)."""
    names = [f"block{i}" for i in range(c.depth)] if c.arch == "vit" else [n for n, *_ in resnet_blocks(c)]
    return ((r"^blocks/(\d+)/", lambda m: f"{names[int(m[1])]}/"), (r"^(cls|pos)$", r"embedding/\1"),
            (r"/(dense[12])/", r"/mlp/\1/"), (r"^patch_embed/weight$", "patch_embed/kernel"),
            (r"/attn/mha/_(query|key|value)_dense/", r"/attn/\1/"),
            (r"/attn/mha/(_output_dense|out_proj)/", "/attn/out/"))


def param_count(c) -> int:
    return sum(math.prod(s) for s in param_shapes(c).values())


def model_depth(c) -> int:
    """Longest chain of layers from the input to the loss (scales the agreement tolerance)."""
    if c.arch == "vit":
        return 2 + 7 * c.depth + 2 + (1 if c.head_hidden else 0)
    return 1 + 6 * len(c.widths) + 3


# Table 1 (patch size 16, 224 x 224 images, 1000 classes, linear head as at fine-tuning; pre-LN, no extras).
VIT_B16 = ViTConfig(image_size=224, channels=3, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=1000,
                    head_hidden=0)
VIT_L16 = ViTConfig(image_size=224, channels=3, patch=16, dim=1024, depth=24, heads=16, mlp=4096, classes=1000,
                    head_hidden=0)
VIT_H14 = ViTConfig(image_size=224, channels=3, patch=14, dim=1280, depth=32, heads=16, mlp=5120, classes=1000,
                    head_hidden=0)
TABLE1 = {"ViT-B/16": (VIT_B16, 86e6), "ViT-L/16": (VIT_L16, 307e6), "ViT-H/14": (VIT_H14, 632e6)}
