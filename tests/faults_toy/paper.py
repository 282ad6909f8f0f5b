"""`datatoy`: one experiment that reads a few MNIST images through harness.data (the toy MLP's package
provides the Model classes; it is never trained) and returns their mean pixel and the dataset it used."""

from __future__ import annotations

from dataclasses import dataclass

from harness import data
from harness.spec import Band, BenchmarkCase, Experiment, Paper
from tests.toy.paper import ToyConfig, batches


@dataclass(frozen=True)
class ReadConfig:
    train_images: int = 20
    test_images: int = 10


def read_images(ctx, config: ReadConfig) -> dict:
    ds = data.load("mnist", ctx.data_dir, limit_train=config.train_images, limit_test=config.test_images)
    ctx.progress(1)
    return {"pixel_mean": float(ds.x_train.mean()), "dataset": ds.label()}


PAPER = Paper(
    key="datatoy",
    title="reads MNIST (or falls back) for the fault tests",
    citation="none",
    year=2026,
    package="tests.toy",
    deviations=("not a paper",),
    experiments=(
        Experiment(name="read", run=read_images, configs={"tiny": ReadConfig()}, seeds={"tiny": 2},
                   dataset="mnist", units=lambda c: 1),
    ),
    benchmarks=tuple(  # three cases, so an interruption can fall between two finished ones
        BenchmarkCase(name=f"forward-{n}", config=ToyConfig(), make_batch=lambda rng, dtype: batches(rng, dtype, 1)[0],
                      method="forward", items=8, unit="rows")
        for n in range(3)),
    claims=(
        Band(id="pixels-in-range", text="pixels lie in [0, 1]", source="none", setting="20 images",
             experiment="read", metric="pixel_mean", lo=0.0, hi=1.0, reported=None),
    ),
)
