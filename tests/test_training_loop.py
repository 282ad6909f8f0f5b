"""harness.training's shared loops: the steps they take, the random draws they make (the papers' results
depend on them), the divergence check, progress ticks and the curves they log."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.curves import CurveLog
from harness.errors import TrainingDivergedError
from harness.training import epoch_minibatches, train_epochs, train_steps


class FakeModel:
    """Returns the next of `losses` as each step's loss and remembers the batches it was given."""

    def __init__(self, losses):
        self.losses, self.batches = list(losses), []

    def train_step(self, batch):
        self.batches.append(batch)
        return {"loss": self.losses[len(self.batches) - 1], "error": 0.5}


class FakeContext:
    def __init__(self):
        self.ticks, self.log = [], CurveLog()

    def progress(self, n):
        self.ticks.append(n)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), epochs=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_train_epochs_takes_the_hand_written_loops_steps_and_draws(n, batch_size, epochs, seed):
    """The same batches, in the same order, and the same generator state after, as the loop the papers had:
    a permutation per epoch, then each step's own draws (e.g. dropout masks) from the same generator."""
    steps = n // batch_size
    losses = np.random.default_rng(seed).random(epochs * steps + 1)
    rng, expected = np.random.default_rng(seed), []
    for _ in range(epochs):
        for idx in epoch_minibatches(rng, n, batch_size):
            expected.append((idx.tolist(), rng.random()))
    after = rng.random()

    rng, ctx, model = np.random.default_rng(seed), FakeContext(), FakeModel(losses)
    done = train_epochs(ctx, model, epochs=epochs, n=n, batch_size=batch_size, rng=rng,
                        make_batch=lambda idx: (idx.tolist(), rng.random()), where="fake", curve="fake")
    assert done == epochs
    assert model.batches == expected
    assert rng.random() == after
    assert sum(ctx.ticks) == epochs * steps
    if steps:  # one point per epoch: the mean of that epoch's step losses
        steps_logged, values = ctx.log.curves["fake loss"]
        assert steps_logged == list(range(1, epochs + 1))
        for e, value in enumerate(values):
            assert value == pytest.approx(float(np.mean(losses[e * steps:(e + 1) * steps])), rel=1e-12)
        assert ctx.log.curves["fake error"][1] == [0.5] * epochs


def test_train_epochs_stops_when_on_epoch_says_so_and_still_fills_the_progress_bar():
    ctx, model = FakeContext(), FakeModel([1.0] * 100)
    seen = []

    def on_epoch(epoch, outs):
        seen.append((epoch, len(outs)))
        return epoch == 1

    done = train_epochs(ctx, model, epochs=5, n=10, batch_size=3, rng=np.random.default_rng(0),
                        make_batch=lambda idx: idx, where="fake", curve="fake", on_epoch=on_epoch)
    assert done == 2 and seen == [(0, 3), (1, 3)]
    assert len(model.batches) == 6 and sum(ctx.ticks) == 5 * 3


def test_train_epochs_raises_on_a_non_finite_loss_naming_epoch_and_step():
    losses = [1.0] * 4 + [math.nan] + [1.0] * 10
    with pytest.raises(TrainingDivergedError, match=r"^fake run, epoch 2 step 2: loss nan"):
        train_epochs(FakeContext(), FakeModel(losses), epochs=3, n=9, batch_size=3, rng=np.random.default_rng(0),
                     make_batch=lambda idx: idx, where="fake run", curve="fake")


@settings(max_examples=40, deadline=None)
@given(steps=st.integers(0, 60), tick=st.integers(1, 15), report_rest=st.booleans())
def test_train_steps_ticks_logs_the_mean_of_each_tick_and_calls_on_step_in_order(steps, tick, report_rest):
    losses = np.random.default_rng(steps).random(steps)
    ctx, model, called = FakeContext(), FakeModel(losses), []
    train_steps(ctx, model, steps=steps, next_batch=lambda step: step, where="fake", curve="fake", tick=tick,
                report_rest=report_rest, on_step=called.append)
    assert model.batches == list(range(1, steps + 1)) and called == model.batches
    assert sum(ctx.ticks) == (steps if report_rest else steps - steps % tick)
    logged = ctx.log.curves.get("fake loss", [[], []])
    assert logged[0] == list(range(tick, steps + 1, tick))
    for step, value in zip(*logged, strict=True):
        assert value == pytest.approx(float(np.mean(losses[step - tick:step])), rel=1e-12)


def test_train_steps_checks_every_named_loss_with_the_unit_in_the_message():
    class TwoLosses(FakeModel):
        def train_step(self, batch):
            out = super().train_step(batch)
            return {"loss": 1.0, "g_loss": out["loss"]}

    with pytest.raises(TrainingDivergedError, match=r"^gan toy, iteration 3: g_loss inf"):
        train_steps(FakeContext(), TwoLosses([0.0, 0.0, math.inf, 0.0]), steps=4, next_batch=lambda s: s,
                    where="gan toy", curve="toy", unit="iteration", keys=("loss", "g_loss"))


def test_a_curve_refuses_steps_that_do_not_increase():
    log = CurveLog()
    log(1, "loss", 0.5)
    with pytest.raises(ValueError, match="steps must increase"):
        log(1, "loss", 0.4)
    log(1, "other", 0.4)  # each curve counts its own steps
    assert log.curves == {"loss": [[1], [0.5]], "other": [[1], [0.4]]}
