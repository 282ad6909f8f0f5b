"""Noise-aware performance regressions: benchmark records against a bench baseline.

A case counts as slower only when ALL hold:
  - its median throughput fell by more than SLOWDOWN_THRESHOLD (7%, TorchBench's flag level);
  - the runs' spreads do not overlap: the current run's best repeat is below the baseline's worst;
  - where the case has a plain loop (timed in the same process, its repeats in turn with the harness's), the
    harness's time relative to it grew by more than the threshold too, and beyond the repeats' spread: the
    ratio's range over the current run's repeats lies above its range in the baseline. A machine that is slower
    today slows both alike; a slower harness step does not.
A drop beyond 7% whose repeats overlap the baseline's is noise, a warning. So is a drop the plain loop shared
(overhead unchanged, or changed inside its spread): the machine, the framework, or the network code both use;
the warning says which figures moved, and a rerun tells them apart. A drop inside 7% is never reported.
Timings depend on the machine, so records made on another machine kind are not comparable (the verdict says
which kinds), never compared.

A bench baseline may hold several quiet runs (every record of a case is kept, not only the newest): the
baseline's band for a case is then its lowest and highest repeat over all of them, its median the median of
their medians, its overhead the largest and its overhead range the widest. Why (README, *Benchmarks*): on the
development VM two back-to-back quiet runs of the same code differ by up to 20% per case (their plain loops
alike), while the harness-over-plain ratio moved by a median 1.4%, and where it moved beyond 7% (at most 9.6%) it
stayed inside its repeats' spread.
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
    # the overhead's range over the repeats: the plain loop's slowest over the harness's fastest repeat, to its
    # fastest over the harness's slowest (None: the overhead alone)
    overhead_range: tuple[float, float] | None = None

    @property
    def overhead_low(self) -> float:
        return self.overhead_range[0] if self.overhead_range else self.overhead

    @property
    def overhead_high(self) -> float:
        return self.overhead_range[1] if self.overhead_range else self.overhead

    @classmethod
    def of(cls, record: Record) -> Timing:
        d = record.get("details") or {}
        plain, plain_spread = d.get("plain_items_per_second"), d.get("plain_spread")
        value = float(record["value"])
        low, high = float(d.get("min", value)), float(d.get("max", value))
        overhead = float(plain) / value if plain and value > 0 else None
        band = (float(plain_spread[0]) / high, float(plain_spread[1]) / low) if overhead and plain_spread and low > 0 \
            else None
        return cls(value, low, high, overhead, band)

    @classmethod
    def of_runs(cls, records: list[Record]) -> Timing:
        """One case over several runs: the median of their medians, the lowest and the highest repeat, the
        largest overhead and the widest overhead range (None unless every run has one)."""
        timings = [cls.of(r) for r in records]
        band = float(median(t.median for t in timings)), min(t.low for t in timings), max(t.high for t in timings)
        overheads = [t.overhead for t in timings]
        if None in overheads:
            return cls(*band)
        ranged = any(t.overhead_range for t in timings)
        return cls(*band, max(overheads),
                   (min(t.overhead_low for t in timings), max(t.overhead_high for t in timings)) if ranged else None)


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
        if not plain:
            return "slower"
        harness_lost = cur.overhead > base.overhead * (1 + threshold) and cur.overhead_low > base.overhead_high
        return "slower" if harness_lost else "slower-with-plain"
    if cur.median > base.median * (1 + threshold) and cur.low > base.high:
        # a faster machine is not a faster harness
        if not plain:
            return "faster"
        harness_gained = cur.overhead < base.overhead * (1 - threshold) and cur.overhead_high < base.overhead_low
        return "faster" if harness_gained else "same"
    return "same"


def _overhead(t: Timing) -> str:
    """'+10%', or '+10% (+4%..+16%)' with the range over the repeats."""
    text = f"{t.overhead - 1:+.0%}"
    return f"{text} ({t.overhead_low - 1:+.0%}..{t.overhead_high - 1:+.0%})" if t.overhead_range else text


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
                k, f"slower, and its plain loop alike (harness over plain {_overhead(tb)} in the baseline, "
                   f"{_overhead(tc)} now): the machine, the framework or the network code both use, not "
                   f"the harness; rerun to tell: {what}", b, c))
        elif outcome == "faster":
            verdict.improvements.append(Change(k, f"faster: {what}", b, c))
    verdict.compared += compared
    if compared:
        verdict.notes.append(f"{compared} benchmark cases compared (slower = median down > {threshold:.0%}, the "
                             f"spreads do not overlap, and the overhead over the plain loop up > {threshold:.0%})")
