"""Element-wise comparison of two arrays, and of ordered tap lists, with a located verdict.

The error of element i is |a_i - b_i| / (|b_i| + rms(b)): relative for large elements, and floored by
the tensor's RMS so that elements near zero cannot blow it up while tensors of tiny scale (gradients
of 1e-6) are still judged relative to their own scale (an absolute 1e-5 would pass anything there).
A check passes when the largest such error is <= tol. Shapes, dtypes and the NaN/inf masks must match
exactly before any value is compared; a NaN is never zeroed out.

Gradients that are zero in exact arithmetic (a bias followed by a normalisation that removes it, an
attention key bias under softmax's shift invariance) come out as rounding noise in both frameworks, and
noise judged against its own RMS is O(1) apart. `zero_scale` (the model's largest gradient, in the grad
check) handles them: a tensor whose values in BOTH frameworks lie within tol * zero_scale of zero is
judged against zero_scale instead of its own RMS, and says so. A one-sided zero (a gradient one framework
drops) is still judged on the other side's own scale and fails.

Float32 entries are judged by `compare_with_reference` against float64 twins (the rule is in
harness/tolerance.py): every error -- each framework against its own float64 twin, the two float32
results against each other, the two float64 results -- is normalised by torch's float64 scale, so
that they obey the triangle inequality the rule rests on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ArrayDiff:
    name: str
    passed: bool
    max_abs: float
    max_rel: float  # the normalised error above; compared with tol
    tol: float
    where: tuple[int, ...] | None  # index of the worst element
    a_value: float | None  # the worst element in A (torch) and B (tf)
    b_value: float | None
    problem: str | None = None  # a structural mismatch (shape, dtype, NaN mask, missing key)
    note: str | None = None  # how the error was normalised when not by the tensor's own scale
    torch_err: float | None = None  # float32 only: each framework's error against the float64 reference
    tf_err: float | None = None
    f64_err: float | None = None  # float32 only: the float64 twins' disagreement on the same inputs
    rule: str = "written"  # "written" (harness/tolerance.py's fixed rule) | "float64 arbiter"

    def describe(self) -> str:
        if self.problem:
            return f"{self.name}: {self.problem}"
        return (
            f"{self.name}: max_abs={self.max_abs:.3g} max_rel={self.max_rel:.3g} tol={self.tol:.3g} "
            f"at {self.where} (torch {self.a_value!r} vs tf {self.b_value!r})"
            + (f"; float32 error vs own float64: torch {self.torch_err:.3g}, tf {self.tf_err:.3g}; "
               f"float64 twins {self.f64_err:.3g}"
               if self.torch_err is not None else "")
            + (f" [{self.note}]" if self.note else "")
        )

    def excess(self) -> float:
        """How far past its tolerance the entry is (error / tol): ranks entries to name an origin."""
        if self.problem or not np.isfinite(self.max_rel):
            return np.inf
        return self.max_rel / self.tol if self.tol > 0 else (np.inf if self.max_rel > 0 else 0.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["where"] = list(self.where) if self.where is not None else None
        return d


def _structural(name: str, a: np.ndarray, b: np.ndarray, tol: float, problem: str) -> ArrayDiff:
    return ArrayDiff(name, False, np.inf, np.inf, tol, None, None, None, problem)


def compare_arrays(name: str, a, b, tol: float, check_dtype: bool = True, zero_scale: float = 0.0,
                   scale_ref=None, fixed_scale: float = 0.0) -> ArrayDiff:
    """`scale_ref`: normalise by this array's scale instead of b's; `fixed_scale` > 0: by this number."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return _structural(name, a, b, tol, f"shape {a.shape} (torch) != {b.shape} (tf)")
    if check_dtype and a.dtype != b.dtype:
        return _structural(name, a, b, tol, f"dtype {a.dtype} (torch) != {b.dtype} (tf)")
    if a.size == 0:
        return ArrayDiff(name, True, 0.0, 0.0, tol, None, None, None)
    a64 = a.astype(np.float64)
    b64 = b.astype(np.float64)
    for label, mask in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        ma, mb = mask(a64), mask(b64)
        if not np.array_equal(ma, mb):
            idx = tuple(int(i) for i in np.argwhere(ma != mb)[0])
            return ArrayDiff(
                name, False, np.inf, np.inf, tol, idx, float(a64[idx]), float(b64[idx]),
                f"{label} masks differ: {int(ma.sum())} in torch, {int(mb.sum())} in tf, first at {idx}",
            )
    finite = np.isfinite(a64) & np.isfinite(b64)
    diff = np.where(finite, np.abs(a64 - b64), 0.0)
    fb = np.where(finite, b64, 0.0)
    if scale_ref is not None:
        ref = np.asarray(scale_ref, dtype=np.float64)
        fb = np.where(finite & np.isfinite(ref), ref, 0.0)
    rms = float(np.sqrt(np.mean(fb**2))) if finite.any() else 0.0
    scale = np.abs(fb) + rms
    note = None
    zero_band = tol * zero_scale
    if fixed_scale > 0:
        scale = np.full(fb.shape, fixed_scale)
    elif zero_band > 0 and max(np.abs(np.where(finite, a64, 0.0)).max(), np.abs(fb).max()) <= zero_band:
        scale = np.full(fb.shape, zero_scale)
        note = (f"zero to within tol in both frameworks: judged against the model's largest gradient "
                f"{zero_scale:.3g}, not its own rms {rms:.3g}")
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
    flat = int(np.argmax(rel))
    where = tuple(int(i) for i in np.unravel_index(flat, rel.shape))
    max_rel = float(rel[where])
    return ArrayDiff(
        name=name,
        passed=bool(max_rel <= tol),
        max_abs=float(diff.max()),
        max_rel=max_rel,
        tol=tol,
        where=where,
        a_value=float(a64[where]),
        b_value=float(b64[where]),
        note=note,
    )


def compare_with_reference(name: str, a, b, a64, b64, floor: float, zero_band: float = 0.0,
                           zero_scale: float = 0.0) -> ArrayDiff:
    """Judge float32 twins a (torch) and b (tf) by the float64 arbiter (harness/tolerance.py): a64 and
    b64 are each framework's float64 result from the same inputs. The entry's max_rel is the float32
    disagreement, its tol the budget, torch_err/tf_err each framework's float32 error against its own
    float64 twin, f64_err the float64 twins' disagreement -- all normalised by a64's scale. When every
    |a64| <= zero_band (a gradient zero in exact arithmetic, to float64 precision) the scale is
    `zero_scale` (the model's largest gradient) instead."""
    from .tolerance import arbiter_budget

    a64 = np.asarray(a64, dtype=np.float64)
    if a64.shape != np.shape(a) or np.shape(b64) != np.shape(b):
        d = compare_arrays(name, a, b, 0.0)
        return d if d.problem else _structural(name, a, b, 0.0, f"shape {np.shape(a)} != float64 twin {a64.shape}")
    fixed = zero_scale if zero_band > 0 and a64.size and np.nanmax(np.abs(a64)) <= zero_band else 0.0
    d = compare_arrays(name, a, b, 0.0, scale_ref=a64, fixed_scale=fixed)
    if d.problem:
        return d
    errs = [compare_arrays(name, x, x64, np.inf, check_dtype=False, scale_ref=a64, fixed_scale=fixed)
            for x, x64 in ((a, a64), (b, b64), (a64, b64))]
    d.torch_err, d.tf_err, d.f64_err = (float(e.max_rel) for e in errs)
    d.rule = "float64 arbiter"
    d.tol = arbiter_budget(d.torch_err, d.tf_err, floor)
    if not np.isfinite(d.tol):  # float32 over/underflows where float64 does not: no precision figure
        d.tol = floor
        d.note = "NaN/inf in float32 where float64 is finite: judged on the floor"
    elif fixed:
        d.note = f"zero in float64: judged against the model's largest gradient {zero_scale:.3g}"
    d.passed = bool(d.max_rel <= d.tol)
    return d


def compare_named(
    kind: str,
    a: Mapping[str, np.ndarray],
    b: Mapping[str, np.ndarray],
    tol_for,
    check_dtype: bool = True,
    zero_scale: float = 0.0,
) -> list[ArrayDiff]:
    """Compare two name -> array maps in A's order. Keys must match exactly (and in order for taps).

    `tol_for(name)` gives each entry's tolerance. Missing keys become structural failures.
    """
    diffs = []
    a_keys, b_keys = list(a), list(b)
    for key in a_keys:
        if key not in b:
            diffs.append(_structural(key, a[key], a[key], tol_for(key), f"{kind} {key!r} missing in tf"))
            continue
        diffs.append(compare_arrays(key, a[key], b[key], tol_for(key), check_dtype, zero_scale))
    for key in b_keys:
        if key not in a:
            diffs.append(_structural(key, b[key], b[key], tol_for(key), f"{kind} {key!r} missing in torch"))
    if kind == "tap" and [k for k in a_keys if k in b] != [k for k in b_keys if k in a]:
        diffs.insert(0, _structural("<order>", np.zeros(0), np.zeros(0), 0.0,
                                    f"taps in different order: torch {a_keys} vs tf {b_keys}"))
    return diffs


def first_failure(diffs: list[ArrayDiff]) -> ArrayDiff | None:
    return next((d for d in diffs if not d.passed), None)
