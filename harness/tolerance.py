"""The written rule for agreement tolerances, and the per-paper overrides (each with its reason).

Errors are normalised per element (harness/compare.py), so a tolerance is a relative error.

Base (one layer's forward pass):  float64 1e-12, float32 1e-5 (DESIGN.md: "every larger error has
turned out to be a bug"). Identical maths in float64 lands near 1e-15 per op, so 1e-12 leaves room
for reassociated sums but not for a changed constant (a changed epsilon moves results by >= 1e-9).

Growth with depth: independent rounding errors from `depth` layers add like a random walk, so the
forward tolerance is base * sqrt(depth). The backward pass runs the chain twice as long:
grad = base * sqrt(2 * depth).

Growth with steps: a training trajectory re-injects a gradient's rounding error at every step; for
non-expansive dynamics (small learning rates, the regime compared here) those errors add at most
linearly, so trajectory = grad * steps. Chaotic runs grow faster than any such rule; DESIGN.md step 6
says to compare those as distributions over seeds instead, and in float64, where the rule still holds
for thousands of steps.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence

from .spec import ToleranceOverride

BASE = {"float64": 1e-12, "float32": 1e-5}
KINDS = ("forward", "grad", "trajectory", "params")


def rule(kind: str, dtype: str, depth: int, steps: int = 0) -> float:
    if dtype not in BASE:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {tuple(BASE)}")
    depth = max(1, depth)
    if kind == "params":  # set_params/get_params must be a lossless copy
        return 0.0
    if kind == "forward":
        return BASE[dtype] * math.sqrt(depth)
    grad = BASE[dtype] * math.sqrt(2 * depth)
    if kind == "grad":
        return grad
    if kind == "trajectory":
        return grad * max(1, steps)
    raise ValueError(f"unknown check kind {kind!r}; expected one of {KINDS}")


def tolerance(
    check: str,
    kind: str,
    dtype: str,
    depth: int,
    steps: int = 0,
    overrides: Sequence[ToleranceOverride] = (),
) -> tuple[float, str | None]:
    """(tol, reason) for a named check; reason is None unless an override applied."""
    for o in overrides:
        if o.dtype == dtype and fnmatch.fnmatchcase(check, o.check):
            return o.tol, o.reason
    return rule(kind, dtype, depth, steps), None
