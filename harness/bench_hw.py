"""What a benchmark figure is measured against: the machine's GEMM peak, FLOPs per item, peak memory."""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

GEMM_N = 1024  # a square float32 matmul: large enough for the BLAS to reach its steady rate on one core


def gemm_peak_gflops(framework: str, min_seconds: float = 0.5, n: int = GEMM_N, device: str = "cpu") -> float:
    """Achieved GFLOP/s of an n x n float32 matmul (2 n^3 flops) in `framework` on `device` (a resolved one:
    cpu or cuda:N), best of 3 timed runs of at least `min_seconds`/3 each, under the same thread pinning as the
    cases."""
    from . import execution, numerics

    fw = numerics.import_framework(framework)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    if framework == "torch":
        ta, tb = fw.from_numpy(a).to(device), fw.from_numpy(b).to(device)
        wait = fw.cuda.synchronize if device != "cpu" else (lambda: None)  # a GPU matmul returns before it ends
        run = lambda: (fw.mm(ta, tb), wait())  # noqa: E731
    else:
        with fw.device(execution.tf_device(device)):
            ta, tb = fw.constant(a), fw.constant(b)
        matmul = fw.function(lambda x, y: fw.linalg.matmul(x, y))
        run = lambda: matmul(ta, tb).numpy()  # noqa: E731  (.numpy() waits for the result)
    run()
    best = 0.0
    for _ in range(3):
        calls, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < min_seconds / 3 or calls == 0:
            run()
            calls += 1
        best = max(best, 2 * n**3 * calls / elapsed / 1e9)
    return best


def count_flops(call) -> int:
    """FLOPs of one call, counted by torch.utils.flop_counter (matmuls and convolutions, forward and
    backward; elementwise work and optimizer updates are not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        call()
    return int(counter.get_total_flops())


def current_rss_bytes() -> int:
    """Resident set size now (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_bytes() -> int:
    """The process's RSS high-water mark (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
