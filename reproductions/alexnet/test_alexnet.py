"""Parameter counts of the AlexNet architecture against the paper's "60 million".

What is counted: every trainable parameter (conv and fc kernels and biases). AlexNet's "60 million" is
60,965,224 with the two-GPU grouping of conv2/4/5. Each count is computed three ways: framework-free from the
config (paper.count_params), and from the models actually built in torch and in tf.
"""

from __future__ import annotations

import pytest

from reproductions.alexnet import paper as alexnet


def test_alexnet_has_sixty_million_parameters():
    count = alexnet.count_params(alexnet.PAPER_NET)
    assert count == 60_965_224
    assert alexnet.PAPER_NET.flat_shape == (6, 6, 256)  # 224 -> 55 -> 27 -> 13 -> 6


def test_alexnet_grouping_halves_conv2_4_5():
    ungrouped = alexnet.AlexNetConfig(convs=tuple(
        alexnet.ConvSpec(**{**s.__dict__, "groups": 1}) for s in alexnet.PAPER_NET.convs))
    # conv2 5*5*48*256, conv4 3*3*192*384, conv5 3*3*192*256 kernel weights are half of the ungrouped ones
    saved = 5 * 5 * 48 * 256 + 3 * 3 * 192 * 384 + 3 * 3 * 192 * 256
    assert alexnet.count_params(ungrouped) - alexnet.count_params(alexnet.PAPER_NET) == saved


ALEXNET_BUILT = [alexnet.REDUCED_NET, alexnet.FIG1_NET, alexnet.MINI_NET]


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("config", ALEXNET_BUILT, ids=["reduced", "fig1", "mini"])
def test_built_alexnet_counts(framework, config, built_count):
    assert built_count(alexnet.PAPER, framework, config) == alexnet.count_params(config)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_built_paper_alexnet_count(framework, built_count):
    assert built_count(alexnet.PAPER, framework, alexnet.PAPER_NET) == 60_965_224
