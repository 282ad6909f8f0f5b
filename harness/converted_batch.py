"""A batch's framework tensors, converted once and reused while the caller hands the same unchanged arrays.

Full-batch training (backprop's symmetry and family-trees sweeps) passes the same NumPy arrays every step; for
networks that small, converting them again each step costs as much as the step's arithmetic. Reuse is keyed on
the arrays' identity *and* their bytes (compared with a private copy of them, dtype and shape included: cheaper
than np.array_equal, and exact where it is not, e.g. -0.0 against 0.0), so an array changed in place, or a new
array under the same key, is converted again: the tensors always hold the values passed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


class ConvertedBatch:
    def __init__(self, convert: Callable[[Mapping], dict]):
        self._convert = convert  # batch -> {key: tensor}
        self._arrays: dict | None = None  # the batch's own arrays (held, so their ids stay theirs)
        self._fingerprints: dict = {}
        self._tensors: dict = {}

    def __call__(self, batch: Mapping) -> dict:
        if not self._same(batch):
            self._tensors = self._convert(batch)
            self._arrays = dict(batch)
            self._fingerprints = {k: _fingerprint(v) for k, v in batch.items()}
        return self._tensors

    def _same(self, batch: Mapping) -> bool:
        arrays = self._arrays
        return (arrays is not None and arrays.keys() == batch.keys()
                and all(batch[k] is arrays[k] and _fingerprint(batch[k]) == self._fingerprints[k] for k in batch))


def _fingerprint(array) -> tuple:
    a = np.asarray(array)
    return a.dtype.str, a.shape, a.tobytes()
