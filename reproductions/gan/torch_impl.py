"""Goodfellow et al. 2014, "Generative Adversarial Nets", in PyTorch (see paper.py for setup and claims).

Generator: h_l = ReLU(h_{l-1} W_l + b_l), x = sigmoid(h W_y + b_y) (or linear for 1-D toys).
Discriminator (maxout, Goodfellow et al. 2013): the input of every layer is multiplied by the batch's
inverted-dropout mask (training only), then h_l = max_p (h_{l-1} W_l + b_l)[:, unit, p] with the pieces of a
unit in consecutive columns (pylearn2's Maxout), and D(x) = sigmoid(h W_y + b_y).
Algorithm 1: k steps on the discriminator loss
    L_D = -(1/m) sum log D(x) - (1/m) sum log(1 - D(G(z)))  =  mean softplus(-l(x)) + mean softplus(l(G(z)))
(l: D's logit), then one generator step on
    non-saturating: L_G = -(1/m) sum log D(G(z)) = mean softplus(-l(G(z)))      (Sec. 3)
    saturating:     L_G =  (1/m) sum log(1 - D(G(z))) = -mean softplus(l(G(z)))  (Eq. 1)

Defaults written out (docs/pitfalls.md): weights U(-irange, irange) and zero biases (not torch's
kaiming_uniform); softplus written exactly as max(l, 0) + log1p(exp(-|l|)) (torch's F.softplus switches to
the identity above threshold=20, Keras's does not); SGD with dampening 0, nesterov off. The SGD momentum
convention: torch keeps lr out of the buffer (v = mu v + g; p -= lr v), the official pylearn2 rule (and
Keras) keep it in (m = mu m - lr g; p += m). The lr decays every update (lr / 1.000004^t), so before each
update the buffer is rescaled by old_lr / new_lr (harness.conventions).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness import conventions
from harness.adapters import AdaptedModel, TorchParams

from .paper import PARAM_RENAME, mean_loss

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
MOMENTUM_BUFFER_RESCALE = conventions.torch_momentum_buffer_rescale


def softplus(x):
    """log(1 + exp(x)), exact everywhere (no threshold)."""
    return torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))


def maxout(h, units: int, pieces: int):
    """(B, units * pieces) -> (B, units): the max over each unit's `pieces` consecutive columns."""
    return h.reshape(h.shape[0], units, pieces).amax(dim=2)


def generator_loss(logit_fake, kind: str):
    if kind == "non-saturating":
        return softplus(-logit_fake).mean()
    if kind == "saturating":
        return -softplus(logit_fake).mean()
    raise ValueError(f"unknown generator loss {kind!r}")


def _uniform_linear(n_in, n_out, irange, dtype):
    layer = nn.Linear(n_in, n_out, bias=True, dtype=dtype)
    with torch.no_grad():
        nn.init.uniform_(layer.weight, -irange, irange)
        nn.init.zeros_(layer.bias)
    return layer


class Generator(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        widths = [c.z_dim, *c.g_hidden]
        self.hidden = nn.ModuleList(_uniform_linear(a, b, c.g_irange, dtype)
                                    for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.y = _uniform_linear(widths[-1], c.x_dim, c.g_irange, dtype)
        self.output_kind = c.g_output

    def forward(self, z):
        return self.run(z)

    def run(self, z, taps=None):
        """G(z); fills `taps` when given."""
        h = z
        for j, layer in enumerate(self.hidden):
            h = torch.relu(layer(h))
            if taps is not None:
                taps[f"G/h{j}"] = h
        x = self.y(h)
        return torch.sigmoid(x) if self.output_kind == "sigmoid" else x


class Discriminator(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        widths = [c.x_dim, *c.d_units]
        self.units, self.pieces = tuple(c.d_units), c.d_pieces
        self.hidden = nn.ModuleList(_uniform_linear(a, b * c.d_pieces, c.d_irange, dtype)
                                    for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.y = _uniform_linear(widths[-1], 1, c.d_irange, dtype)

    def forward(self, x, masks=None):
        return self.run(x, masks)

    def run(self, x, masks=None, taps=None):
        """The logit l(x); `masks` (one per layer input) applied when given (training)."""
        h = x
        for j, layer in enumerate(self.hidden):
            if masks is not None:
                h = h * masks[j]
            h = maxout(layer(h), self.units[j], self.pieces)
            if taps is not None:
                taps[f"D/h{j}"] = h
        if masks is not None:
            h = h * masks[-1]
        return self.y(h)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = c = config
        self.dtype = getattr(torch, dtype)
        self.G = Generator(c, self.dtype)
        self.D = Discriminator(c, self.dtype)
        self.opt_d = torch.optim.SGD(self.D.parameters(), lr=c.lr, momentum=c.momentum, dampening=0.0,
                                     nesterov=False, weight_decay=0.0)
        self.opt_g = torch.optim.SGD(self.G.parameters(), lr=c.lr, momentum=c.momentum, dampening=0.0,
                                     nesterov=False, weight_decay=0.0)
        self._updates = {"D": 0, "G": 0}
        self.params = TorchParams({"generator": self.G, "discriminator": self.D}, "gan torch Model",
                                  rename=PARAM_RENAME)

    # --- computation --------------------------------------------------------------------------------------

    def _t(self, a):
        return self.on_device(torch.as_tensor(np.asarray(a), dtype=self.dtype))

    def _masks(self, batch, prefix, index=None):
        n = len(self.config.d_units) + 1
        return [self._t(batch[f"{prefix}{j}"] if index is None else batch[f"{prefix}{j}"][index]) for j in range(n)]

    def _d_loss(self, batch, i):
        x, z = self._t(batch["x"][i]), self._t(batch["z"][i])
        with torch.no_grad():
            fake = self.G(z)
        logits = self.D(torch.cat([x, fake]), self._masks(batch, "d_mask", i))
        m = x.shape[0]
        return softplus(-logits[:m]).mean() + softplus(logits[m:]).mean()

    def _g_loss(self, batch):
        logit = self.D(self.G(self._t(batch["z_g"])), self._masks(batch, "g_mask"))
        return generator_loss(logit, self.config.generator_loss)

    def forward(self, batch, training=False):
        """Taps of G on the first D step's z, then of D on [x; G(z)] (m real rows, then m generated)."""
        taps = {}
        with torch.no_grad():
            fake = self.G.run(self._t(batch["z"][0]), taps)
            taps["G/output"] = fake
            masks = self._masks(batch, "d_mask", 0) if training else None
            logit = self.D.run(torch.cat([self._t(batch["x"][0]), fake]), masks, taps)
            taps["D/logit"] = logit
            taps["output"] = torch.sigmoid(logit)
        return {k: v.cpu().numpy() for k, v in taps.items()}

    def grads(self, batch):
        """The first D step's loss, with dL_D/d(D's parameters) and dL_G/d(G's parameters), both at the
        current parameters (Algorithm 1 would take the G step after the D steps)."""
        for p in self.params.trainable():
            p.grad = None
        d_loss = self._d_loss(batch, 0)
        d_loss.backward()
        self._g_loss(batch).backward(inputs=list(self.G.parameters()))
        out = self.params.grads()
        for p in self.params.trainable():
            p.grad = None
        return d_loss.item(), out

    def _lr_for_next_update(self, net: str, opt) -> None:
        """lr * (1 / lr_decay)^t for update t+1 (t updates so far); the momentum buffer rescaled to match."""
        lr = self.config.lr * (1.0 / self.config.lr_decay) ** self._updates[net]  # as keras ExponentialDecay
        self._updates[net] += 1
        conventions.set_torch_sgd_lr(opt, lr, MOMENTUM_BUFFER_RESCALE)

    def train_step(self, batch):
        """One iteration of Algorithm 1: k D updates, then g_steps G updates (the same z_g)."""
        c = self.config
        d_losses = []
        for i in range(c.k):
            self._lr_for_next_update("D", self.opt_d)
            self.opt_d.zero_grad(set_to_none=True)
            loss = self._d_loss(batch, i)
            loss.backward()
            self.opt_d.step()
            d_losses.append(loss.item())
        out = {"loss": mean_loss(d_losses)}
        for _ in range(c.g_steps):
            self._lr_for_next_update("G", self.opt_g)
            self.opt_g.zero_grad(set_to_none=True)
            self.D.zero_grad(set_to_none=True)
            loss = self._g_loss(batch)
            loss.backward(inputs=list(self.G.parameters()))
            self.opt_g.step()
            out["g_loss"] = loss.item()
        return out

    def generate(self, batch):
        with torch.no_grad():
            return self.G(self._t(batch["z"])).cpu().numpy()

    def discriminate(self, batch):
        with torch.no_grad():
            return torch.sigmoid(self.D(self._t(batch["x"]))).cpu().numpy()

    def evaluate(self, batches):
        with torch.no_grad():
            losses = [self._d_loss(b, 0).item() for b in batches]
            g = [self._g_loss(b).item() for b in batches]
        return {"loss": float(np.mean(losses)), "g_loss": float(np.mean(g))}
