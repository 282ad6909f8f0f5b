"""The agreement protocol (DESIGN.md): same weights into both frameworks, then compare, in order,
parameters (lossless copy), forward taps in eval and train mode, per-parameter gradients, and an
N-step training trajectory with each framework's own optimizer. A = torch, B = tf.

Every check reports its first divergence: the first tap, parameter, or training step (with the
parameter) whose error exceeds the tolerance, with max abs/rel error, the worst element's index and
the tolerance (harness/tolerance.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import registry
from .compare import ArrayDiff, compare_arrays, compare_named, first_failure
from .spec import AgreementCase, Paper, Params
from .tolerance import tolerance

Tamper = Callable[[Params], Params]  # simulates a conversion bug on A's way out (tests only)


@dataclass
class Check:
    name: str  # "<paper>/<case>/<dtype>/<kind>"
    kind: str  # params | forward | forward_train | grad | trajectory
    paper: str
    case: str
    dtype: str
    tol: float
    passed: bool
    max_abs: float
    max_rel: float
    first_divergence: str | None
    detail: str | None  # the first failing entry, described; else the worst entry
    tol_reason: str | None = None
    entries: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": "forward" if self.kind.startswith("forward") else self.kind,
            "mode": "train" if self.kind == "forward_train" else None,
            "paper": self.paper,
            "case": self.case,
            "dtype": self.dtype,
            "max_abs": _finite_or_str(self.max_abs),
            "max_rel": _finite_or_str(self.max_rel),
            "tol": self.tol,
            "tol_reason": self.tol_reason,
            "passed": self.passed,
            "first_divergence": self.first_divergence,
            "detail": self.detail,
        }


def _finite_or_str(x: float):
    return float(x) if np.isfinite(x) else str(x)


def _summarise(paper, case, dtype, kind, diffs: list[ArrayDiff], tol, reason, where=None) -> Check:
    bad = first_failure(diffs)
    worst = max(diffs, key=lambda d: d.max_rel) if diffs else None
    shown = bad or worst
    return Check(
        name=f"{paper.key}/{case.name}/{dtype}/{kind}",
        kind=kind,
        paper=paper.key,
        case=case.name,
        dtype=dtype,
        tol=tol,
        passed=bad is None,
        max_abs=max((d.max_abs for d in diffs), default=0.0),
        max_rel=max((d.max_rel for d in diffs), default=0.0),
        first_divergence=(where(bad) if where else bad.name) if bad else None,
        detail=shown.describe() if shown else None,
        tol_reason=reason,
        entries=[d.to_dict() for d in diffs],
    )


def run_case(paper: Paper, case: AgreementCase, dtype: str, tamper: Tamper | None = None) -> list[Check]:
    torch_model = registry.model_class(paper, "torch")(case.config, seed=case.seed, dtype=dtype)
    # B starts from different weights on purpose: the copy, not a shared seed, must make them agree.
    tf_model = registry.model_class(paper, "tf")(case.config, seed=case.seed + 1, dtype=dtype)

    def tol(kind, steps=0):
        return tolerance(f"{case.name}/{kind}", kind, dtype, case.depth, steps, paper.tolerance_overrides)

    checks: list[Check] = []
    start = torch_model.get_params()
    if tamper is not None:
        start = tamper(start)
    tf_model.set_params(start)
    t, r = tol("params")
    checks.append(_summarise(paper, case, dtype, "params",
                             compare_named("param", start, tf_model.get_params(), lambda k, t=t: t), t, r))

    batches = case.make_batches(np.random.default_rng(case.seed), dtype, max(case.steps, 1))
    for kind, training in (("forward", False), ("forward_train", True)):
        t, r = tol("forward")
        taps = compare_named("tap", torch_model.forward(batches[0], training=training),
                             tf_model.forward(batches[0], training=training), lambda k, t=t: t)
        checks.append(_summarise(paper, case, dtype, kind, taps, t, r))

    t, r = tol("grad")
    loss_a, grads_a = torch_model.grads(batches[0])
    loss_b, grads_b = tf_model.grads(batches[0])
    diffs = [compare_arrays("loss", np.float64(loss_a), np.float64(loss_b), t)]
    diffs += compare_named("grad", grads_a, grads_b, lambda k, t=t: t, zero_scale=_largest(grads_a, grads_b))
    checks.append(_summarise(paper, case, dtype, "grad", diffs, t, r))

    if case.steps > 0:
        checks.append(_trajectory(paper, case, dtype, torch_model, tf_model, batches, start, tol))
    return checks


def _largest(*grads: Params) -> float:
    """The largest finite |gradient| of the model in either framework: the scale against which a gradient
    that is zero in exact arithmetic is judged (harness/compare.py)."""
    finite = [np.abs(v[np.isfinite(v)]).max() for g in grads for v in g.values() if np.isfinite(v).any()]
    return float(max(finite, default=0.0))


def _checkpoints(steps: int) -> set[int]:
    """Steps after which all parameters are compared: 1, 2, 4, 8, ... and the last."""
    points, k = {steps}, 1
    while k < steps:
        points.add(k)
        k *= 2
    return points


def _trajectory(paper, case, dtype, torch_model, tf_model, batches, start, tol) -> Check:
    """Both models from `start`; after each step compare the loss, and at checkpoints every parameter,
    each against the trajectory tolerance for that many steps. The first divergence names the step."""
    torch_model.set_params(start)
    tf_model.set_params(start)
    diffs: list[ArrayDiff] = []
    first: str | None = None
    checkpoints = _checkpoints(case.steps)
    for step in range(1, case.steps + 1):
        batch = batches[(step - 1) % len(batches)]
        out_a, out_b = torch_model.train_step(batch), tf_model.train_step(batch)
        t, _ = tol("trajectory", step)
        step_diffs = [compare_arrays(f"step {step} loss", np.float64(out_a["loss"]),
                                     np.float64(out_b["loss"]), t)]
        if step in checkpoints:
            step_diffs += [
                _rename(d, f"step {step} {d.name}")
                for d in compare_named("param", torch_model.get_params(), tf_model.get_params(), lambda k, t=t: t)
            ]
        diffs += step_diffs
        bad = first_failure(step_diffs)
        if bad is not None and first is None:
            first = bad.name
            break  # later steps only repeat the divergence
    t, r = tol("trajectory", case.steps)
    check = _summarise(paper, case, dtype, "trajectory", diffs, t, r)
    check.first_divergence = first
    check.passed = first is None
    return check


def _rename(d: ArrayDiff, name: str) -> ArrayDiff:
    d.name = name
    return d


def cases(paper: Paper, skip_slow: bool = False) -> list[AgreementCase]:
    return [c for c in paper.agreement if not (skip_slow and c.slow)]


def run_paper(paper: Paper, dtypes: tuple[str, ...], progress=None, tamper: Tamper | None = None,
              skip_slow: bool = False) -> list[Check]:
    checks: list[Check] = []
    for case in cases(paper, skip_slow):
        for dtype in dtypes:
            if dtype in case.dtypes:
                checks += run_case(paper, case, dtype, tamper)
            if progress:
                progress(1)
    return checks
