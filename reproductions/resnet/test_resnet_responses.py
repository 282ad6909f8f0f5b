"""The Fig. 7 layer responses of He et al. (std of each 3x3 conv's output after BN, before the addition and
the relu) that reproductions/resnet's depth study records: both frameworks measure the same thing.

The agreement engine compares forward taps at block outputs, not these inner tensors, so this test copies
a trained torch model into tf and compares the per-layer stds, and checks them against a NumPy
recomputation of the first layer's response from the parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry
from reproductions.resnet import paper as resnet


@pytest.mark.parametrize("residual", [True, False])
def test_response_stds_agree_across_frameworks(torch, tf, residual):
    config = resnet.resnet_cifar(1, residual=residual, widths=(4, 8, 16), image_size=8)
    rng = np.random.default_rng(0)
    a = registry.model_class(resnet.PAPER, "torch")(config, seed=0, dtype="float64")
    b = registry.model_class(resnet.PAPER, "tf")(config, seed=0, dtype="float64")
    for _ in range(3):  # trained a little: BN running statistics and gammas away from their init
        a.train_step({"x": rng.normal(size=(16, 8, 8, 3)), "y": rng.integers(0, 10, 16)})
    b.set_params(a.get_params())
    batch = {"x": rng.normal(size=(32, 8, 8, 3)), "y": rng.integers(0, 10, 32)}
    sa, sb = a.response_stds(batch), b.response_stds(batch)
    assert len(sa) == len(sb) == 2 * 3 * config.n  # two 3x3 layers per block, n blocks per stage, 3 stages
    np.testing.assert_allclose(sa, sb, rtol=1e-10)
    assert len(set(np.round(sa, 6))) == len(sa)  # per-layer values, not one number repeated


def test_first_response_is_bn_of_the_first_block_conv(torch):
    """stage1/block0's conv1 response in eval mode, recomputed in NumPy from the canonical parameters."""
    config = resnet.resnet_cifar(1, widths=(4, 8, 16), image_size=8)
    model = registry.model_class(resnet.PAPER, "torch")(config, seed=0, dtype="float64")
    rng = np.random.default_rng(1)
    model.train_step({"x": rng.normal(size=(16, 8, 8, 3)), "y": rng.integers(0, 10, 16)})
    x = rng.normal(size=(8, 8, 8, 3))
    p = model.get_params()
    h = model.forward({"x": x, "y": np.zeros(8, np.int64)})["stem"]  # NHWC, after the stem's relu
    k = p["stage1/block0/conv1/kernel"]  # (3, 3, cin, cout)
    hp = np.pad(h, ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = sum(np.einsum("nhwc,cd->nhwd", hp[:, i:i + 8, j:j + 8], k[i, j]) for i in range(3) for j in range(3))
    bn = "stage1/block0/bn1"
    r = (conv - p[f"{bn}/moving_mean"]) / np.sqrt(p[f"{bn}/moving_variance"] + 1e-5) * p[f"{bn}/gamma"] \
        + p[f"{bn}/beta"]
    assert model.response_stds({"x": x, "y": np.zeros(8, np.int64)})[0] == pytest.approx(r.std(), rel=1e-10)
