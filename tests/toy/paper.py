"""A toy 'paper' for testing the agreement engine itself: dense -> LayerNorm -> tanh -> dense, MSE loss,
trained with SGD+momentum or Adam. Written twice like every real paper, so injected bugs can be caught."""

from __future__ import annotations

from dataclasses import dataclass

from harness.spec import AgreementCase, Paper


@dataclass(frozen=True)
class ToyConfig:
    n_in: int = 4
    n_hidden: int = 4  # square first kernel, so a transposed kernel keeps its shape
    n_out: int = 3
    optimizer: str = "sgd"  # "sgd" | "adam"
    lr: float = 0.05
    momentum: float = 0.9
    adam_epsilon: float = 1e-7  # the Keras convention; torch matches it step by step


def batches(rng, dtype, n):
    return [{"x": rng.normal(size=(8, 4)).astype(dtype), "y": rng.normal(size=(8, 3)).astype(dtype)}
            for _ in range(n)]


PAPER = Paper(
    key="toy",
    title="toy MLP for engine tests",
    citation="none",
    year=2026,
    package="tests.toy",
    agreement=(
        AgreementCase(name="sgd", config=ToyConfig(), make_batches=batches, depth=2, steps=20),
        AgreementCase(name="adam", config=ToyConfig(optimizer="adam", lr=0.01), make_batches=batches,
                      depth=2, steps=20),
    ),
)
