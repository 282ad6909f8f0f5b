"""Noise-aware performance regressions: benchmark records against a bench baseline.

A case counts as slower only when ALL hold:
  - its median throughput fell by more than SLOWDOWN_THRESHOLD (7%, TorchBench's flag level);
  - the runs' spreads do not overlap: the current run's best repeat is below the baseline's worst;
  - where the case has a plain loop (timed in the same process, its repeats in turn with the harness's), the
    harness's time relative to it grew by more than the threshold too. A machine that is slower today slows
    both alike; a slower harness step does not.
A drop beyond 7% whose repeats overlap the baseline's is noise, a warning. So is a drop the plain loop shared
(overhead unchanged): the machine, the framework, or the network code both use; the warning says which figures
moved, and a rerun tells them apart. A drop inside 7% is never reported. Timings depend on the machine, so
records made on another machine kind are not comparable (the verdict says which kinds), never compared.

A bench baseline may hold several quiet runs (every record of a case is kept, not only the newest): the
baseline's band for a case is then its lowest and highest repeat over all of them, its median the median of
their medians, and its overhead the largest. Why (README, *Benchmarks*): on the development VM two back-to-back
quiet runs of the same code differ by up to 13% per case, runs an hour apart by up to 20%, while the
harness-over-plain ratio moved by at most 7%.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import median
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
    overhead: float | None = None  # the harness's time per item over its plain loop's (None: no plain loop)

    @classmethod
    def of(cls, record: Record) -> Timing:
        d = record.get("details") or {}
        plain = d.get("plain_items_per_second")
        value = float(record["value"])
        return cls(value, float(d.get("min", value)), float(d.get("max", value)),
                   float(plain) / value if plain and value > 0 else None)

    @classmethod
    def of_runs(cls, records: list[Record]) -> Timing:
        """One case over several runs: the median of their medians, the lowest and the highest repeat, and the
        largest overhead (None unless every run has one)."""
        timings = [cls.of(r) for r in records]
        overheads = [t.overhead for t in timings]
        return cls(float(median(t.median for t in timings)), min(t.low for t in timings), max(t.high for t in timings),
                   None if None in overheads else max(overheads))


def judge(base: Timing, cur: Timing, threshold: float = SLOWDOWN_THRESHOLD) -> str:
    """'slower', 'noisy-slower' (beyond the threshold but inside the spread), 'slower-with-plain' (the plain loop
    slowed alike), 'faster' (the mirror rule; a speed-up the plain loop shared is 'same') or 'same'. Throughputs:
    higher is better."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a fraction in (0, 1), got {threshold!r}")
    plain = base.overhead is not None and cur.overhead is not None  # both runs timed the plain loop
    if cur.median < base.median * (1 - threshold):
        if cur.high >= base.low:
            return "noisy-slower"
        return "slower-with-plain" if plain and cur.overhead <= base.overhead * (1 + threshold) else "slower"
    if cur.median > base.median * (1 + threshold) and cur.low > base.high:
        # a faster machine is not a faster harness
        return "same" if plain and cur.overhead >= base.overhead * (1 - threshold) else "faster"
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
    base: dict = {}
    for r in baseline:  # every run of a case (module docstring)
        if r.get("kind") == "benchmark":
            base.setdefault(key(r), []).append(r)
    compared = 0
    for k, c in cur.items():
        runs = base.get(k)
        if not runs:
            verdict.new.append(Change(k, "new benchmark case", None, c))
            continue
        same_kind = [b for b in runs if _kind(b) == _kind(c)]
        b = same_kind[-1] if same_kind else runs[-1]
        if not same_kind:
            verdict.incomparable.append(Change(
                k, f"not comparable: timed on another machine kind (baseline: {_kind(b) or 'unrecorded'}; "
                   f"now: {_kind(c) or 'unrecorded'})", b, c))
            continue
        compared += 1
        tb, tc = Timing.of_runs(same_kind), Timing.of(c)
        change = tc.median / tb.median - 1
        runs_text = f"{len(same_kind)} runs " if len(same_kind) > 1 else ""
        what = (f"median {change:+.1%} (baseline {runs_text}{tb.low:,.1f}-{tb.high:,.1f}, now "
                f"{tc.low:,.1f}-{tc.high:,.1f}; threshold {threshold:.0%})")
        outcome = judge(tb, tc, threshold)
        if outcome == "slower":
            verdict.regressions.append(Change(k, f"slower: {what}", b, c))
        elif outcome == "noisy-slower":
            verdict.warnings.append(Change(k, f"slower but within both runs' spread: {what}", b, c))
        elif outcome == "slower-with-plain":
            verdict.warnings.append(Change(
                k, f"slower, and its plain loop alike (harness over plain {tb.overhead - 1:+.0%} in the baseline, "
                   f"{tc.overhead - 1:+.0%} now): the machine, the framework or the network code both use, not "
                   f"the harness; rerun to tell: {what}", b, c))
        elif outcome == "faster":
            verdict.improvements.append(Change(k, f"faster: {what}", b, c))
    verdict.compared += compared
    if compared:
        verdict.notes.append(f"{compared} benchmark cases compared (slower = median down > {threshold:.0%}, the "
                             f"spreads do not overlap, and the overhead over the plain loop up > {threshold:.0%})")
