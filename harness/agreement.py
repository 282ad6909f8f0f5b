"""The agreement protocol: same weights into both frameworks, then compare, in order, parameters
(lossless copy), forward taps in eval and train mode, per-parameter gradients, and an N-step training
trajectory with each framework's own optimizer. A = torch, B = tf.

float64 checks use the written rule (harness/tolerance.py). A float32 check also runs float64 twins
from the same float32 weights and batch cast up, and judges each entry against the two frameworks'
own float32 errors from their float64 twins (the float64 arbiter, harness/tolerance.py). For a case
that runs in both dtypes, the float64 check IS that float64 run, so nothing runs twice.

Sides: by default A is torch and B is tf, each in its default execution mode on the CPU. `Side` changes that:
torch compiled against tf (`agree --mode compile`), or one framework against itself on another device
(`--device cuda --against cpu`) or in another mode (`--against eager`); the checks then say which sides ran.

Every failing check names its origin (`first_divergence`):
- forward: the first tap, in computation order, past its budget. Upstream taps are within budget, and
  under the arbiter the budget of a tap already contains the rounding carried in from them (each
  framework's float32 error at a tap includes what its earlier layers carried in), so the first tap
  past it is where a difference in the maths begins.
- grad: the forward origin when the forward pass already differs (the gradients only inherit it);
  else `loss` when the loss differs (it precedes every gradient); else the parameter furthest past
  its tolerance (error / tol), not the first in list order.
- trajectory: the first step with any entry past its tolerance (parameters are compared after every
  step), and at that step the parameter furthest past its tolerance (`loss` only when no parameter is).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import registry, results
from .compare import ArrayDiff, compare_arrays, compare_named, compare_with_reference, first_failure
from .errors import ConfigError
from .spec import AgreementCase, Paper, Params
from .tolerance import ARBITER_M, FINDING_MIN_ERR, FINDING_RATIO, rule, tolerance


@dataclass(frozen=True)
class Side:
    """One side of the protocol: a framework in an execution mode on a device (harness/execution.py)."""

    framework: str
    mode: str | None = None  # None: the framework's default mode
    device: str = "cpu"

    def build(self, paper: Paper, config, seed: int, dtype: str):
        from .execution import build_model

        return build_model(registry.model_class(paper, self.framework), config, seed, dtype, self.mode, self.device)

    def label(self) -> str:
        from .execution import DEFAULT_MODE

        return f"{self.framework}:{self.mode or DEFAULT_MODE[self.framework]}@{self.device}"


DEFAULT_SIDES = (Side("torch"), Side("tf"))


def sides_label(sides: tuple[Side, Side]) -> str | None:
    """"A vs B" when the sides are not the default (torch vs tf, default modes, CPU), else None."""
    a, b = (s.label() for s in sides)
    return None if (a, b) == tuple(s.label() for s in DEFAULT_SIDES) else f"{a} vs {b}"


Tamper = Callable[[Params], Params]  # simulates a conversion bug on A's way out (tests only)
MAX_FINDINGS = 5  # per check; the rest are counted


@dataclass
class Check:
    name: str  # "<paper>/<case>/<dtype>/<kind>"
    kind: str  # params | forward | forward_train | grad | trajectory | forward_trained
    paper: str
    case: str
    dtype: str
    tol: float
    passed: bool
    max_abs: float
    max_rel: float
    first_divergence: str | None  # the origin (module docstring)
    detail: str | None  # the origin entry, described; else the entry closest to its tolerance
    tol_reason: str | None = None
    entries: list[dict] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # precision gaps between the frameworks, unobserved params
    rule: str = "written"  # or the float64 arbiter's rule (harness/tolerance.py)
    unobserved: list[str] | None = None  # grad check: parameters the case cannot observe (unobserved_params)
    sides: str | None = None  # "torch:compile@cpu vs tf:function@cpu" when not the default sides

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": "forward" if self.kind.startswith("forward") else self.kind,
            "mode": {"forward_train": "train", "forward": "eval", "forward_trained": "eval after training"}.get(
                self.kind),
            "paper": self.paper,
            "case": self.case,
            "dtype": self.dtype,
            "max_abs": _finite_or_str(self.max_abs),
            "max_rel": _finite_or_str(self.max_rel),
            "tol": self.tol,
            "tol_reason": self.tol_reason,
            "rule": self.rule,
            "passed": self.passed,
            "first_divergence": self.first_divergence,
            "detail": self.detail,
            "findings": self.findings,
            "unobserved": self.unobserved,
            "sides": self.sides,
            "entries": [{k: _finite_or_str(v) if isinstance(v, float) else v for k, v in e.items()}
                        for e in self.entries],
        }

    def to_record(self, numerics: dict) -> dict:
        """The check as one results record (kind "agreement"); `numerics`: numerics.environment()."""
        return results.make_record(
            kind="agreement", paper=self.paper, framework="both", check=f"{self.case}/{self.dtype}/{self.kind}",
            metric="max_rel", value=self.max_rel, expected={"tol": self.tol, "tol_reason": self.tol_reason},
            passed=self.passed, seed=0,
            # the sides only when not the default, so that default records stay as they were
            config={"case": self.case, **({"sides": self.sides} if self.sides else {})},
            dataset="generated", profile=None,
            dtype=self.dtype, numerics=numerics,
            details={"max_abs": self.max_abs, "first_divergence": self.first_divergence, "detail": self.detail,
                     # a float32 tolerance measured against the float64 arbiter moves with the machine's rounding
                     "tol_rule": "written" if self.rule == "written" else "arbiter", "rule": self.rule,
                     "findings": self.findings},
        )


def _finite_or_str(x: float):
    return float(x) if np.isfinite(x) else str(x)


@dataclass
class Observed:
    """What one model produced in the protocol, kept so that float32 can be judged against float64."""

    start: Params  # what set_params was given
    params: Params  # what get_params handed back after it
    taps: dict[bool, Params]  # training -> taps
    loss: float
    grads: Params
    steps: list[tuple[float, Params]]  # (loss at the step, parameters after it)
    trained_taps: Params | None = None  # eval-mode taps after the trajectory (running statistics moved)


def _snapshot(arrays: Params) -> Params:
    """Own copies: get_params may return views of live tensors (torch's .numpy()), which later steps
    would overwrite in place."""
    return {k: np.array(v, copy=True) for k, v in arrays.items()}


def _observe(model, start: Params, batches, steps: int) -> Observed:
    model.set_params(start)
    params = _snapshot(model.get_params())
    taps = {training: _snapshot(model.forward(batches[0], training=training)) for training in (False, True)}
    loss, grads = model.grads(batches[0])
    grads = _snapshot(grads)
    model.set_params(start)  # a training-mode forward may have moved running statistics
    trajectory = []
    for step in range(1, steps + 1):
        out = model.train_step(batches[(step - 1) % len(batches)])
        trajectory.append((float(out["loss"]), _snapshot(model.get_params())))
    # Eval mode once more after training: initial batch-norm statistics (mean 0, variance 1) can leave
    # weights unobservable in eval mode (dead channels after ReLU); trained statistics and weights observe them.
    trained = _snapshot(model.forward(batches[0], training=False)) if steps > 0 else None
    return Observed(start, params, taps, float(loss), grads, trajectory, trained)


def _cast(tree, dtype: str):
    """Floating arrays of a params map or batch cast to `dtype` (exact when casting float32 up)."""
    if isinstance(tree, dict):
        return {k: _cast(v, dtype) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_cast(v, dtype) for v in tree)
    if isinstance(tree, np.ndarray) and np.issubdtype(tree.dtype, np.floating):
        return tree.astype(dtype)
    return tree


def base_dtype(case: AgreementCase) -> str:
    """The dtype a case's weights and batches are drawn in: float32 when it runs float32 at all, so
    that its float64 run (and a float32 check's reference) sees the identical numbers cast up."""
    return "float32" if "float32" in case.dtypes else "float64"


def case_inputs(case: AgreementCase, paper: Paper) -> tuple[Params, list]:
    """(start params, batches) of a case, in its base dtype: torch's initial weights, the case's batches."""
    dtype = base_dtype(case)
    start = registry.model_class(paper, "torch")(case.config, seed=case.seed, dtype=dtype).get_params()
    return start, case.make_batches(np.random.default_rng(case.seed), dtype, max(case.steps, 1))


def run_case(paper: Paper, case: AgreementCase, dtype: str, tamper: Tamper | None = None,
             start: Params | None = None, batches: list | None = None,
             sides: tuple[Side, Side] = DEFAULT_SIDES) -> list[Check]:
    return run_dtypes(paper, case, (dtype,), tamper, start, batches, sides)[dtype]


def run_dtypes(paper: Paper, case: AgreementCase, dtypes, tamper: Tamper | None = None,
               start: Params | None = None, batches: list | None = None,
               sides: tuple[Side, Side] = DEFAULT_SIDES) -> dict[str, list[Check]]:
    """Run a case in each of `dtypes` (float32 brings its float64 reference along); checks per dtype.
    `start`/`batches` (in the case's base dtype) replace the case's own, e.g. from a repro bundle.
    `sides`: what runs as A and as B (default torch and tf, default modes, CPU)."""
    if start is None or batches is None:
        own_start, own_batches = case_inputs(case, paper)
        start = own_start if start is None else start
        batches = own_batches if batches is None else batches
    observed: dict[str, tuple[Observed, Observed, Params]] = {}
    no_float64: str | None = None
    unobserved: list[str] | None = None
    needed = list(dtypes) + (["float64"] if "float32" in dtypes and "float64" not in dtypes else [])
    for dtype in sorted(set(needed), reverse=True):  # float64 first: float32 is judged against it
        try:
            torch_model = sides[0].build(paper, case.config, case.seed, dtype)
            # B starts from different weights on purpose: the copy, not a shared seed, must make them agree.
            tf_model = sides[1].build(paper, case.config, case.seed + 1, dtype)
        except Exception as exc:  # noqa: BLE001 - only a reference run may be impossible; said in the check
            if dtype not in dtypes:
                no_float64 = f"no float64 run ({type(exc).__name__}: {exc}); the fixed float32 rule applies"
                continue
            raise
        a_start = _cast(start, dtype)
        b_start = tamper(a_start) if tamper is not None else a_start
        b_batches = _cast(batches, dtype)
        observed[dtype] = (_observe(torch_model, a_start, b_batches, case.steps),
                           _observe(tf_model, b_start, b_batches, case.steps), b_start)
        if unobserved is None:  # a property of the case, not of the dtype: checked once
            unobserved = unobserved_params(torch_model, a_start, b_batches, observed[dtype][0])
    out = {}
    for dtype in dtypes:
        ref = observed["float64"][:2] if dtype == "float32" and "float64" in observed else None
        out[dtype] = _judge_case(paper, case, dtype, *observed[dtype], ref, no_float64 if dtype == "float32" else None)
        for check in out[dtype]:
            check.sides = sides_label(sides)
        grad = next(c for c in out[dtype] if c.kind == "grad")
        grad.unobserved = unobserved
        if unobserved:
            grad.findings.append(f"unobserved parameters (zero gradient and no effect on any tap): "
                                 f"{', '.join(unobserved)}")
    return out


def unobserved_params(model, start: Params, batches, seen: Observed) -> list[str]:
    """Parameters this case cannot check: a zero gradient everywhere (or none: running statistics) AND
    no effect on any eval- or train-mode tap when changed (x -> 1.5 x + 0.25, every element moves).
    A bug in such a parameter's maths would pass every check of the case."""
    out = []
    for name, value in start.items():
        grad = seen.grads.get(name)
        if grad is not None and np.any(grad != 0):
            continue
        model.set_params({**start, name: (value * 1.5 + 0.25).astype(value.dtype)})
        moved = any(not np.array_equal(model.forward(batches[0], training=training)[k], seen.taps[training][k],
                                       equal_nan=True)
                    for training in (False, True) for k in seen.taps[training])
        if not moved:
            out.append(name)
    model.set_params(start)
    return out


class _Judge:
    """Per-entry verdicts for one case and dtype: the written rule, or the float64 arbiter (float32)."""

    def __init__(self, paper: Paper, case: AgreementCase, dtype: str, reference, fallback: str | None):
        self.paper, self.case, self.dtype, self.ref = paper, case, dtype, reference
        self.fallback = fallback

    def tol(self, kind: str, steps: int = 0) -> tuple[float, str | None]:
        return tolerance(f"{self.case.name}/{kind}", kind, self.dtype, self.case.depth, steps,
                         self.paper.tolerance_overrides)

    def reason(self, kind: str, steps: int = 0) -> str | None:
        """Why the tolerance is not the written rule's (an override, or float32 without a float64 run)."""
        t, r = self.tol(kind, steps)
        if self.ref is not None:
            return None  # the arbiter replaces any float32 override; the rule is in Check.rule
        return r if self.fallback is None else f"{self.fallback}" + (f"; {r}" if r else "")

    def rule(self, kind: str, steps: int = 0) -> str:
        if self.ref is None:
            return "written"
        return (f"float64 arbiter: d <= {ARBITER_M:g} * max(torch, tf float32 error vs own float64 twin) "
                f"+ {self.floor(kind, steps):.2g}")

    def floor(self, kind: str, steps: int = 0) -> float:
        """The arbiter's floor: the float64 tolerance of the same check (harness/tolerance.py)."""
        return tolerance(f"{self.case.name}/{kind}", kind, "float64", self.case.depth, steps,
                         self.paper.tolerance_overrides)[0]

    def named(self, label, kind, a: Params, b: Params, ref=None, steps=0, zero_scale=0.0) -> list[ArrayDiff]:
        """`ref`: (torch64, tf64) maps of the same entries, for the float64 arbiter."""
        t, _ = self.tol(kind, steps)
        diffs = compare_named(label, a, b, lambda k: t, zero_scale=zero_scale)
        if self.ref is None or ref is None:
            return diffs
        a64, b64 = ref
        zero_band = rule("grad", "float64", self.case.depth) * zero_scale if zero_scale else 0.0
        return [compare_with_reference(d.name, a[d.name], b[d.name], a64[d.name], b64[d.name],
                                       self.floor(kind, steps), zero_band, zero_scale)
                if not d.problem and d.name in a and d.name in a64 and d.name in b64 else d for d in diffs]

    def scalar(self, name, kind, a: float, b: float, ref=None, steps=0) -> ArrayDiff:
        t, _ = self.tol(kind, steps)
        if self.ref is None or ref is None:
            return compare_arrays(name, np.float64(a), np.float64(b), t)
        return compare_with_reference(name, np.float64(a), np.float64(b), np.float64(ref[0]), np.float64(ref[1]),
                                      self.floor(kind, steps))

    def check(self, kind, diffs: list[ArrayDiff], origin: str | None, tol_kind=None, steps=0, shown=None) -> Check:
        worst = max(diffs, key=ArrayDiff.excess) if diffs else None
        shown = shown or worst
        t, _ = self.tol(tol_kind or kind, steps)
        return Check(
            name=f"{self.paper.key}/{self.case.name}/{self.dtype}/{kind}",
            kind=kind, paper=self.paper.key, case=self.case.name, dtype=self.dtype,
            tol=float(max((d.tol for d in diffs), default=t)) if self.ref is not None else t,
            passed=all(d.passed for d in diffs),
            max_abs=max((d.max_abs for d in diffs), default=0.0),
            max_rel=max((d.max_rel for d in diffs), default=0.0),
            first_divergence=origin,
            detail=shown.describe() if shown else None,
            tol_reason=self.reason(tol_kind or kind, steps) if kind != "params" else None,
            rule=self.rule(tol_kind or kind, steps) if kind != "params" else "written",
            entries=[d.to_dict() for d in diffs],
            findings=precision_findings(diffs, kind),
        )


def precision_findings(diffs: list[ArrayDiff], kind: str) -> list[str]:
    """Entries where one framework's float32 result is far less precise than the other's (FINDING_RATIO)."""
    gaps = []
    for d in diffs:
        if d.torch_err is None or not np.isfinite(d.torch_err) or not np.isfinite(d.tf_err):
            continue
        lo, hi = sorted((d.torch_err, d.tf_err))
        floor = d.tol - ARBITER_M * hi  # the arbiter's floor
        if hi > max(floor, FINDING_MIN_ERR) and hi > FINDING_RATIO * lo:
            worse = "tf" if d.tf_err > d.torch_err else "torch"
            gaps.append((hi / lo if lo > 0 else np.inf, f"{worse} float32 is {hi / lo if lo > 0 else np.inf:.3g}x "
                         f"less precise than the other framework at {kind} {d.name} "
                         f"(errors vs float64: torch {d.torch_err:.3g}, tf {d.tf_err:.3g})"))
    gaps.sort(key=lambda g: -g[0])
    shown = [g[1] for g in gaps[:MAX_FINDINGS]]
    return shown + ([f"... and {len(gaps) - MAX_FINDINGS} more such entries"] if len(gaps) > MAX_FINDINGS else [])


def _largest(*grads: Params) -> float:
    """The largest finite |gradient| of the model in either framework: the scale against which a gradient
    that is zero in exact arithmetic is judged (harness/compare.py)."""
    finite = [np.abs(v[np.isfinite(v)]).max() for g in grads for v in g.values() if np.isfinite(v).any()]
    return float(max(finite, default=0.0))


def _furthest(diffs: list[ArrayDiff], skip=("loss",)) -> ArrayDiff | None:
    failing = [d for d in diffs if not d.passed and d.name.split(" ")[-1] not in skip]
    return max(failing, key=ArrayDiff.excess) if failing else None


def _judge_case(paper, case, dtype, a: Observed, b: Observed, b_start: Params, ref, fallback: str | None
                ) -> list[Check]:
    """`ref`: the (torch, tf) float64 twins' observations for a float32 check, else None."""
    judge = _Judge(paper, case, dtype, ref, fallback)
    t, _ = judge.tol("params")
    # Both models are given the start through set_params (so that float32 and float64 twins hold the same
    # weights); each must hand it back unchanged. torch's round trip catches a to/from layout conversion
    # that is not its own inverse, which would otherwise cancel out in torch and hide from the forward.
    params = compare_named("param", b_start, b.params, lambda k, t=t: t)
    params += [_rename(d, f"{d.name} (torch round trip)")
               for d in compare_named("param", a.start, a.params, lambda k, t=t: t)]
    bad = first_failure(params)
    checks = [judge.check("params", params, bad.name if bad else None, shown=bad)]

    forward_origin = None
    for kind, training in (("forward", False), ("forward_train", True)):
        taps = judge.named("tap", "forward", a.taps[training], b.taps[training],
                           (ref[0].taps[training], ref[1].taps[training]) if ref else None)
        bad = first_failure(taps)
        forward_origin = forward_origin or (bad.name if bad else None)
        checks.append(judge.check(kind, taps, bad.name if bad else None, tol_kind="forward", shown=bad))

    diffs = [judge.scalar("loss", "grad", a.loss, b.loss, (ref[0].loss, ref[1].loss) if ref else None)]
    scale = _largest(ref[0].grads) if ref else _largest(a.grads, b.grads)
    diffs += judge.named("grad", "grad", a.grads, b.grads, (ref[0].grads, ref[1].grads) if ref else None,
                         zero_scale=scale)
    shown = next((d for d in diffs if d.name == "loss" and not d.passed), None) or _furthest(diffs)
    origin = None
    if not all(d.passed for d in diffs):
        origin = forward_origin or (shown.name if shown else None)
    checks.append(judge.check("grad", diffs, origin, shown=shown))

    if case.steps > 0:
        checks.append(_trajectory(judge, a, b, ref))
        # The weights behind these taps carry the trajectory's error, so they get the trajectory's budget.
        taps = judge.named("tap", "trajectory", a.trained_taps, b.trained_taps,
                           (ref[0].trained_taps, ref[1].trained_taps) if ref else None, steps=case.steps)
        bad = first_failure(taps)
        checks.append(judge.check("forward_trained", taps, bad.name if bad else None, tol_kind="trajectory",
                                  steps=case.steps, shown=bad))
    return checks


def _checkpoints(steps: int) -> set[int]:
    """Steps whose parameter comparisons are kept as evidence: 1, 2, 4, 8, ... and the last."""
    points, k = {steps}, 1
    while k < steps:
        points.add(k)
        k *= 2
    return points


def _trajectory(judge: _Judge, a: Observed, b: Observed, ref) -> Check:
    """After every step, the loss and every parameter, each against the trajectory tolerance for that many
    steps. The origin is the first failing step and, at it, the parameter furthest past its tolerance.
    Evidence kept: the loss at every step, the parameters at checkpoints and at the failing step."""
    steps = len(a.steps)
    kept: list[ArrayDiff] = []
    origin, shown = None, None
    for step in range(1, steps + 1):
        (loss_a, params_a), (loss_b, params_b) = a.steps[step - 1], b.steps[step - 1]
        (la, pa), (lb, pb) = (ref[0].steps[step - 1], ref[1].steps[step - 1]) if ref else ((None, None),) * 2
        loss = judge.scalar(f"step {step} loss", "trajectory", loss_a, loss_b, (la, lb) if ref else None, step)
        params = [_rename(d, f"step {step} {d.name}")
                  for d in judge.named("param", "trajectory", params_a, params_b, (pa, pb) if ref else None, step)]
        failed = not loss.passed or not all(d.passed for d in params)
        kept += [loss] + (params if failed or step in _checkpoints(steps) else [])
        if failed:
            shown = _furthest(params, skip=()) or loss
            origin = shown.name
            break  # later steps only repeat the divergence
    check = judge.check("trajectory", kept, origin, steps=steps, shown=shown)
    check.passed = origin is None
    return check


def _rename(d: ArrayDiff, name: str) -> ArrayDiff:
    d.name = name
    return d


def cases(paper: Paper, skip_slow: bool = False) -> list[AgreementCase]:
    return [c for c in paper.agreement if not (skip_slow and c.slow)]


def run_paper(paper: Paper, dtypes: tuple[str, ...], progress=None, tamper: Tamper | None = None,
              skip_slow: bool = False, repro_dir=None, on_case=None,
              sides: tuple[Side, Side] = DEFAULT_SIDES) -> list[Check]:
    """Every case in each of `dtypes` it declares. `repro_dir`: write a repro bundle there for each case
    and dtype with a failing check (harness/repro.py). `on_case(checks)`: called with each case's checks as
    it finishes (the CLI saves them then, so an interruption keeps every finished case)."""
    checks: list[Check] = []
    for case in cases(paper, skip_slow):
        done = check_case(paper, case, dtypes, tamper, repro_dir, sides)
        checks += done
        if on_case is not None and done:
            on_case(done)
        if progress:
            progress(len(dtypes))
    return checks


def check_case(paper: Paper, case: AgreementCase, dtypes: tuple[str, ...], tamper: Tamper | None = None,
               repro_dir=None, sides: tuple[Side, Side] = DEFAULT_SIDES) -> list[Check]:
    """One case's checks in each of `dtypes` it declares (none when it declares none of them), with a repro
    bundle under `repro_dir` for each dtype with a failing check."""
    wanted = tuple(d for d in dtypes if d in case.dtypes)
    if not wanted:
        return []
    start, batches = case_inputs(case, paper)
    per_dtype = run_dtypes(paper, case, wanted, tamper, start, batches, sides)
    if repro_dir is not None:
        from . import repro

        for dtype in wanted:
            if not all(c.passed for c in per_dtype[dtype]):
                repro.write_bundle(repro_dir, paper, case, dtype, per_dtype[dtype], start, batches)
    return [c for dtype in wanted for c in per_dtype[dtype]]


def check_case_in_worker(paper_key: str, case_index: int, dtypes: tuple[str, ...], skip_slow: bool,
                         repro_dir, sides: tuple[Side, Side], frameworks: tuple[str, ...], device: str):
    """`check_case` in a worker process (`agree --jobs`): the worker finds the paper by its key and the case
    by its place in `cases`, and returns its checks with the numerics environment they ran under."""
    from . import numerics

    paper = registry.get(paper_key)
    checks = check_case(paper, cases(paper, skip_slow)[case_index], dtypes, None, repro_dir, sides)
    return checks, numerics.environment(frameworks, device)


def sides_for(paper: Paper, mode: str | None = None, mode_torch: str | None = None, mode_tf: str | None = None,
              device: str = "cpu", against: str | None = None) -> list[tuple[Side, Side]]:
    """The side pairs `agree` runs for these flags (each mode checked against the paper's own, else a
    ConfigError naming the supported ones):
    - `mode`: a mode name belongs to the framework that has it (`eager`: both); `mode_torch`/`mode_tf` name one;
    - no `against`: torch against tf, each in its mode, both on `device`;
    - `against` a device (`cpu`) or a mode (`eager`): each framework whose mode was named (else both) against
      itself on that device or in that mode."""
    from . import execution

    modes = {"torch": mode_torch, "tf": mode_tf}
    if mode is not None:
        owners = execution.framework_of_mode(mode)
        if not owners:
            known = sorted({m for ms in execution.MODES.values() for m in ms})
            raise ConfigError(f"unknown execution mode {mode!r}; known: {', '.join(known)}")
        for fw in owners:
            if modes[fw] is not None and modes[fw] != mode:
                raise ConfigError(f"--mode {mode} and --mode-{fw} {modes[fw]} disagree; give one")
            modes[fw] = mode
    for fw, m in modes.items():
        if m is not None:
            execution.check_mode(paper.key, fw, m, execution.modes_for(paper, fw))
    if against is None:
        return [(Side("torch", modes["torch"], device), Side("tf", modes["tf"], device))]
    named = [fw for fw, m in modes.items() if m is not None] or list(modes)
    pairs = []
    for fw in named:
        if against in execution.MODES[fw] or execution.framework_of_mode(against):
            b_mode = execution.check_mode(paper.key, fw, against, execution.modes_for(paper, fw))
            pairs.append((Side(fw, modes[fw], device), Side(fw, b_mode, device)))
        else:
            pairs.append((Side(fw, modes[fw], device), Side(fw, modes[fw], execution.resolve_device(against))))
    return pairs
