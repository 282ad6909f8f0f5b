"""The written rule for agreement tolerances, and the per-paper overrides (each with its reason).

Errors are normalised per element (harness/compare.py), so a tolerance is a relative error.

Base (one layer's forward pass):  float64 1e-12, float32 1e-5 (in this project's experience every larger
error has turned out to be a bug). Identical maths in float64 lands near 1e-15 per op, so 1e-12 leaves room
for reassociated sums but not for a changed constant (a changed epsilon moves results by >= 1e-9).

Growth with depth: independent rounding errors from `depth` layers add like a random walk, so the
forward tolerance is base * sqrt(depth). The backward pass runs the chain twice as long:
grad = base * sqrt(2 * depth).

Growth with steps: a training trajectory re-injects a gradient's rounding error at every step; for
non-expansive dynamics (small learning rates, the regime compared here) those errors add at most
linearly, so trajectory = grad * steps. Chaotic runs grow faster than any such rule; the agreement protocol
compares those as distributions over seeds instead, and in float64, where the rule still holds
for thousands of steps.

Float32: the float64 arbiter. A fixed float32 tolerance encodes one machine's rounding: it is too loose
for small cases (their noise sits hundreds of times below it) and too tight for deep ones on a CPU
that rounds differently. So a float32 check also runs float64 twins of both frameworks built from the
SAME float32 weights and batch cast up (exact), and measures per entry each framework's own float32
error -- its *precision* figure -- e_torch = err(torch32, torch64), e_tf = err(tf32, tf64), and the
twins' disagreement d = err(torch32, tf32), all normalised by torch64's scale (harness/compare.py):

    pass  iff  d <= M * max(e_torch, e_tf) + floor,     M = 2,  floor = the float64 tolerance

in the spirit of torch._dynamo's accuracy check (err(result, fp64) <= m * err(eager, fp64) + floor).
Why these numbers: with one scale for all three errors, the triangle inequality gives
d <= e_torch + delta64 + e_tf <= 2 * max(e_torch, e_tf) + delta64, where delta64 = err(torch64, tf64)
is what the float64 check bounds by its written tolerance. So M = 2 with that floor is the tightest
rule that float32 rounding alone can never break, on any machine, however it rounds: the tolerance
follows the rounding actually present (robust on deep cases, tight on small ones). A difference in
the maths (a porting bug) is in both dtypes: it moves d by its size B while e_torch and e_tf stay
rounding, so the check fails once B > 4 * max(e_torch, e_tf) + floor -- a bug of 10x the float32
noise always fails. Each error is measured against the framework's OWN float64 twin: against a shared
reference (torch64 for both) a bug in tf would inflate tf's own error and excuse itself
(d <= e_torch + e_tf holds for any b), i.e. that check could never fail.

What this rule does not fail: a float32-only loss of precision in one framework (a conv backward
computed by a less accurate algorithm, a bias correction 1 - beta**t computed in float32). It shows
as one framework's precision figure far above the other's, and where the ratio exceeds FINDING_RATIO
(10x) and the worse error exceeds FINDING_MIN_ERR (10 float32 ulps), the check lists it as a *finding*.
The fixed float32 rule remains only where a float64 run is impossible, and the check says so.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence

from .spec import ToleranceOverride

BASE = {"float64": 1e-12, "float32": 1e-5}
KINDS = ("forward", "grad", "trajectory", "params")

ARBITER_M = 2.0  # the triangle-inequality bound (module docstring)
FINDING_RATIO = 10.0
# A precision gap counts only once the worse error exceeds 10 float32 ulps: below that, which framework
# happened to round closer to float64 is luck, and a ratio of two sub-ulp errors means nothing.
FINDING_MIN_ERR = 10 * 2.0**-23


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


def arbiter_budget(torch_err: float, tf_err: float, floor: float) -> float:
    """The most the float32 twins may disagree, given each one's error against its own float64 twin."""
    return ARBITER_M * max(torch_err, tf_err) + floor
