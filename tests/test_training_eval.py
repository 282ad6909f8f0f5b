"""The shared loops' evaluation hook (harness.training): it logs the claim's metric at a fixed set of steps and
leaves training exactly as it was, so the recorded claim values do not depend on it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import registry
from harness.curves import CurveLog
from harness.training import EVAL_POINTS, evaluation_steps, train_epochs, train_steps


class Context:
    def __init__(self):
        self.log = CurveLog()

    def progress(self, n):
        pass


class StatefulModel:
    """A model with state the evaluation could disturb: its steps record the batches they were given and
    the evaluations seen so far (a model whose evaluation changed its state would train differently)."""

    def __init__(self):
        self.batches, self.evaluations = [], 0

    def train_step(self, batch):
        self.batches.append(batch)
        return {"loss": float(len(self.batches)), "error": 0.5}

    def evaluate(self):
        self.evaluations += 1
        return {"metric": float(len(self.batches))}


@settings(max_examples=60, deadline=None)
@given(total=st.integers(0, 500), points=st.integers(1, 10))
def test_evaluation_steps_are_the_ends_of_equal_parts_of_the_budget(total, points):
    steps = evaluation_steps(total, points)
    assert steps == sorted(set(steps))
    assert len(steps) <= min(total, points)
    if total:
        assert steps[-1] == total and steps[0] >= 1
        # each part's end: no gap between evaluations is longer than a part, rounded up
        assert all(b - a <= -(-total // points) for a, b in zip([0, *steps], steps, strict=False))
    else:
        assert steps == []


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), batch_size=st.integers(1, 8), epochs=st.integers(1, 9),
       seed=st.integers(0, 2**32 - 1), stop=st.integers(0, 9))
def test_train_epochs_with_evaluation_takes_the_same_steps_and_draws(n, batch_size, epochs, seed, stop):
    """Same batches, same generator state after, same training curves; the evaluation's points at
    evaluation_steps(epochs) and at an early stop's last epoch."""
    def run(with_eval):
        rng, ctx, model = np.random.default_rng(seed), Context(), StatefulModel()
        done = train_epochs(ctx, model, epochs=epochs, n=n, batch_size=batch_size, rng=rng,
                            make_batch=lambda idx: (idx.tolist(), rng.random()), where="fake", curve="fake",
                            on_epoch=lambda epoch, outs: epoch + 1 == stop,
                            evaluate=model.evaluate if with_eval else None)
        return done, model, ctx.log.curves, rng.random()

    done, plain, plain_curves, plain_after = run(False)
    done_eval, model, curves, after = run(True)
    assert (done_eval, model.batches, after) == (done, plain.batches, plain_after)
    assert {k: v for k, v in curves.items() if k != "metric"} == plain_curves
    expected = [e for e in evaluation_steps(epochs) if e < done] + [done]
    assert curves["metric"][0] == expected
    assert model.evaluations == len(expected)
    # each point measured the model as trained up to that epoch
    assert curves["metric"][1] == [float(e * (n // batch_size)) for e in expected]


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 300), tick=st.integers(1, 50))
def test_train_steps_logs_the_evaluation_at_the_fixed_steps(steps, tick):
    ctx, model = Context(), StatefulModel()
    train_steps(ctx, model, steps=steps, next_batch=lambda s: s, where="fake", curve="fake", tick=tick,
                evaluate=model.evaluate)
    assert model.batches == list(range(1, steps + 1))
    assert ctx.log.curves["metric"] == [evaluation_steps(steps), [float(s) for s in evaluation_steps(steps)]]
    assert len(evaluation_steps(steps)) <= EVAL_POINTS


def test_an_evaluation_that_draws_from_the_training_generator_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match="drew from the training generator"):
        train_epochs(Context(), StatefulModel(), epochs=2, n=4, batch_size=2, rng=rng, make_batch=lambda idx: idx,
                     where="fake", curve="fake", evaluate=lambda: {"metric": rng.random()})


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_evaluating_a_batchnorm_net_mid_training_leaves_its_training_unchanged(framework, torch, tf):
    """A ResNet (BN running statistics, momentum buffers) trained with test evaluations at the fixed steps ends
    with the same parameters, bit for bit, as one trained without: evaluation reads BN's statistics in
    inference mode and updates nothing."""
    from reproductions.resnet import paper as resnet

    config = resnet.resnet_cifar(1, widths=(4, 8, 16), image_size=8)
    data = np.random.default_rng(3)
    x, y = data.normal(size=(64, 8, 8, 3)).astype(np.float32), data.integers(0, 10, 64)
    test = [{"x": x[:32], "y": y[:32]}]

    def trained(with_eval):
        model = registry.model_class(resnet.PAPER, framework)(config, seed=0, dtype="float32")
        ctx = Context()
        train_epochs(ctx, model, epochs=3, n=64, batch_size=16, rng=np.random.default_rng(1),
                     make_batch=lambda idx: {"x": x[idx], "y": y[idx]}, where="resnet", curve="net",
                     evaluate=(lambda: {"test_error": model.evaluate(test)["error"]}) if with_eval else None)
        return model.get_params(), ctx.log.curves

    params, curves = trained(False)
    params_eval, curves_eval = trained(True)
    assert params.keys() == params_eval.keys()
    for name in params:
        np.testing.assert_array_equal(params_eval[name], params[name], err_msg=name)
    assert curves_eval["net loss"] == curves["net loss"]
    assert curves_eval["test_error"][0] == evaluation_steps(3)
