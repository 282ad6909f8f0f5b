"""Throughput benchmarks: the same work timed in both frameworks (figures printed, never asserted).

Each case is warmed up (graph tracing, allocator) and then timed over repeats of at least
`min_seconds`; the median items/second is reported with the spread, so one noisy repeat on a shared
2-core machine does not decide the figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import registry
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


def time_case(paper: Paper, case: BenchmarkCase, framework: str, repeats: int = 3,
              min_seconds: float = 1.0, warmup: int = 2) -> BenchResult:
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


def run_paper(paper: Paper, frameworks, repeats: int = 3, min_seconds: float = 1.0) -> list[BenchResult]:
    return [time_case(paper, case, fw, repeats, min_seconds) for case in paper.benchmarks for fw in frameworks]
