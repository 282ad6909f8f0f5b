"""Regression verdict of current records against a committed baseline, for CI.

The newest record per check (kind, paper, framework, check, profile, dtype) is compared with the
baseline's. Only records with the same profile and dtype are compared: a tiny-profile run says nothing
about a reduced-profile baseline. A verdict over zero comparable checks is a failure, not a pass.

Regressions (exit code 1):
  - an agreement check that passed in the baseline and fails now;
  - a claim whose verdict flips from reproduced to not reproduced;
  - a claim value that leaves its band (expected lo/hi) when the baseline's was inside it;
  - a check of the baseline missing now (a warning instead with allow_missing).
Warnings: an agreement error (max_rel) more than 100x the baseline's while still under its tolerance, a
loosened tolerance or moved band, a claim turned report-only, frameworks turned statistically
inconsistent (a consistency test at p < 0.01 can flip by chance, so it warns rather than fails).
Improvements (fail -> pass) and new checks are listed; they never fail the verdict.
Benchmarks are not compared: timings depend on the machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tabulate import tabulate

from .results import KEY_FIELDS, key, latest
from .tables import fmt_num, fmt_sci

GROWTH_WARNING = 100.0  # warn when an agreement error grows by more than this factor

Record = Mapping[str, Any]


@dataclass
class Change:
    """One check that differs from the baseline, and why it matters."""

    key: tuple | None  # None: a verdict about the comparison as a whole (nothing comparable)
    reason: str
    before: Record | None = None
    after: Record | None = None

    @property
    def label(self) -> str:
        if self.key is None:
            return "(all)"
        k = dict(zip(KEY_FIELDS, self.key, strict=True))
        return f"{k['kind']} {k['paper']}/{k['check']}"

    def row(self) -> list[str]:
        k = dict(zip(KEY_FIELDS, self.key, strict=True)) if self.key else {}
        return [self.label, k.get("framework") or "", k.get("profile") or "-", k.get("dtype") or "-",
                _state(self.before), _state(self.after), self.reason]


def _state(r: Record | None) -> str:
    if r is None:
        return "(missing)"
    value = r.get("value")
    shown = fmt_sci(value) if r.get("kind") in ("agreement", "consistency") else fmt_num(value)
    verdict = {True: "pass", False: "FAIL", None: "report"}[r.get("passed")]
    return f"{verdict} {shown}"


@dataclass
class Verdict:
    regressions: list[Change] = field(default_factory=list)
    warnings: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    compared: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions else 0

    def render(self, list_all: bool = False, shown: int = 25) -> str:
        """Regressions and warnings are always listed in full; improvements and new checks up to `shown`
        rows each unless `list_all` (a first run against an old baseline can add hundreds)."""
        headers = ["check", "framework", "profile", "dtype", "baseline", "now", "why"]
        out = [f"compared {self.compared} checks with the baseline (same profile and dtype): "
               f"{len(self.regressions)} regressions, {len(self.warnings)} warnings, "
               f"{len(self.improvements)} improvements, {len(self.new)} new"]
        out += [f"note: {n}" for n in self.notes]
        out += [f"FAIL: {c.reason}" for c in self.regressions if c.key is None]
        for title, changes in (("REGRESSIONS", self.regressions), ("WARNINGS", self.warnings),
                               ("IMPROVEMENTS", self.improvements), ("NEW (not in the baseline)", self.new)):
            changes = [c for c in changes if c.key is not None]
            if changes:
                cut = not list_all and title in ("IMPROVEMENTS", "NEW (not in the baseline)") and len(changes) > shown
                rows = changes[:shown] if cut else changes
                out += ["", f"{title} ({len(changes)})",
                        tabulate([c.row() for c in rows], headers=headers, disable_numparse=True,
                                 maxcolwidths=[None] * 6 + [70])]
                if cut:
                    out.append(f"... and {len(changes) - shown} more (--list-all lists every one)")
        out += ["", f"FAIL: {len(self.regressions)} regression(s)" if self.regressions
                else "PASS: no regressions"]
        return "\n".join(out)


# --- rules ------------------------------------------------------------------------------------------------


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _band(r: Record) -> tuple[float, float] | None:
    """The record's band [lo, hi], or None when it has no finite bound (an ordering, a report-only claim)."""
    expected = r.get("expected") or {}
    lo, hi = _number(expected.get("lo")), _number(expected.get("hi"))
    lo = -math.inf if lo is None or math.isnan(lo) else lo
    hi = math.inf if hi is None or math.isnan(hi) else hi
    return None if math.isinf(lo) and math.isinf(hi) else (lo, hi)


def _show_band(band: tuple[float, float] | None) -> str:
    return "none" if band is None else f"[{fmt_num(band[0])}, {fmt_num(band[1])}]"


def _inside(r: Record) -> bool | None:
    band = _band(r)
    if band is None:
        return None
    v = _number(r.get("value"))
    return v is not None and not math.isnan(v) and band[0] <= v <= band[1]


def _eps(dtype: str | None) -> float:
    return float(np.finfo(np.float32 if dtype == "float32" else np.float64).eps)


def _agreement(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    bp, cp = b.get("passed"), c.get("passed")
    tol_b, tol_c = _number(b["expected"].get("tol")), _number(c["expected"].get("tol"))
    if bp is True and cp is False:
        regress.append(f"agreement now fails: max_rel {fmt_sci(c.get('value'))} > tol {fmt_sci(tol_c)}"
                       + (f" (first divergence: {c['details']['first_divergence']})"
                          if (c.get("details") or {}).get("first_divergence") else ""))
    elif bp is False and cp is True:
        improve.append("agreement now passes")
    elif bp is True and cp is True:
        before, now = _number(b.get("value")), _number(c.get("value"))
        if before is not None and now is not None:
            floor = max(before, _eps(c.get("dtype")))  # from 0 to one rounding error is no growth
            if now > GROWTH_WARNING * floor:
                warn.append(f"max_rel grew {now / floor:.3g}x ({fmt_sci(before)} -> {fmt_sci(now)}), "
                            f"still under tol {fmt_sci(tol_c)}")
    if tol_b is not None and tol_c is not None and tol_c > tol_b:
        warn.append(f"tolerance loosened from {fmt_sci(tol_b)} to {fmt_sci(tol_c)}"
                    + (f" ({c['expected']['tol_reason']})" if c["expected"].get("tol_reason") else ""))


def _claim(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    bp, cp = b.get("passed"), c.get("passed")
    if bp is True and cp is False:
        regress.append(f"claim no longer reproduced ({c['expected'].get('rule', '')})")
    elif bp is False and cp is True:
        improve.append("claim now reproduced")
    elif bp is not None and cp is None:
        warn.append("claim became report-only")
    if _inside(b) is True and _inside(c) is False:
        lo, hi = _band(c)
        regress.append(f"value {fmt_num(c.get('value'))} left its band [{fmt_num(lo)}, {fmt_num(hi)}] "
                       f"(baseline {fmt_num(b.get('value'))} was inside)")
    if _band(b) != _band(c):
        warn.append(f"acceptance band changed from {_show_band(_band(b))} to {_show_band(_band(c))}")


def _consistency(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    bp, cp = b.get("passed"), c.get("passed")
    if bp is True and cp is False:
        warn.append(f"torch and tf became statistically inconsistent (p={fmt_sci(c.get('value'))})")
    elif bp is False and cp is True:
        improve.append("torch and tf now consistent")


_RULES = {"agreement": _agreement, "claim": _claim, "consistency": _consistency}


def _coverage(records: Iterable[Record]) -> str:
    records = list(records)
    profiles = sorted({str(r.get("profile") or "none") for r in records})
    dtypes = sorted({str(r.get("dtype") or "none") for r in records})
    return (f"{len(records)} checks (profiles: {', '.join(profiles) or '-'}; "
            f"dtypes: {', '.join(dtypes) or '-'})")


def _elsewhere(k: tuple, current: Mapping[tuple, Record]) -> str:
    """Where the current records have this check under another profile or dtype, in words."""
    kind, paper, framework, check, profile, dtype = k
    others = [(p, d) for (ki, pa, fw, ch, p, d) in current
              if (ki, pa, fw, ch) == (kind, paper, framework, check) and (p, d) != (profile, dtype)]
    if not others:
        return ""
    where = ", ".join(f"profile {p}, dtype {d}" for p, d in others)
    return f" (present now under {where}: not comparable with profile {profile}, dtype {dtype})"


def compare(current_records: Iterable[Record], baseline_records: Iterable[Record],
            allow_missing: bool = False) -> Verdict:
    """Regression verdict of the newest current record per check against the newest baseline record."""
    verdict = Verdict()
    cur_all, base_all = latest(current_records), latest(baseline_records)
    benchmarks = sum(r.get("kind") == "benchmark" for r in cur_all)
    if benchmarks:
        verdict.notes.append(f"{benchmarks} benchmark records not compared (timings depend on the machine)")
    cur = {key(r): r for r in cur_all if r.get("kind") != "benchmark"}
    base = {key(r): r for r in base_all if r.get("kind") != "benchmark"}
    common = [k for k in base if k in cur]
    verdict.compared = len(common)
    verdict.new = [Change(k, "new check", None, r) for k, r in cur.items() if k not in base]
    if not common:
        verdict.regressions.append(Change(None, (
            f"nothing comparable: the baseline has {_coverage(base.values())}, the current records have "
            f"{_coverage(cur.values())}; only the same check with the same profile and dtype is compared "
            f"(a tiny run is not compared with a reduced baseline), and a verdict over zero checks "
            f"means nothing"
        )))
        return verdict
    for k, b in base.items():
        c = cur.get(k)
        if c is None:
            change = Change(k, "missing from the current records" + _elsewhere(k, cur), b, None)
            (verdict.warnings if allow_missing else verdict.regressions).append(change)
            continue
        regress: list[str] = []
        warn: list[str] = []
        improve: list[str] = []
        rule = _RULES.get(str(b.get("kind")))
        if rule is not None:
            rule(b, c, regress, warn, improve)
        if regress:
            verdict.regressions.append(Change(k, "; ".join(regress), b, c))
        if warn:
            verdict.warnings.append(Change(k, "; ".join(warn), b, c))
        if improve:
            verdict.improvements.append(Change(k, "; ".join(improve), b, c))
    return verdict
