"""Throughput benchmarks: the same work timed in both frameworks (figures printed, never asserted).

Each case is warmed up (graph tracing, allocator) and then timed over repeats of at least
`min_seconds`; the median items/second is reported with the spread, so one noisy repeat on a shared
2-core machine does not decide the figure.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import registry, results
from .spec import BenchmarkCase, Paper


@dataclass
class BenchResult:
    paper: str
    case: str
    framework: str
    method: str
    unit: str
    items_per_second: float
    spread: tuple[float, float]  # min and max over repeats
    repeats: int
    calls: int

    def to_record(self, numerics: dict) -> dict:
        """The figure as one results record (kind "benchmark", never passed or failed)."""
        return results.make_record(
            kind="benchmark", paper=self.paper, framework=self.framework, check=f"{self.case}/{self.method}",
            metric=f"{self.unit}_per_second", value=self.items_per_second, expected={}, passed=None,
            config={"case": self.case}, seed=0, dataset="generated", profile=None, dtype=None, numerics=numerics,
            details={"min": self.spread[0], "max": self.spread[1], "repeats": self.repeats, "calls": self.calls},
        )


def time_case(paper: Paper, case: BenchmarkCase, framework: str, repeats: int = 3,
              min_seconds: float = 1.0, warmup: int = 2) -> BenchResult:
    check_min_seconds(min_seconds)
    model = registry.model_class(paper, framework)(case.config, seed=0, dtype=case.dtype)
    batch = case.make_batch(np.random.default_rng(0), case.dtype)
    method = getattr(model, case.method)
    for _ in range(warmup):
        method(batch)
    rates, calls = [], 0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            method(batch)
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        rates.append(n * case.items / elapsed)
        calls += n
    return BenchResult(paper.key, case.name, framework, case.method, case.unit, float(np.median(rates)),
                       (float(min(rates)), float(max(rates))), repeats, calls)


def check_min_seconds(min_seconds: float) -> float:
    """A repeat must last a positive, finite time: NaN never ends the timing loop (every comparison with it
    is false), and zero or a negative value makes each figure come from a single call."""
    if not (isinstance(min_seconds, int | float) and math.isfinite(min_seconds) and min_seconds > 0):
        raise ValueError(f"min_seconds must be a positive finite number of seconds, got {min_seconds!r}")
    return float(min_seconds)


def run_paper(paper: Paper, frameworks, repeats: int = 3, min_seconds: float = 1.0,
              on_result: Callable[[BenchResult], None] | None = None) -> list[BenchResult]:
    """Every benchmark case in every framework; `on_result` is called as each finishes (to save it at once)."""
    check_min_seconds(min_seconds)
    out = []
    for case in paper.benchmarks:
        for fw in frameworks:
            out.append(time_case(paper, case, fw, repeats, min_seconds))
            if on_result:
                on_result(out[-1])
    return out
