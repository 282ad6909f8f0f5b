"""Toy MLP in PyTorch (see tests/toy/paper.py)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness import conventions, layout
from harness.params import check_params

LN_EPS = 1e-5
ACTIVATION = torch.tanh


class Net(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        self.dense1 = nn.Linear(c.n_in, c.n_hidden, dtype=dtype)
        self.norm = nn.LayerNorm(c.n_hidden, eps=LN_EPS, dtype=dtype)
        self.dense2 = nn.Linear(c.n_hidden, c.n_out, dtype=dtype)
        self.shift = nn.Parameter(torch.empty(1, dtype=dtype).uniform_(-0.5, 0.5)) if c.pre_norm_shift else None

    def forward(self, x):
        taps = {"dense1": self.dense1(x) if self.shift is None else self.dense1(x) + self.shift}
        taps["norm"] = nn.functional.layer_norm(taps["dense1"], self.norm.normalized_shape, self.norm.weight,
                                                self.norm.bias, eps=LN_EPS)
        taps["act"] = ACTIVATION(taps["norm"])
        taps["output"] = self.dense2(taps["act"])
        return taps


class Model:
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        self.net = Net(config, self.dtype)
        self._names = dict(self._names, **({"shift": ("shift", False)} if config.pre_norm_shift else {}))
        if config.optimizer == "sgd":
            self.opt = torch.optim.SGD(self.net.parameters(), lr=config.lr, momentum=config.momentum,
                                       dampening=0.0, nesterov=False, weight_decay=0.0)
        else:
            self.opt = torch.optim.Adam(self.net.parameters(), lr=config.lr, betas=(0.9, 0.999),
                                        eps=config.adam_epsilon, weight_decay=0.0, amsgrad=False)
        self.steps = 0

    _names = {"dense1/kernel": ("dense1.weight", True), "dense1/bias": ("dense1.bias", False),
              "norm/gamma": ("norm.weight", False), "norm/beta": ("norm.bias", False),
              "dense2/kernel": ("dense2.weight", True), "dense2/bias": ("dense2.bias", False)}

    def get_params(self):
        state = dict(self.net.named_parameters())
        return {k: (layout.dense_from_torch if t else np.array)(state[n].detach().numpy().copy())
                for k, (n, t) in self._names.items()}

    def set_params(self, params):
        state = dict(self.net.named_parameters())
        check_params({k: tuple(self.get_params()[k].shape) for k in self._names}, params, "toy torch Model")
        with torch.no_grad():
            for k, (n, t) in self._names.items():
                state[n].copy_(torch.from_numpy((layout.dense_to_torch if t else np.asarray)(params[k])))

    def _loss(self, batch):
        taps = self.net(torch.from_numpy(batch["x"]))
        return 0.5 * ((taps["output"] - torch.from_numpy(batch["y"])) ** 2).sum(dim=1).mean(), taps

    def forward(self, batch, training=False):
        with torch.no_grad():
            return {k: v.numpy() for k, v in self.net(torch.from_numpy(batch["x"])).items()}

    def grads(self, batch):
        self.net.zero_grad()
        loss, _ = self._loss(batch)
        loss.backward()
        state = dict(self.net.named_parameters())
        return loss.item(), {k: (layout.dense_from_torch if t else np.array)(state[n].grad.detach().numpy().copy())
                             for k, (n, t) in self._names.items()}

    def train_step(self, batch):
        self.steps += 1
        if self.config.optimizer == "adam":
            for g in self.opt.param_groups:
                g["eps"] = conventions.torch_adam_eps_matching_keras(self.config.adam_epsilon, 0.999, self.steps)
        self.opt.zero_grad()
        loss, _ = self._loss(batch)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def evaluate(self, batches):
        with torch.no_grad():
            return {"loss": float(np.mean([self._loss(b)[0].item() for b in batches]))}
