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


def test_regularizer_setting_states_the_reduced_nets_widths():
    """The setting once called the reduced net '1/10 width' (conv5 is 1/4 of the paper's, fc 1/16): it now
    states the widths of the net the study builds."""
    assert "conv 32/64/96/96/64, fc 256/256" in alexnet.REG_SETTING
    assert "1/10" not in alexnet.REG_SETTING


def test_alexnet_settings_follow_their_configs():
    from dataclasses import replace

    study = replace(alexnet.REG_REDUCED, epochs=7, net=replace(alexnet.REG_REDUCED.net, dropout=0.3))
    text = alexnet._reg_setting(study, alexnet.REG_PAPER)
    assert "7 epochs of batch 32" in text and "dropout 0.3" in text and "(8 if none)" in text
    assert "wd 5e-4" in text  # the paper's, as it writes it
    act = alexnet._act_setting(replace(alexnet.ACT_REDUCED, relu_lr=0.01, threshold=30.0))
    assert "lr 0.01 (ReLU)" in act and "<= 30%" in act and "N(0, 1/fan_in) init" in act
    assert "N(0, 0.01) init" in alexnet.PAPER_INIT_SETTING
