"""Throughput benchmarks: the same work timed in both frameworks (figures printed, never asserted).

Each case is timed per execution mode: the first call on its own (tracing, compiling, allocator warm-up),
then repeats of at least `min_seconds` whose median items/second is the steady-state figure, with the
spread (so one noisy repeat on a shared machine does not decide it). Beside it, in the same process: the
paper's plain reference loop on the same work in the same execution mode (harness overhead), on tensors made
once and on tensors made from the case's arrays every call (harness.bench_plain), its repeats taken in turn with
the harness's (harness, plain, plain fed, harness, ...) so that a machine slowing down or speeding up during the
case weighs on all alike; the FLOPs per item (counted in torch), and a float32 GEMM's GFLOP/s (the
achievable peak). Peak memory is the growth of the process's RSS high-water mark over its RSS before the first call,
through the harness's warm-up (before the plain loop's model exists), and is only recorded when the case ran
in a fresh process (`isolate`), where no earlier case has already raised that mark.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from . import bench_hw, bench_modes, bench_plain, bench_regress, registry, results
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
    mode: str = "default"
    threads: int = 1
    first_call_s: float | None = None  # tracing / compiling / warm-up, apart from the steady state
    plain_items_per_second: float | None = None  # the paper's plain loop on the same work, None without one
    plain_spread: tuple[float, float] | None = None
    plain_fed_items_per_second: float | None = None  # the plain loop making its tensors from the arrays every call
    plain_fed_spread: tuple[float, float] | None = None
    flops_per_item: float | None = None
    gemm_gflops: float | None = None  # float32 GEMM peak measured in the same process
    peak_rss_growth_bytes: int | None = None  # only in a fresh process (see module docstring)
    machine_kind: str = ""
    device: str = "cpu"

    @property
    def overhead(self) -> float | None:
        """Harness time per item over the plain loop's, minus one (0.05: the harness is 5% slower)."""
        if not self.plain_items_per_second:
            return None
        return self.plain_items_per_second / self.items_per_second - 1

    @property
    def fed_overhead(self) -> float | None:
        """Harness time per item over the plain loop's fed its tensors every call, minus one."""
        if not self.plain_fed_items_per_second:
            return None
        return self.plain_fed_items_per_second / self.items_per_second - 1

    @property
    def gflops(self) -> float | None:
        return None if self.flops_per_item is None else self.flops_per_item * self.items_per_second / 1e9

    @property
    def peak_fraction(self) -> float | None:
        return None if self.gflops is None or not self.gemm_gflops else self.gflops / self.gemm_gflops

    @property
    def check(self) -> str:
        return f"{self.case}/{self.method}/{self.mode}/threads{self.threads}"

    def to_record(self, numerics: dict) -> dict:
        """The figure as one results record (kind "benchmark", never passed or failed)."""
        details = {k: v for k, v in asdict(self).items() if k not in ("paper", "case", "framework", "spread",
                                                                     "items_per_second", "unit")}
        details.update(min=self.spread[0], max=self.spread[1], overhead=self.overhead,
                       fed_overhead=self.fed_overhead, gflops=self.gflops, peak_fraction=self.peak_fraction)
        return results.make_record(
            kind="benchmark", paper=self.paper, framework=self.framework, check=self.check,
            metric=f"{self.unit}_per_second", value=self.items_per_second, expected={}, passed=None,
            config={"case": self.case, "mode": self.mode, "threads": self.threads}, seed=0, dataset="generated",
            profile=None, dtype=None, numerics=numerics, details=details,
        )


def check_min_seconds(min_seconds: float) -> float:
    """A repeat must last a positive, finite time: NaN never ends the timing loop (every comparison with it
    is false), and zero or a negative value makes each figure come from a single call."""
    if not (isinstance(min_seconds, int | float) and math.isfinite(min_seconds) and min_seconds > 0):
        raise ValueError(f"min_seconds must be a positive finite number of seconds, got {min_seconds!r}")
    return float(min_seconds)


def time_repeat(call: Callable[[], object], items: int, min_seconds: float) -> tuple[float, int]:
    """Items/second over one repeat of at least `min_seconds`, and the calls it made."""
    n, start = 0, time.perf_counter()
    while True:
        call()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return n * items / elapsed, n


def summarize(rates: list[float]) -> tuple[float, tuple[float, float]]:
    """Median and (min, max) of the repeats' rates."""
    return float(np.median(rates)), (float(min(rates)), float(max(rates)))


def case_flops(paper: Paper, case: BenchmarkCase) -> float:
    """FLOPs per item of the case's work, counted on the torch model (the tf twin does the same work)."""
    model = bench_modes.build(paper, case, "torch", bench_modes.modes(paper, "torch", None)[0])
    batch = case.make_batch(np.random.default_rng(0), case.dtype)
    return bench_hw.count_flops(lambda: getattr(model, case.method)(batch)) / case.items


def _plain_calls(paper: Paper, case: BenchmarkCase, framework: str, batch, mode: str, device: str):
    """The paper's plain loop on the case, (once, fed) (harness.bench_plain.PlainLoop.calls), or None without
    one; on a model of its own built in the row's `mode` on `device` (the loop runs in that mode, so "vs plain" is
    the harness's cost, not the mode's); on a GPU each torch call waits for its kernels, as the harness step's
    loss.item() does."""
    model = bench_modes.build(paper, case, framework, mode, device)
    scope = getattr(model, "device_scope", contextlib.nullcontext)
    with scope():
        loop = bench_plain.plain_step(paper, case, framework, batch, model=model)
        if loop is None:
            return None
        calls = loop.calls(batch)
    if device == "cpu":
        return calls
    synchronize = None
    if framework == "torch":
        from . import numerics

        synchronize = numerics.import_framework("torch").cuda.synchronize

    def on_device(plain):
        def call():
            with scope():
                out = plain()
            if synchronize:
                synchronize()
            return out

        return call

    return tuple(on_device(plain) for plain in calls)


def time_case(paper: Paper, case: BenchmarkCase, framework: str, repeats: int = 3, min_seconds: float = 1.0,
              warmup: int = 2, mode: str | None = None, flops_per_item: float | None = None,
              gemm_gflops: float | None = None, fresh_process: bool = False, device: str = "cpu") -> BenchResult:
    check_min_seconds(min_seconds)
    mode = mode or bench_modes.modes(paper, framework, None)[0]
    model = bench_modes.build(paper, case, framework, mode, device)
    batch = case.make_batch(np.random.default_rng(0), case.dtype)
    method = getattr(model, case.method)
    rss_before = bench_hw.current_rss_bytes()
    start = time.perf_counter()
    method(batch)
    first_call_s = time.perf_counter() - start
    for _ in range(warmup - 1):
        method(batch)
    peak = bench_hw.peak_rss_bytes() - rss_before if fresh_process and rss_before else None
    plains = _plain_calls(paper, case, framework, batch, mode, device) or ()
    # and again once the plain loop exists: in tf, tracing its function makes the harness's next call
    # re-instantiate its own graph (0.65 s on LSTM adding-T100, 1.4 s on DDPM digits), which landed in the first
    # repeat (3,961-11,778 sequences/s, 39-1,008 images/s)
    for _ in range(warmup if plains else 0):
        for plain in plains:
            plain()
        method(batch)
    rates, plain_rates, calls = [], [[] for _ in plains], 0
    for _ in range(repeats):  # in turn: drift during the case weighs on all (module docstring)
        rate, n = time_repeat(lambda: method(batch), case.items, min_seconds)
        rates.append(rate)
        calls += n
        for plain, timed in zip(plains, plain_rates, strict=True):
            timed.append(time_repeat(plain, case.items, min_seconds)[0])
    rate, spread = summarize(rates)
    (plain_rate, plain_spread), (fed_rate, fed_spread) = [summarize(r) for r in plain_rates] or [(None, None)] * 2
    from .numerics import THREADS

    return BenchResult(paper.key, case.name, framework, case.method, case.unit, rate, spread, repeats, calls,
                       mode=mode, threads=THREADS, first_call_s=first_call_s, plain_items_per_second=plain_rate,
                       plain_spread=plain_spread, plain_fed_items_per_second=fed_rate, plain_fed_spread=fed_spread,
                       flops_per_item=flops_per_item, gemm_gflops=gemm_gflops,
                       peak_rss_growth_bytes=peak, machine_kind=bench_regress.machine_kind(), device=device)


def _isolated_case(paper_key: str, case_name: str, framework: str, mode: str, repeats: int, min_seconds: float,
                   flops_per_item: float | None, device: str = "cpu") -> BenchResult:
    """Run in a fresh (spawned) process, so its RSS high-water mark and thread setting are its own."""
    paper = registry.get(paper_key)
    case = next(c for c in paper.benchmarks if c.name == case_name)
    gemm = bench_hw.gemm_peak_gflops(framework, min_seconds, device=device)
    return time_case(paper, case, framework, repeats, min_seconds, mode=mode, flops_per_item=flops_per_item,
                     gemm_gflops=gemm, fresh_process=True, device=device)


def run_paper(paper: Paper, frameworks, repeats: int = 3, min_seconds: float = 1.0,
              on_result: Callable[[BenchResult], None] | None = None, mode: str | None = None,
              isolate: bool = False, threads: int | None = None, device: str = "cpu") -> list[BenchResult]:
    """Every benchmark case in every framework and mode on `device` (a resolved one: cpu or cuda:N);
    `on_result` is called as each finishes (to save it at once). `isolate` runs each (case, framework, mode)
    in a fresh process (peak memory, and `threads` other than this process's pinned count)."""
    check_min_seconds(min_seconds)
    if threads is not None and not isolate:
        raise ValueError("a thread count other than this process's needs isolate=True (threads are set at import)")
    plan = [(fw, m) for fw in frameworks for m in bench_modes.modes(paper, fw, mode)]  # bad modes fail first
    gemm = {} if isolate else {fw: bench_hw.gemm_peak_gflops(fw, min_seconds, device=device) for fw in frameworks}
    out = []
    for case in paper.benchmarks:
        flops = case_flops(paper, case)
        for fw, m in plan:
            if isolate:
                out.append(_run_isolated(paper, case, fw, m, repeats, min_seconds, flops, threads, device))
            else:
                out.append(time_case(paper, case, fw, repeats, min_seconds, mode=m, flops_per_item=flops,
                                     gemm_gflops=gemm[fw], device=device))
            if on_result:
                on_result(out[-1])
    return out


def _run_isolated(paper, case, fw, mode, repeats, min_seconds, flops, threads, device="cpu") -> BenchResult:
    saved = os.environ.get("HARNESS_THREADS")
    if threads is not None:
        os.environ["HARNESS_THREADS"] = str(threads)  # read by harness.numerics at import in the child
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            return pool.apply(_isolated_case, (paper.key, case.name, fw, mode, repeats, min_seconds, flops, device))
    finally:
        if saved is None:
            os.environ.pop("HARNESS_THREADS", None)
        else:
            os.environ["HARNESS_THREADS"] = saved
