"""Every layout conversion between PyTorch's storage and the canonical layout lives here (NumPy only).

Canonical = the papers' maths `y = x @ W`, which is also Keras's storage:
  dense kernel       (in, out)                 torch Linear.weight        (out, in)
  conv kernel        (kh, kw, in/groups, out)  torch Conv2d.weight        (out, in/groups, kh, kw)
  conv-transpose     (kh, kw, out/groups, in)  torch ConvTranspose2d      (in, out/groups, kh, kw)
  depthwise kernel   (kh, kw, C, m)            torch Conv2d(groups=C)     (C*m, 1, kh, kw)
  recurrent kernels  (in, G*H), (H, G*H), one bias (G*H,), gates in the torch order (i, f, g, o)
  images             NHWC                      torch                      NCHW
TensorFlow implementations store the canonical layout natively, so only the torch side converts.
Each function has an inverse and tests/test_layout.py checks the round trip and the semantics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# --- dense -------------------------------------------------------------------------------------------------


def dense_from_torch(weight: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(weight.T)


def dense_to_torch(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.T)


# --- convolution -------------------------------------------------------------------------------------------


def conv_from_torch(weight: np.ndarray) -> np.ndarray:
    """OIHW (also grouped: O, I/g, H, W) -> HWIO."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def conv_to_torch(kernel: np.ndarray) -> np.ndarray:
    """HWIO -> OIHW."""
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def conv_transpose_from_torch(weight: np.ndarray) -> np.ndarray:
    """torch ConvTranspose2d (in, out/g, kh, kw) -> Keras Conv2DTranspose (kh, kw, out/g, in)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def conv_transpose_to_torch(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def depthwise_from_torch(weight: np.ndarray, channels: int) -> np.ndarray:
    """torch (C*m, 1, kh, kw), output channel c*m + j from input c -> Keras (kh, kw, C, m)."""
    cm, one, kh, kw = weight.shape
    if one != 1 or cm % channels:
        raise ValueError(f"not a depthwise weight for {channels} channels: shape {weight.shape}")
    m = cm // channels
    return np.ascontiguousarray(weight.reshape(channels, m, kh, kw).transpose(2, 3, 0, 1))


def depthwise_to_torch(kernel: np.ndarray) -> np.ndarray:
    kh, kw, c, m = kernel.shape
    return np.ascontiguousarray(kernel.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw))


# --- images ------------------------------------------------------------------------------------------------


def nhwc_to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def flatten_rows_nhwc_to_nchw(kernel: np.ndarray, h: int, w: int, c: int) -> np.ndarray:
    """Permute the rows of a dense kernel that follows a flatten.

    A canonical kernel's rows are indexed in NHWC flatten order (h, w, c); a torch model that flattens
    NCHW maps feature (c, h, w) to row c*h*w + ... . Returns the kernel whose rows are in NCHW order.
    """
    if kernel.shape[0] != h * w * c:
        raise ValueError(f"kernel has {kernel.shape[0]} rows, expected h*w*c = {h * w * c}")
    return np.ascontiguousarray(
        kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
    )


def flatten_rows_nchw_to_nhwc(kernel: np.ndarray, h: int, w: int, c: int) -> np.ndarray:
    if kernel.shape[0] != h * w * c:
        raise ValueError(f"kernel has {kernel.shape[0]} rows, expected h*w*c = {h * w * c}")
    return np.ascontiguousarray(
        kernel.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)
    )


# --- recurrent ---------------------------------------------------------------------------------------------


def reorder_gates(w: np.ndarray, source: Sequence[str], target: Sequence[str], axis: int = -1) -> np.ndarray:
    """Reorder the gate blocks stacked along `axis` (e.g. GRU r,z,n <-> z,r,n)."""
    if sorted(source) != sorted(target):
        raise ValueError(f"gate sets differ: {source} vs {target}")
    blocks = np.split(w, len(source), axis=axis)
    by_name = dict(zip(source, blocks, strict=True))
    return np.concatenate([by_name[g] for g in target], axis=axis)


def lstm_from_torch(weight_ih, weight_hh, bias_ih, bias_hh) -> dict[str, np.ndarray]:
    """torch.nn.LSTM (4H, I), (4H, H), two biases -> canonical kernel, recurrent_kernel, one bias.

    Gate order i, f, g, o on both sides (Keras names the g block 'c'); torch's two biases only ever
    appear as a sum, so the canonical bias is b_ih + b_hh.
    """
    return {
        "kernel": dense_from_torch(weight_ih),
        "recurrent_kernel": dense_from_torch(weight_hh),
        "bias": np.asarray(bias_ih + bias_hh),
    }


def lstm_to_torch(kernel, recurrent_kernel, bias) -> dict[str, np.ndarray]:
    """Inverse of lstm_from_torch: the whole bias goes to bias_ih, bias_hh is zero (same sum)."""
    return {
        "weight_ih": dense_to_torch(kernel),
        "weight_hh": dense_to_torch(recurrent_kernel),
        "bias_ih": np.array(bias, copy=True),
        "bias_hh": np.zeros_like(bias),
    }


# --- normalisation -----------------------------------------------------------------------------------------


def bn_momentum_torch_to_keras(momentum: float) -> float:
    """torch weights the NEW batch by `momentum`; Keras weights the OLD value: keras = 1 - torch."""
    return 1.0 - momentum


def unbiased_variance(biased: np.ndarray, n: int) -> np.ndarray:
    """Batch variance with Bessel's correction, as torch's running_var update uses (docs/pitfalls.md)."""
    if n < 2:
        raise ValueError("unbiased variance needs at least 2 samples")
    return biased * (n / (n - 1))
