"""harness.training: the divergence check and the epoch's minibatches that the papers' loops share."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.errors import TrainingDivergedError
from harness.training import check_finite, epoch_minibatches


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_raises_naming_the_run_and_the_step(bad):
    with pytest.raises(TrainingDivergedError, match=r"^toy run, step 3: loss (nan|inf|-inf); lower"):
        check_finite({"loss": bad, "error": 0.5}, "toy run, step 3")
    with pytest.raises(TrainingDivergedError, match="g_loss"):
        check_finite({"loss": 1.0, "g_loss": bad}, "gan", keys=("loss", "g_loss"))
    with pytest.raises(TrainingDivergedError):
        check_finite(bad, "a bare loss")


def test_finite_losses_and_other_metrics_pass():
    check_finite({"loss": 1.0, "error": math.nan}, "only the named keys are losses")
    check_finite({"error": 0.0}, "a result without a loss key")
    check_finite(0.0, "a bare loss")


def test_epoch_minibatches_are_one_permutation_cut_into_full_batches():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    batches = epoch_minibatches(a, 10, 3)
    order = b.permutation(10)
    assert [list(x) for x in batches] == [list(order[0:3]), list(order[3:6]), list(order[6:9])]  # 10th dropped
    assert a.integers(1 << 30) == b.integers(1 << 30)  # the same draws consumed as one permutation
