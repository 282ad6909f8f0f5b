"""Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with Deep Convolutional Neural Networks",
in PyTorch.

The network of section 3.5 / Fig. 2 (and smaller ones built from the same parts, see paper.py):
conv layers with ReLU f(x) = max(0, x) (section 3.1; tanh for the Fig. 1 comparison), the two-GPU split
of conv2/4/5 as grouped convolutions (groups=2: each half of the kernels sees one half of the previous
layer's maps, section 3.2), local response normalization (section 3.3)
    b^i_{x,y} = a^i_{x,y} / (k + alpha sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} (a^j_{x,y})^2)^beta
with k=2, n=5, alpha=1e-4, beta=0.75 after the ReLU of conv1 and conv2, overlapping max-pooling z=3, s=2
(section 3.4), then fully connected layers with dropout 0.5 on the hidden ones (section 4.2), softmax.

Every default is written out (docs/pitfalls.md):
- LRN: torch.nn.LocalResponseNorm divides alpha by `size`, the paper does not: alpha_torch = n * alpha.
- padding explicit and symmetric (Conv2d padding=p); max-pool unpadded (ceil_mode False).
- flatten: torch flattens NCHW (c, h, w); the canonical fc kernel after the flatten has its rows in NHWC
  (h, w, c) order, so get/set_params permute them through harness.layout.
- dropout: the masks come in the batch ("mask_fc6", ... with values 0 or 1 / (1 - p)); no torch RNG.
- init (section 5): weights N(0, init_std) (or N(0, init_gain / fan_in) when init_std is None), biases 1 where
  the config says (conv2, conv4, conv5, hidden fc), else 0.
- SGD (section 5): v = 0.9 v - 0.0005 eps w - eps dL/dw; w += v, i.e. momentum with lr inside the buffer
  and the coupled weight decay g + wd w on every weight AND bias (the update rule names no exception).
  torch.optim.SGD(weight_decay=wd) is v = mu v + (g + wd w); w -= lr v: identical while lr is constant;
  the buffer is rescaled by old_lr / new_lr when lr changes (harness.conventions).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness import layout
from harness.adapters import DENSE, AdaptedModel, Layout, TorchParams, then
from harness.conventions import set_torch_sgd_lr, torch_momentum_buffer_rescale

from .paper import PARAM_RENAME

CHANNELS_LAST = True  # conv layers: channels_last (NHWC memory) is one of its execution modes

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read when the model is built.
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}
LRN_TORCH_ALPHA = lambda alpha, n: n * alpha  # noqa: E731  torch's LocalResponseNorm uses alpha / n
FLATTEN_FROM_TORCH = layout.flatten_rows_nchw_to_nhwc
FLATTEN_TO_TORCH = layout.flatten_rows_nhwc_to_nchw
MOMENTUM_BUFFER_RESCALE = torch_momentum_buffer_rescale


class AlexNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.act = ACTIVATIONS[c.activation]
        self.convs = nn.ModuleDict()
        self.lrns = nn.ModuleDict()
        cin = c.in_channels
        for i, s in enumerate(c.convs, start=1):
            self.convs[f"conv{i}"] = nn.Conv2d(cin, s.filters, s.kernel, stride=s.stride, padding=s.pad,
                                               groups=s.groups, bias=True, padding_mode="zeros")
            if s.lrn and c.use_lrn:
                self.lrns[f"lrn{i}"] = nn.LocalResponseNorm(c.lrn_n, alpha=LRN_TORCH_ALPHA(c.lrn_alpha, c.lrn_n),
                                                            beta=c.lrn_beta, k=c.lrn_k)
            cin = s.filters
        self.pool = nn.MaxPool2d(c.pool_size, stride=c.pool_stride, padding=0, ceil_mode=False)
        self.fcs = nn.ModuleDict()
        fin = c.flat_features
        for name, width in zip(c.fc_names, (*c.fc, c.num_classes), strict=True):
            self.fcs[name] = nn.Linear(fin, width, bias=True)
            fin = width

    def forward(self, x, masks=None):
        """masks: None (eval) or {fc name: mask} for the hidden fc layers (train mode with dropout)."""
        c, taps = self.c, {}
        for i, s in enumerate(c.convs, start=1):
            x = taps[f"conv{i}"] = self.act(self.convs[f"conv{i}"](x))
            if f"lrn{i}" in self.lrns:
                x = taps[f"lrn{i}"] = self.lrns[f"lrn{i}"](x)
            if s.pool:
                x = taps[f"pool{i}"] = self.pool(x)
        x = x.flatten(1)  # NCHW order: (c, h, w)
        names = c.fc_names
        for name in names[:-1]:
            x = self.act(self.fcs[name](x))
            if masks is not None and c.dropout > 0:
                x = x * masks[name]
            taps[name] = x
        taps["output"] = self.fcs[names[-1]](x)
        return taps


def weight_std(c, fan_in: int) -> float:
    """The config's N(0, init_std) (the paper: 0.01), or with init_std None sqrt(init_gain / fan_in)
    (gain 1: LeCun, 2: He et al. 2015)."""
    return c.init_std if c.init_std is not None else math.sqrt(c.init_gain / fan_in)


def init_weights(net: AlexNet, c) -> None:
    with torch.no_grad():
        for i, s in enumerate(c.convs, start=1):
            conv = net.convs[f"conv{i}"]
            nn.init.normal_(conv.weight, 0.0, weight_std(c, conv.weight[0].numel()))
            nn.init.constant_(conv.bias, 1.0 if s.bias_one else 0.0)
        for name in c.fc_names:
            fc = net.fcs[name]
            nn.init.normal_(fc.weight, 0.0, weight_std(c, fc.in_features))
            nn.init.constant_(fc.bias, 1.0 if (c.fc_bias_one and name != c.fc_names[-1]) else 0.0)


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y, reduction="mean", label_smoothing=0.0)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        self.net = AlexNet(config).to(self.dtype)
        init_weights(self.net, config)
        # The one exception to the layer-kind layouts: the first fc layer's rows follow torch's NCHW flatten.
        flat = config.flat_shape
        rows = Layout(lambda k: FLATTEN_FROM_TORCH(k, *flat), lambda k: FLATTEN_TO_TORCH(k, *flat))
        self.params = TorchParams(self.net, "alexnet torch Model", rename=PARAM_RENAME,
                                  layouts={f"{config.fc_names[0]}/kernel": then(DENSE, rows)})
        self.steps = 0
        self.lr = config.lr_at(0)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=config.momentum, dampening=0.0,
                                   nesterov=False, weight_decay=config.weight_decay, maximize=False)

    # --- computation --------------------------------------------------------------------------------------

    def _x(self, batch):
        return self.on_device(torch.from_numpy(layout.nhwc_to_nchw(np.asarray(batch["x"]))).to(self.dtype))

    def _masks(self, batch):
        if self.config.dropout <= 0:
            return None
        return {n: self.on_device(torch.as_tensor(np.asarray(batch[f"mask_{n}"]), dtype=self.dtype))
                for n in self.config.fc_names[:-1]}

    def _y(self, batch):
        return self.on_device(torch.as_tensor(np.asarray(batch["y"]), dtype=torch.int64))

    def forward(self, batch, training=False):
        with torch.no_grad():
            taps = self.net(self._x(batch), self._masks(batch) if training else None)
        return {k: layout.nchw_to_nhwc(v.cpu().numpy()) if v.ndim == 4 else v.cpu().numpy() for k, v in taps.items()}

    def predict(self, batch):
        """Logits only, no dropout: the inference the benchmark times (forward also returns every tap)."""
        with torch.no_grad():
            return self.net(self._x(batch))["output"].cpu().numpy()

    def grads(self, batch):
        self.net.zero_grad(set_to_none=True)
        loss = cross_entropy(self.net(self._x(batch), self._masks(batch))["output"], self._y(batch))
        loss.backward()
        grads = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), grads

    def _set_lr(self, lr: float) -> None:
        set_torch_sgd_lr(self.opt, lr, MOMENTUM_BUFFER_RESCALE)  # keep lr * v equal to the paper's m
        self.lr = lr

    def train_step(self, batch):
        """One SGD step (dropout with the batch's masks); loss and error of the batch before the update."""
        self._set_lr(self.config.lr_at(self.steps))
        self.steps += 1
        y = self._y(batch)
        self.opt.zero_grad(set_to_none=True)
        logits = self.net(self._x(batch), self._masks(batch))["output"]
        loss = cross_entropy(logits, y)
        loss.backward()
        self.opt.step()
        error = (logits.detach().argmax(dim=1) != y).to(torch.float64).mean()
        return {"loss": loss.item(), "error": error.item()}

    def evaluate(self, batches):
        total, wrong, n = 0.0, 0.0, 0
        with torch.no_grad():
            for batch in batches:
                y = self._y(batch)
                logits = self.net(self._x(batch))["output"]
                total += F.cross_entropy(logits, y, reduction="sum").item()
                wrong += (logits.argmax(dim=1) != y).sum().item()
                n += len(y)
        return {"loss": total / n, "error": wrong / n}
