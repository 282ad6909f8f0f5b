"""LSTM (Hochreiter & Schmidhuber 1997): the task generators and the Reber nets' weight counts.

Sec. 5.1 gives the Reber nets' sizes: 276 weights for 3 blocks x 2 cells, 264 for 4 blocks x 1 cell, with a fully
connected hidden layer (gates fed back), the output layer fed by the cells only and only the gates biased. The
count pins our reading of that connectivity (REBER_LSTM) in both frameworks; masked (never trained) cell biases
are not weights.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reproductions.lstm import paper as P


def _trainable_weights(model, config) -> int:
    params = model.get_params()
    n = sum(v.size for v in params.values())
    if config.model == "lstm1997" and not config.cell_bias:
        n -= config.n_cells  # held at zero by the bias mask
    return n


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize(("blocks", "cells", "expected"), [(3, 2, 276), (4, 1, 264)])
def test_reber_nets_have_the_papers_weight_counts(framework, blocks, cells, expected, request):
    request.getfixturevalue(framework)
    from harness import registry

    config = replace(P.REBER_LSTM, n_blocks=blocks, cells_per_block=cells,
                     output_gate_bias=(-1.0, -2.0, -3.0, -4.0)[:blocks])
    model = registry.model_class(registry.get("lstm"), framework)(config, seed=0)
    assert _trainable_weights(model, config) == expected
    bias = model.get_params()["memory/bias"]
    assert np.all(bias[blocks:blocks + blocks * cells] == 0.0)  # cell inputs unbiased (5.1)


def test_reber_cell_bias_stays_zero_in_training(torch):
    from harness import registry

    model = registry.model_class(registry.get("lstm"), "torch")(P.REBER_LSTM, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        model.train_step(P._bench_reber(4)(rng, "float32"))
    bias = model.get_params()["memory/bias"]
    nb = P.REBER_LSTM.n_blocks
    assert np.all(bias[nb:nb + P.REBER_LSTM.n_cells] == 0.0)
    assert not np.allclose(bias[:nb], 0.0)


@pytest.mark.parametrize("scale", [1.0, 0.3, 0.15])
def test_temporal_order_sequences(scale):
    """5.6, task 6a: E first, B last, X/Y exactly at one position in each window, class from the pair, target at
    the last step only; scaled windows keep t1 after the E."""
    config = P.TemporalConfig(net=P.TEMPORAL_LSTM, scale=scale)
    w = config.windows()
    assert w["t1"][0] >= 2 and w["t1"][1] < w["t2"][0] and w["t2"][1] < w["length"][0]
    rng = np.random.default_rng(1)
    sym = P.TEMPORAL_SYMBOLS
    for _ in range(50):
        x, y, wt = P.temporal_order_sequence(rng, **w)
        s = "".join(sym[i] for i in x.argmax(-1))
        assert w["length"][0] <= len(s) <= w["length"][1]
        assert s[0] == "E" and s[-1] == "B" and np.all(x.sum(-1) == 1)
        xy = [t + 1 for t, c in enumerate(s) if c in "XY"]  # 1-based positions
        assert len(xy) == 2
        assert w["t1"][0] <= xy[0] <= w["t1"][1] and w["t2"][0] <= xy[1] <= w["t2"][1]
        assert set(s) - set("EBXY") <= set("abcd")
        assert wt.tolist() == [0.0] * (len(s) - 1) + [1.0]
        assert y[-1].argmax() == P.TEMPORAL_CLASSES[s[xy[0] - 1] + s[xy[1] - 1]] and y.sum() == 1.0


def test_temporal_score_counts_every_output_within_0_3():
    """A sequence is correct only if all 4 outputs are within 0.3 of their targets (5.6)."""

    class Fixed:
        def __init__(self, out):
            self.out = out

        def forward(self, batch):
            return {"output": self.out}

    batch = P.pad([(np.zeros((2, 8)), np.array([[0, 0, 0, 0], [1, 0, 0, 0]], float), np.array([0.0, 1.0]))] * 2,
                  "float32")
    out = np.zeros((2, 2, 4), "float32")
    out[0, 1] = [0.75, 0.25, 0.0, 0.0]  # every error < 0.3: correct
    out[1, 1] = [0.9, 0.31, 0.0, 0.0]  # one error of 0.31: wrong
    frac, err = P._temporal_score(Fixed(out), [batch])
    assert frac == 0.5
    assert err == pytest.approx(((0.25**2 + 0.25**2) + (0.1**2 + 0.31**2)) / 2, rel=1e-5)
