"""`killtoy`: the toy MLP's training, except that a chosen seed SIGKILLs its own worker on its first attempt
(a marker file under $RAY_TOY_MARKERS records the attempt) and the `reduced` profile sleeps a second per seed,
so a test can kill the driver while runs are in flight."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from harness.spec import Band, Experiment, Paper
from tests.toy.paper import ToyConfig, fit


@dataclass(frozen=True)
class KillConfig:
    kill_seed: int = -1  # this seed's first attempt kills its worker process
    sleep_seconds: float = 0.0


def fit_or_die(ctx, config: KillConfig) -> dict[str, float]:
    markers = os.environ.get("RAY_TOY_MARKERS")
    if markers and ctx.seed == config.kill_seed:
        marker = Path(markers) / f"{ctx.framework}-{ctx.seed}"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(config.sleep_seconds)
    return fit(ctx, ToyConfig())


PAPER = Paper(
    key="killtoy",
    title="toy MLP whose worker dies once, for the Ray executor tests",
    citation="none",
    year=2026,
    package="tests.toy",
    deviations=("not a paper",),
    experiments=(
        Experiment(name="fit", run=fit_or_die,
                   configs={"tiny": KillConfig(kill_seed=1), "reduced": KillConfig(sleep_seconds=1.0)},
                   seeds={"tiny": 3, "reduced": 8}, dataset="generated:gaussian", units=lambda c: 30),
    ),
    claims=(
        Band(id="final-loss", text="the final loss is small", source="none", setting="30 SGD steps",
             experiment="fit", metric="final_loss", hi=10.0, reported=None),
    ),
)
