"""He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image Recognition", in PyTorch.

The residual block (Eq. 1, Fig. 2): y = relu(F(x, {W_i}) + x), F = conv3x3-BN-relu-conv3x3-BN, with the
shortcut x either the identity (option A: subsampled by 2 and zero-padded in channels when the shape
changes, so it adds no parameter) or, for ImageNet option B, a 1x1 stride-2 projection W_s x (Eq. 2) with
BN when the shape changes. The plain counterpart is the same stack without the shortcut.

CIFAR-10 family (section 4.2): conv3x3(16) + BN + relu, then 3 stages of n blocks on 32/16/8 px maps with
16/32/64 filters (the first conv of stages 2 and 3 has stride 2), global average pooling, a 10-way fully
connected layer: 6n + 2 weighted layers. ImageNet ResNet-18/34 (Table 1): conv7x7/2(64) + BN + relu +
maxpool3x3/2, stages of basic blocks with 64/128/256/512 filters, global average pooling, fc 1000.

Every default is written out (docs/pitfalls.md): batch norm eps 1e-5 and momentum 0.1 (torch's
convention: the weight of the NEW batch), its running variance stored unbiased (Bessel-corrected batch
variance, as torch does and as Ioffe & Szegedy's inference rule says); every conv padded explicitly and
symmetrically (k // 2 on each side, also at stride 2); max-pool padded with -inf; conv weights drawn from
N(0, 2 / (k*k*c_out)) (He et al. 2015b, fan_out as fb.resnet.torch), the fc layer U(+-1/sqrt(fan_in)).

Optimiser: SGD with momentum 0.9, the paper's (Caffe's) convention m = mu m + lr (g + wd w); w -= m.
torch.optim.SGD keeps lr out of its buffer (v = mu v + (g + wd w); w -= lr v): identical while lr is
constant, and when lr changes the buffer is rescaled by old_lr / new_lr (harness.conventions). Weight
decay is the coupled L2 form g + wd w (torch's `weight_decay`), on every trainable parameter (conv
kernels, BN gamma and beta, fc kernel and bias), i.e. the gradient of (wd / 2) ||theta||^2; the loss
reported is the data loss (mean softmax cross-entropy) without that term.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness import layout
from harness.adapters import AdaptedModel, TorchParams
from harness.conventions import set_torch_sgd_lr, torch_momentum_buffer_rescale

from .paper import PARAM_RENAME

CHANNELS_LAST = True  # conv layers: channels_last (NHWC memory) is one of its execution modes
# Reproductions train in channels_last: measured on ResNet-20 (the resnet20 agreement case, batch 8 of 32x32, float32,
# one thread), steady train_step 51-54 ms against 65-68 ms eager, no first-step cost, and it agrees with eager
# (results/modes.md); tests/test_execution.py runs agreement in it. compile: 68 s to compile resnet8, slower
# steady steps there; not worth it for runs of a few thousand steps.
REPRO_MODE = "channels_last"

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read when the model is built.
BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # torch convention: running = (1 - m) running + m batch
ACTIVATION = F.relu
MOMENTUM_BUFFER_RESCALE = torch_momentum_buffer_rescale
OPTION_A_PAD = "after"  # option A: the zero channels follow the identity channels (fb.resnet.torch)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=True, track_running_stats=True)


def conv(cin: int, cout: int, k: int, stride: int) -> nn.Conv2d:
    """k x k conv, no bias (BN follows), padded k // 2 on every side (never 'same')."""
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, padding_mode="zeros")


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = conv(cin, cout, k, stride)
        self.bn = batch_norm(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


def option_a_shortcut(x: torch.Tensor, cout: int, stride: int) -> torch.Tensor:
    """Identity, subsampled by `stride` and zero-padded to `cout` channels (no parameters)."""
    if stride > 1:
        x = x[:, :, ::stride, ::stride]
    extra = cout - x.shape[1]
    if extra:
        pad = (0, 0, 0, 0, 0, extra) if OPTION_A_PAD == "after" else (0, 0, 0, 0, extra, 0)
        x = F.pad(x, pad)
    return x


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN; residual: relu(F(x) + shortcut(x)), plain: relu(F(x))."""

    def __init__(self, cin, cout, stride, residual, shortcut):
        super().__init__()
        self.conv1 = conv(cin, cout, 3, stride)
        self.bn1 = batch_norm(cout)
        self.conv2 = conv(cout, cout, 3, 1)
        self.bn2 = batch_norm(cout)
        self.residual, self.option, self.cout, self.stride = residual, shortcut, cout, stride
        changes = stride != 1 or cin != cout
        self.shortcut = ConvBN(cin, cout, 1, stride) if residual and shortcut == "B" and changes else None

    def forward(self, x, responses=None):
        """`responses`: a list that gets each 3x3 conv's output after BN, before the addition and the relu
        (the layer responses of Fig. 7)."""
        r1 = self.bn1(self.conv1(x))
        out = self.bn2(self.conv2(ACTIVATION(r1)))
        if responses is not None:
            responses += [r1, out]
        if self.residual:
            if self.shortcut is not None:
                out = out + self.shortcut(x)
            else:
                out = out + option_a_shortcut(x, self.cout, self.stride)
        return ACTIVATION(out)


class ResNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        imagenet = c.family == "imagenet"
        self.imagenet = imagenet
        self.stem = ConvBN(c.in_channels, c.stem_width, 7 if imagenet else 3, 2 if imagenet else 1)
        self.stages = nn.ModuleList()
        cin = c.stem_width
        for s, (width, n) in enumerate(zip(c.widths, c.stage_blocks, strict=True)):
            blocks = nn.ModuleList()
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                blocks.append(BasicBlock(cin, width, stride, c.residual, c.shortcut))
                cin = width
            self.stages.append(blocks)
        self.fc = nn.Linear(cin, c.num_classes, bias=True)

    def forward(self, x, responses=None):
        taps = {}
        x = taps["stem"] = ACTIVATION(self.stem(x))
        if self.imagenet:  # max-pool 3x3/2, padded 1 with -inf on every side
            x = taps["maxpool"] = F.max_pool2d(F.pad(x, (1, 1, 1, 1), value=-math.inf), 3, 2, padding=0)
        for s, blocks in enumerate(self.stages):
            for b, block in enumerate(blocks):
                x = taps[f"stage{s + 1}/block{b}"] = block(x, responses)
        pooled = taps["pool"] = x.mean(dim=(2, 3))
        taps["output"] = self.fc(pooled)
        return taps


def init_weights(net: ResNet) -> None:
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels  # fan_out
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / k))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.uniform_(m.bias, -bound, bound)


def cross_entropy(logits, y):
    return F.cross_entropy(logits, y, reduction="mean", label_smoothing=0.0)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        self.net = ResNet(config).to(self.dtype)
        init_weights(self.net)
        self.params = TorchParams(self.net, "resnet torch Model", rename=PARAM_RENAME)
        self._bn_buffers = self.params.variables(trainable=False)
        self.steps = 0
        self.lr = config.lr_at(0)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=self.lr, momentum=config.momentum, dampening=0.0,
                                   nesterov=False, weight_decay=config.weight_decay, maximize=False)

    # --- computation --------------------------------------------------------------------------------------

    def _inputs(self, batch):
        x = self.on_device(torch.from_numpy(layout.nhwc_to_nchw(np.asarray(batch["x"]))).to(self.dtype))
        return x, self.on_device(torch.as_tensor(np.asarray(batch["y"]), dtype=torch.int64))

    def _keep_running_stats(self):
        return [t.clone() for t in self._bn_buffers]

    def _restore_running_stats(self, saved):
        with torch.no_grad():
            for t, s in zip(self._bn_buffers, saved, strict=True):
                t.copy_(s)

    def forward(self, batch, training=False):
        x, _ = self._inputs(batch)
        saved = self._keep_running_stats()
        self.net.train(training)
        with torch.no_grad():
            taps = {k: v.cpu().numpy() for k, v in self.net(x).items()}
        self._restore_running_stats(saved)  # train-mode forward changes no state
        for k, v in taps.items():
            if v.ndim == 4:
                taps[k] = layout.nchw_to_nhwc(v)
        return taps

    def predict(self, batch):
        """Eval-mode logits only: the inference the benchmark times (forward also returns every tap)."""
        self.net.train(False)
        with torch.no_grad():
            return self.net(self._inputs(batch)[0])["output"].cpu().numpy()

    def grads(self, batch):
        x, y = self._inputs(batch)
        saved = self._keep_running_stats()
        self.net.train(True)
        self.net.zero_grad(set_to_none=True)
        loss = cross_entropy(self.net(x)["output"], y)
        loss.backward()
        self._restore_running_stats(saved)
        grads = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), grads

    def _set_lr(self, lr: float) -> None:
        set_torch_sgd_lr(self.opt, lr, MOMENTUM_BUFFER_RESCALE)  # keep lr * v equal to the paper's m
        self.lr = lr

    def train_step(self, batch):
        """One SGD step on the batch (BN in train mode, running statistics updated); loss and error are
        those of the batch before the update."""
        self._set_lr(self.config.lr_at(self.steps))
        self.steps += 1
        x, y = self._inputs(batch)
        self.net.train(True)
        self.opt.zero_grad(set_to_none=True)
        logits = self.net(x)["output"]
        loss = cross_entropy(logits, y)
        loss.backward()
        self.opt.step()
        error = (logits.detach().argmax(dim=1) != y).to(torch.float64).mean()
        return {"loss": loss.item(), "error": error.item()}

    def response_stds(self, batch) -> list[float]:
        """Eval mode: the std (over images, pixels and channels) of each 3x3 conv layer's response, after
        BN and before the addition / relu, in depth order (Fig. 7)."""
        x, _ = self._inputs(batch)
        self.net.train(False)
        responses = []
        with torch.no_grad():
            self.net(x, responses)
        return [float(r.to(torch.float64).std(unbiased=False)) for r in responses]

    def evaluate(self, batches):
        self.net.train(False)
        total, wrong, n = 0.0, 0.0, 0
        with torch.no_grad():
            for batch in batches:
                x, y = self._inputs(batch)
                logits = self.net(x)["output"]
                total += F.cross_entropy(logits, y, reduction="sum").item()
                wrong += (logits.argmax(dim=1) != y).sum().item()
                n += len(y)
        return {"loss": total / n, "error": wrong / n}
