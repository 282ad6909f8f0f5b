"""The pieces of a training loop that every paper's experiments share (framework-free): the divergence check,
the shuffled minibatches of an epoch, and the evaluation hook that logs the claim's metric during training.

The evaluation hook (`evaluate` on train_epochs / train_steps) runs at a fixed set of steps (evaluation_steps)
and must leave training exactly as it was: it may not draw from the training generator (the loops check this
where they own it) nor change model state the next step reads (it should evaluate in inference mode, BN with
its running statistics, no dropout), so a run's recorded claim values are the same with or without it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .errors import TrainingDivergedError


def check_finite(out: Mapping[str, float] | float, where: str, keys: Sequence[str] = ("loss",)) -> None:
    """Raise TrainingDivergedError naming the run and step (`where`, e.g. "alexnet fig1, epoch 3 step 12") when
    a loss is NaN or infinite: a number, or the `keys` of a step's result that it has."""
    values = [(k, out[k]) for k in keys if k in out] if isinstance(out, Mapping) else [("loss", out)]
    for key, value in values:
        if not math.isfinite(value):
            raise TrainingDivergedError(f"{where}: {key} {value}; lower the learning rate or check the config")


def epoch_minibatches(rng: np.random.Generator, n: int, batch_size: int) -> list[np.ndarray]:
    """One epoch of minibatch indices: a fresh permutation of range(n) drawn from `rng`, cut into batches of
    `batch_size`, the last partial batch dropped."""
    order = rng.permutation(n)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size)]


# Evaluations per run: at the end of each quarter of the budget, enough to show a trend, cheap beside training.
EVAL_POINTS = 4

Evaluate = Callable[[], Mapping[str, float]]


def evaluation_steps(total: int, points: int = EVAL_POINTS) -> list[int]:
    """The steps (or epochs) 1..total at which a run is evaluated: the ends of `points` equal parts of the
    budget (fewer when the budget is shorter), always including the last."""
    if total <= 0:
        return []
    return sorted({max(1, math.ceil(total * k / points)) for k in range(1, points + 1)})


def log_evaluation(ctx, step: int, curve: str, evaluate: Evaluate, rng: np.random.Generator | None = None) -> None:
    """Call `evaluate()` and log each metric it returns as a curve of that name at `step` (name them as the
    experiment's metric, e.g. "res_deep_test_error", so a plot can find the claim that tests it). With the
    training generator `rng`: raise RuntimeError if the evaluation drew from it (the training after this step
    would differ from a run without evaluation, and so would the recorded claim values)."""
    before = rng.bit_generator.state if rng is not None else None
    values = evaluate()
    if rng is not None and rng.bit_generator.state != before:
        raise RuntimeError(f"{curve}: the evaluation at step {step} drew from the training generator; give it its "
                           "own generator so that evaluating does not change training")
    for name, value in values.items():
        ctx.log(step, name, float(value))


def _mean_finite_losses(outs: list, key: str) -> float | None:
    values = [float(o[key]) for o in outs if isinstance(o, Mapping) and key in o]
    return float(np.mean(values)) if values else None


def train_epochs(ctx, model, *, epochs: int, n: int, batch_size: int, rng: np.random.Generator, make_batch,
                 where: str, curve: str, on_epoch=None, keys: Sequence[str] = ("loss",),
                 evaluate: Evaluate | None = None) -> int:
    """Minibatch SGD over `epochs` epochs of `n` examples: each epoch a fresh permutation from `rng` cut into
    batches (see epoch_minibatches); `make_batch(idx)` builds a step's batch (it may draw from `rng` too, after
    the permutation, e.g. dropout masks). Every step's result is checked (check_finite, named "`where`, epoch E
    step S"); the progress bar advances by an epoch's steps; each epoch's mean `keys` (and "error" where the
    model returns it) are logged as curves "`curve` <key>" at step = epochs done. `on_epoch(epoch, outs)`, given
    each epoch's step results, returns True to stop early (the skipped epochs still advance the progress bar).
    `evaluate()` (see log_evaluation) runs after the epochs of evaluation_steps(epochs) and after an early
    stop's last epoch (after `on_epoch`). Returns the number of epochs run."""
    steps = n // batch_size
    eval_at = set(evaluation_steps(epochs)) if evaluate is not None else set()
    for epoch in range(epochs):
        outs = []
        for i, idx in enumerate(epoch_minibatches(rng, n, batch_size)):
            out = model.train_step(make_batch(idx))
            check_finite(out, f"{where}, epoch {epoch + 1} step {i + 1}", keys)
            outs.append(out)
        ctx.progress(steps)
        for key in (*keys, "error"):
            value = _mean_finite_losses(outs, key)
            if value is not None:
                ctx.log(epoch + 1, f"{curve} {key}", value)
        stop = on_epoch is not None and on_epoch(epoch, outs)
        if evaluate is not None and (epoch + 1 in eval_at or stop):
            log_evaluation(ctx, epoch + 1, curve, evaluate, rng)
        if stop:
            ctx.progress(steps * (epochs - epoch - 1))
            return epoch + 1
    return epochs


def train_steps(ctx, model, *, steps: int, next_batch, where: str, curve: str, tick: int = 100,
                keys: Sequence[str] = ("loss",), report_rest: bool = True, unit: str = "step",
                on_step=None, evaluate: Evaluate | None = None) -> None:
    """`steps` training steps, `next_batch(step)` giving step `step`'s batch (1-based; it owns the data order,
    e.g. fresh draws or a permutation it renews). Every step's result is checked (check_finite, named
    "`where`, step S"); every `tick` steps the progress bar advances by `tick` and the mean `keys` of those
    steps are logged as curves "`curve` <key>" at that step. `report_rest`: advance the bar by the steps left
    after the last full tick (off where a caller reports them itself). `unit` names a step in the divergence
    message ("iteration", "sweep"); `on_step(step)` runs after each checked step (a mid-training evaluation);
    `evaluate()` (see log_evaluation) after the steps of evaluation_steps(steps)."""
    outs = []
    eval_at = set(evaluation_steps(steps)) if evaluate is not None else set()
    for step in range(1, steps + 1):
        out = model.train_step(next_batch(step))
        check_finite(out, f"{where}, {unit} {step}", keys)
        outs.append(out)
        if on_step is not None:
            on_step(step)
        if step in eval_at:
            log_evaluation(ctx, step, curve, evaluate)
        if step % tick == 0:
            ctx.progress(tick)
            for key in keys:
                value = _mean_finite_losses(outs, key)
                if value is not None:
                    ctx.log(step, f"{curve} {key}", value)
            outs = []
    if report_rest:
        ctx.progress(steps % tick)
