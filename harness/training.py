"""The pieces of a training loop that every paper's experiments share (framework-free): the divergence check
and the shuffled minibatches of an epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .errors import TrainingDivergedError


def check_finite(out: Mapping[str, float] | float, where: str, keys: Sequence[str] = ("loss",)) -> None:
    """Raise TrainingDivergedError naming the run and step (`where`, e.g. "alexnet fig1, epoch 3 step 12") when
    a loss is NaN or infinite: a number, or the `keys` of a step's result that it has."""
    values = [(k, out[k]) for k in keys if k in out] if isinstance(out, Mapping) else [("loss", out)]
    for key, value in values:
        if not math.isfinite(value):
            raise TrainingDivergedError(f"{where}: {key} {value}; lower the learning rate or check the config")


def epoch_minibatches(rng: np.random.Generator, n: int, batch_size: int) -> list[np.ndarray]:
    """One epoch of minibatch indices: a fresh permutation of range(n) drawn from `rng`, cut into batches of
    `batch_size`, the last partial batch dropped."""
    order = rng.permutation(n)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size)]
