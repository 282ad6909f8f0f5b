"""An independent family-trees reference in plain NumPy, written from the paper's equations alone.

It shares no code with the twins (no torch, no Keras, no harness adapters): the forward pass is Eqs. 1-2
(x_j = sum_i y_i w_ji + b_j, y_j = 1 / (1 + exp(-x_j))), the backward pass is the chain rule of Eqs. 4-7
written out by hand (dE/dx_j = dE/dy_j y_j (1 - y_j); dE/dy_i = sum_j dE/dx_j w_ji), the error is Eq. 3
summed over cases with the 0.2/0.8 margin (p. 535), and weights change by Eq. 9,
Delta w(t) = -epsilon dE/dw + alpha Delta w(t-1), once per sweep, each weight then decayed by 0.2%.

Parameters use the canonical names and layouts of the twins (kernels (inputs, units)), so that a test can
start all three from the same weights. Besides the reading the twins implement, the options below cover the
paper's remaining degrees of freedom (the candidates of the family-trees diagnosis):

- decay: "after-update" (the twins: w <- (1 - d) w after each change), "in-step" (the decay is part of the
  weight change, Delta w(t) = -epsilon dE/dw - d w + alpha Delta w(t-1), so momentum carries it too),
  "none";
- margin: "zero-inside" (the twins: the error of a unit already beyond 0.8/0.2 is zero, elsewhere the error
  is measured from 1/0), "to-margin" (targets are 0.8/0.2 and the error stops there: (y - 0.8)^2 below 0.8
  for an on-unit), "none" (plain Eq. 3);
- order: "sweep" (one change per sweep, Eq. 9) or "online" (one change after every case, in a fixed
  per-seed shuffled order each sweep, with the same epsilon/alpha).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYERS = (  # (name, input) in the order of Fig. 3
    ("person_encoding", "person"), ("relation_encoding", "relation"), ("central", "encodings"),
    ("output_encoding", "central"), ("output", "output_encoding"),
)
DECAYS = ("after-update", "in-step", "none")
MARGINS = ("zero-inside", "to-margin", "none")
ORDERS = ("sweep", "online")


@dataclass(frozen=True)
class Rule:
    """How the paper's training rule is read; the defaults are the twins' reading."""

    decay: str = "after-update"
    margin: str = "zero-inside"
    order: str = "sweep"

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.decay, DECAYS, "decay"), (self.margin, MARGINS, "margin"),
                                     (self.order, ORDERS, "order")):
            if value not in allowed:
                raise ValueError(f"numpy reference: {what} {value!r} is not one of {allowed}")


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def init_params(config, seed: int) -> dict[str, np.ndarray]:
    """Every weight and bias U[-r, r] from NumPy's generator (the reference's own draw, not the twins')."""
    rng = np.random.default_rng(seed)
    shapes = {"person_encoding": (config.n_people, config.n_encoding),
              "relation_encoding": (config.n_relations, config.n_encoding),
              "central": (2 * config.n_encoding, config.n_central),
              "output_encoding": (config.n_central, config.n_encoding),
              "output": (config.n_encoding, config.n_people)}
    r = config.init_range
    params = {}
    for name, (n_in, n_out) in shapes.items():
        params[f"{name}/kernel"] = rng.uniform(-r, r, (n_in, n_out))
        params[f"{name}/bias"] = rng.uniform(-r, r, n_out)
    return params


def forward(params: dict[str, np.ndarray], batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every layer's activity (Eqs. 1-2), keyed by layer name; "encodings" is the two encodings side by side."""
    acts = {"person": batch["person"], "relation": batch["relation"]}
    for name, source in LAYERS:
        if name == "central":
            acts["encodings"] = np.concatenate([acts["person_encoding"], acts["relation_encoding"]], axis=1)
        acts[name] = logistic(acts[source] @ params[f"{name}/kernel"] + params[f"{name}/bias"])
    return acts


def error_and_output_grad(y: np.ndarray, d: np.ndarray, margin: str) -> tuple[float, np.ndarray]:
    """E (Eq. 3, summed over cases and units) and dE/dy under the margin reading `margin`."""
    on = d > 0.5
    if margin == "none":
        diff = y - d
    elif margin == "zero-inside":  # no error where the unit is already beyond 0.8 (on) or 0.2 (off)
        inside = np.where(on, y > 0.8, y < 0.2)
        diff = np.where(inside, 0.0, y - d)
    else:  # "to-margin": targets 0.8/0.2, no error beyond them
        goal = np.where(on, 0.8, 0.2)
        inside = np.where(on, y > 0.8, y < 0.2)
        diff = np.where(inside, 0.0, y - goal)
    return 0.5 * float(np.sum(diff * diff)), diff


def gradients(params: dict[str, np.ndarray], batch: dict[str, np.ndarray], margin: str
              ) -> tuple[float, dict[str, np.ndarray]]:
    """E and dE/dw for every parameter, by the backward pass of Eqs. 4-7."""
    acts = forward(params, batch)
    loss, dy = error_and_output_grad(acts["output"], batch["target"], margin)
    grads, upstream = {}, {"output": dy}
    for name, source in reversed(LAYERS):
        y = acts[name]
        dx = upstream[name] * y * (1.0 - y)  # Eq. 4: through the logistic
        grads[f"{name}/kernel"] = acts[source].T @ dx  # Eq. 5, summed over the cases
        grads[f"{name}/bias"] = dx.sum(axis=0)
        if source in ("person", "relation"):
            continue
        dsource = dx @ params[f"{name}/kernel"].T  # Eq. 7
        if source == "encodings":
            n = acts["person_encoding"].shape[1]
            upstream["person_encoding"], upstream["relation_encoding"] = dsource[:, :n], dsource[:, n:]
        else:
            upstream[source] = dsource
    return loss, grads


class Reference:
    """The family-trees net trained by Eq. 9 in NumPy (float64 unless told otherwise)."""

    def __init__(self, config, params: dict[str, np.ndarray], rule: Rule = Rule(), dtype: str = "float64",
                 order_seed: int = 0):
        self.config, self.rule, self.dtype = config, rule, np.dtype(dtype)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in params.items()}
        self.delta = {k: np.zeros_like(v) for k, v in self.params.items()}  # Delta w(t - 1) of Eq. 9
        self.sweeps = 0
        self._order_rng = np.random.default_rng(order_seed)

    def _change(self, batch: dict[str, np.ndarray], eps: float, alpha: float) -> float:
        loss, grads = gradients(self.params, batch, self.rule.margin)
        decay = self.config.weight_decay if self.rule.decay != "none" else 0.0
        for k, w in self.params.items():
            step = -eps * grads[k] + alpha * self.delta[k]
            if self.rule.decay == "in-step":
                step = step - decay * w
            self.delta[k] = step
            w += step
            if self.rule.decay == "after-update":
                w *= 1.0 - decay
        return loss

    def sweep(self, batch: dict[str, np.ndarray]) -> float:
        """One sweep through `batch`; returns E summed over the sweep (measured before each change)."""
        self.sweeps += 1
        eps, alpha = self.config.phase(self.sweeps)
        batch = {k: np.asarray(v, dtype=self.dtype) for k, v in batch.items()}
        if self.rule.order == "sweep":
            return self._change(batch, eps, alpha)
        total = 0.0
        for i in self._order_rng.permutation(len(batch["target"])):
            total += self._change({k: v[i:i + 1] for k, v in batch.items()}, eps, alpha)
        return total

    def correct(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Per case: every output on the right side of 0.5 (the twins' criterion)."""
        y = forward(self.params, {k: np.asarray(v, dtype=self.dtype) for k, v in batch.items()})["output"]
        return np.all(np.abs(y - batch["target"]) < 0.5, axis=1)
