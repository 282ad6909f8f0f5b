"""Noise-aware performance regressions: benchmark records against a bench baseline.

A case counts as slower only when BOTH hold (the rule TorchBench uses, with the spread added because
this harness runs on shared machines):
  - its median throughput fell by more than SLOWDOWN_THRESHOLD (7%, TorchBench's flag level), and
  - the two runs' spreads do not overlap: the current run's best repeat is below the baseline's worst.
A drop beyond 7% whose repeats overlap the baseline's is noise and is only a warning; a drop inside 7% is
never reported. Timings depend on the machine, so records made on another machine kind are not
comparable (the verdict says which kinds), never silently compared.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .numerics import cpu_model

SLOWDOWN_THRESHOLD = 0.07

Record = Mapping[str, Any]


def machine_kind(device: str = "cpu") -> str:
    """What a timing depends on beyond the code: processor model, core count, threads and device."""
    return f"{cpu_model()} x{os.cpu_count()} / {device}"


@dataclass(frozen=True)
class Timing:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, record: Record) -> Timing:
        d = record.get("details") or {}
        return cls(float(record["value"]), float(d.get("min", record["value"])), float(d.get("max", record["value"])))


def judge(base: Timing, cur: Timing, threshold: float = SLOWDOWN_THRESHOLD) -> str:
    """'slower', 'noisy-slower' (beyond the threshold but inside the spread), 'faster' (the mirror rule) or
    'same'. Throughputs: higher is better."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a fraction in (0, 1), got {threshold!r}")
    if cur.median < base.median * (1 - threshold):
        return "slower" if cur.high < base.low else "noisy-slower"
    if cur.median > base.median * (1 + threshold) and cur.low > base.high:
        return "faster"
    return "same"


def _kind(r: Record) -> str | None:
    return (r.get("details") or {}).get("machine_kind")


def compare_benchmarks(current: Iterable[Record], baseline: Iterable[Record], verdict,
                       threshold: float = SLOWDOWN_THRESHOLD) -> None:
    """Add benchmark changes to a `baseline.Verdict`: regressions (slower by the rule above), warnings
    (noisy slowdowns), improvements, new cases and cases not comparable (another machine kind)."""
    from .baseline import Change
    from .results import key

    cur = {key(r): r for r in current if r.get("kind") == "benchmark"}
    base = {key(r): r for r in baseline if r.get("kind") == "benchmark"}
    compared = 0
    for k, c in cur.items():
        b = base.get(k)
        if b is None:
            verdict.new.append(Change(k, "new benchmark case", None, c))
            continue
        if _kind(b) != _kind(c):
            verdict.incomparable.append(Change(
                k, f"not comparable: timed on another machine kind (baseline: {_kind(b) or 'unrecorded'}; "
                   f"now: {_kind(c) or 'unrecorded'})", b, c))
            continue
        compared += 1
        tb, tc = Timing.of(b), Timing.of(c)
        change = tc.median / tb.median - 1
        what = (f"median {change:+.1%} (baseline {tb.low:,.1f}-{tb.high:,.1f}, now {tc.low:,.1f}-{tc.high:,.1f}; "
                f"threshold {threshold:.0%})")
        outcome = judge(tb, tc, threshold)
        if outcome == "slower":
            verdict.regressions.append(Change(k, f"slower: {what}", b, c))
        elif outcome == "noisy-slower":
            verdict.warnings.append(Change(k, f"slower but within both runs' spread: {what}", b, c))
        elif outcome == "faster":
            verdict.improvements.append(Change(k, f"faster: {what}", b, c))
    verdict.compared += compared
    if compared:
        verdict.notes.append(f"{compared} benchmark cases compared (slower = median down > {threshold:.0%} and "
                             f"the spreads do not overlap)")
