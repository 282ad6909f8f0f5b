"""A toy 'paper' for testing the agreement engine itself: dense -> LayerNorm -> tanh -> dense, MSE loss,
trained with SGD+momentum or Adam. Written twice like every real paper, so injected bugs can be caught."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.spec import AgreementCase, Band, Experiment, Ordering, Paper
from harness.training import train_steps


@dataclass(frozen=True)
class ToyConfig:
    n_in: int = 4
    n_hidden: int = 4  # square first kernel, so a transposed kernel keeps its shape
    n_out: int = 3
    optimizer: str = "sgd"  # "sgd" | "adam"
    lr: float = 0.05
    momentum: float = 0.9
    adam_epsilon: float = 1e-7  # the Keras convention; torch matches it step by step
    pre_norm_shift: bool = False  # a scalar added before the LayerNorm, which removes it: zero gradient


def batches(rng, dtype, n):
    return [{"x": rng.normal(size=(8, 4)).astype(dtype), "y": rng.normal(size=(8, 3)).astype(dtype)}
            for _ in range(n)]


def fit(ctx, config: ToyConfig) -> dict[str, float]:
    """Train on one fixed regression set; the loss must fall."""
    rng = np.random.default_rng(ctx.seed)
    data = batches(rng, "float32", 1)
    model = ctx.make_model(config, seed=ctx.seed, dtype="float32")
    first = model.evaluate(data)["loss"]
    train_steps(ctx, model, steps=30, next_batch=lambda step: data[0], where="toy fit", curve="fit", tick=10)
    return {"initial_loss": first, "final_loss": model.evaluate(data)["loss"]}


PAPER = Paper(
    key="toy",
    title="toy MLP for engine tests",
    citation="none",
    year=2026,
    package="tests.toy",
    deviations=("not a paper",),
    experiments=(
        Experiment(name="fit", run=fit, configs={"tiny": ToyConfig(), "reduced": ToyConfig()},
                   seeds={"tiny": 3, "reduced": 5}, dataset="generated:gaussian", units=lambda c: 30),
    ),
    claims=(
        Ordering(id="loss-falls", text="training lowers the loss", source="none", setting="30 SGD steps",
                 a=("fit", "final_loss"), b=("fit", "initial_loss"), relation="<"),
        Band(id="final-loss", text="the final loss is small", source="none", setting="30 SGD steps",
             experiment="fit", metric="final_loss", hi=10.0, reported=None),
    ),
    agreement=(
        AgreementCase(name="sgd", config=ToyConfig(), make_batches=batches, depth=2, steps=20),
        AgreementCase(name="adam", config=ToyConfig(optimizer="adam", lr=0.01), make_batches=batches,
                      depth=2, steps=20),
    ),
)
