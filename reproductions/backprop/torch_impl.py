"""Rumelhart, Hinton & Williams 1986 in PyTorch (see paper.py for the tasks and claims).

Units are logistic, y_j = 1 / (1 + exp(-x_j)) with x_j = sum_i y_i w_ji + b_j (Eqs. 1-2). The error is
E = 1/2 sum_c sum_j (y_jc - d_jc)^2, SUMMED over cases (Eq. 3), optionally with the family-trees margin
(no error when an on-unit is above 0.8 or an off-unit below 0.2). Weights change once per sweep by
Delta w(t) = -epsilon dE/dw + alpha Delta w(t-1) (Eq. 9), with torch.optim.SGD; then every weight is
decayed by `weight_decay` (0.2% for family trees).

Every default that differs from TensorFlow is written out (docs/pitfalls.md): the init range, SGD's
dampening/nesterov/weight_decay, and the momentum convention. torch's SGD keeps epsilon out of its buffer
(v = alpha v + g; w -= epsilon v) while Eq. 9 keeps it in, so when epsilon changes mid-run (family trees,
after sweep 20) the buffer is rescaled by old/new epsilon (harness.conventions).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness import conventions
from harness.adapters import AdaptedModel, TorchParams

from .paper import PARAM_RENAME

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
LOGISTIC = torch.sigmoid
REDUCE_CASES = torch.sum  # Eq. 3: summed over cases and output units, not averaged
MOMENTUM_BUFFER_RESCALE = conventions.torch_momentum_buffer_rescale


def decay_weights(module: nn.Module, rate: float) -> None:
    """w <- (1 - rate) w for every weight and bias, after the update (p. 535: "decayed by 0.2%")."""
    if rate:
        with torch.no_grad():
            for p in module.parameters():
                p.mul_(1.0 - rate)


class SymmetryNet(nn.Module):
    """Fig. 1: 6 inputs -> n_hidden logistic units -> 1 logistic output (n_hidden=0: no hidden layer)."""

    def __init__(self, c):
        super().__init__()
        self.hidden = nn.Linear(c.n_inputs, c.n_hidden, bias=True) if c.n_hidden else None
        self.output_layer = nn.Linear(c.n_hidden or c.n_inputs, 1, bias=True)

    def forward(self, batch):
        x, taps = batch["x"], {}
        if self.hidden is not None:
            x = taps["hidden"] = LOGISTIC(self.hidden(x))
        taps["output"] = LOGISTIC(self.output_layer(x))
        return taps


class FamilyTreesNet(nn.Module):
    """Fig. 3: person (24) -> 6 and relation (12) -> 6 local encodings, both -> 12 central units ->
    6 units encoding person 2 -> 24 outputs, every unit logistic."""

    def __init__(self, c):
        super().__init__()
        self.person_encoding = nn.Linear(c.n_people, c.n_encoding)
        self.relation_encoding = nn.Linear(c.n_relations, c.n_encoding)
        self.central = nn.Linear(2 * c.n_encoding, c.n_central)
        self.output_encoding = nn.Linear(c.n_central, c.n_encoding)
        self.output_layer = nn.Linear(c.n_encoding, c.n_people)

    def forward(self, batch):
        taps = {"person_encoding": LOGISTIC(self.person_encoding(batch["person"])),
                "relation_encoding": LOGISTIC(self.relation_encoding(batch["relation"]))}
        both = torch.cat([taps["person_encoding"], taps["relation_encoding"]], dim=1)
        taps["central"] = LOGISTIC(self.central(both))
        taps["output_encoding"] = LOGISTIC(self.output_encoding(taps["central"]))
        taps["output"] = LOGISTIC(self.output_layer(taps["output_encoding"]))
        return taps


def summed_squared_error(output, target, margin):
    """Eq. 3, with the family-trees margin (off, on): zero error where the unit is already close enough."""
    err2 = (output - target) ** 2
    if margin is not None:
        off, on = margin
        inside = torch.where(target > 0.5, output > on, output < off)
        err2 = torch.where(inside, torch.zeros_like(err2), err2)
    return 0.5 * REDUCE_CASES(err2)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        net_class = SymmetryNet if config.task == "symmetry" else FamilyTreesNet
        self.net = net_class(config).to(self.dtype)
        with torch.no_grad():  # every weight and bias U[-r, r] (not torch's kaiming_uniform default)
            for p in self.net.parameters():
                nn.init.uniform_(p, -config.init_range, config.init_range)
        lr, momentum = config.phase(1)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=lr, momentum=momentum, dampening=0.0,
                                   nesterov=False, weight_decay=0.0, maximize=False)
        self.sweeps = 0
        self.params = TorchParams(self.net, "backprop torch Model", rename=PARAM_RENAME)

    # --- computation --------------------------------------------------------------------------------------

    def _tensors(self, batch):
        return {k: self.on_device(torch.as_tensor(v, dtype=self.dtype)) for k, v in batch.items()}

    def _loss(self, batch):
        b = self._tensors(batch)
        taps = self.net(b)
        return summed_squared_error(taps["output"], b["target"], self.config.margin), taps["output"], b["target"]

    @staticmethod
    def _fit(output, target):
        """Per batch: the largest |o - d|, and the fraction of cases with every output within 0.5."""
        # per case: every output within 0.5 iff its worst is. One read-back of the per-case worsts (64 or 104
        # values) costs less inside a sweep than two reductions and two read-backs (symmetry: 233 -> 217 us).
        worst = (output - target).abs().amax(dim=1).tolist()
        largest = math.nan if math.isnan(sum(worst)) else max(worst)  # Python's max would skip a NaN
        return largest, sum(w < 0.5 for w in worst) / len(worst)

    def forward(self, batch, training=False):
        with torch.no_grad():
            return {k: v.cpu().numpy() for k, v in self.net(self._tensors(batch)).items()}

    def grads(self, batch):
        self.net.zero_grad(set_to_none=True)
        loss, _, _ = self._loss(batch)
        loss.backward()
        grads = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), grads

    def _set_phase(self, lr: float, momentum: float) -> None:
        conventions.set_torch_sgd_lr(self.opt, lr, MOMENTUM_BUFFER_RESCALE)
        for group in self.opt.param_groups:
            group["momentum"] = momentum

    def train_step(self, batch):
        """One sweep: the gradient of E over the whole batch, one Eq. 9 update, then the weight decay.
        The returned loss and fit are measured before the update."""
        self.sweeps += 1
        self._set_phase(*self.config.phase(self.sweeps))
        self.opt.zero_grad(set_to_none=True)
        loss, output, target = self._loss(batch)
        loss.backward()
        self.opt.step()
        decay_weights(self.net, self.config.weight_decay)
        max_err, accuracy = self._fit(output.detach(), target)
        return {"loss": loss.item(), "max_abs_error": max_err, "accuracy": accuracy}

    def evaluate(self, batches):
        losses, errs, correct, n = 0.0, 0.0, 0.0, 0
        with torch.no_grad():
            for batch in batches:
                loss, output, target = self._loss(batch)
                max_err, accuracy = self._fit(output, target)
                losses += loss.item()
                errs = max(errs, max_err)
                correct += accuracy * len(output)
                n += len(output)
        return {"loss": losses, "max_abs_error": errs, "accuracy": correct / n}
