"""Parameter counts of the AlexNet and ResNet architectures against the papers' numbers.

What is counted: every trainable parameter (conv kernels and biases, fc kernels and biases, batch-norm
gamma and beta); the batch-norm moving mean and variance are state, not parameters, and are not counted.
Table 6 of He et al. prints counts rounded to the digits shown (0.27M for 269,722); the ImageNet ResNets
and AlexNet are checked exactly (torchvision's 11,689,512 and 21,797,672 are He et al.'s 11.7M and 21.8M;
AlexNet's "60 million" is 60,965,224 with the two-GPU grouping of conv2/4/5).

Each count is computed three ways: framework-free from the config (paper.count_params), and from the
models actually built in torch and in tf.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry
from reproductions.alexnet import paper as alexnet
from reproductions.resnet import paper as resnet

TABLE6 = [(3, 0.27, 2), (5, 0.46, 2), (7, 0.66, 2), (9, 0.85, 2), (18, 1.7, 1)]  # n, millions, digits shown


def _built_count(paper, framework, config) -> int:
    model = registry.model_class(paper, framework)(config, seed=0, dtype="float32")
    if framework == "torch":
        return sum(p.numel() for p in model.net.parameters() if p.requires_grad)
    variables = [v for v in model.net.trainable_variables]
    return int(sum(np.prod(v.shape) for v in variables))


@pytest.mark.parametrize("n,millions,digits", TABLE6)
def test_resnet_cifar_matches_table6(n, millions, digits):
    count = resnet.count_params(resnet.resnet_cifar(n))
    assert round(count / 1e6, digits) == millions, f"ResNet-{6 * n + 2}: {count:,}"


@pytest.mark.parametrize("n", [3, 9])
def test_plain_net_has_the_resnets_parameters(n):
    """Option A shortcuts add no parameter: plain and residual nets of one depth are the same size."""
    assert resnet.count_params(resnet.resnet_cifar(n, residual=False)) == resnet.count_params(resnet.resnet_cifar(n))


def test_resnet_cifar_exact_counts():
    assert [resnet.count_params(resnet.resnet_cifar(n)) for n, _, _ in TABLE6] == [
        269_722, 464_154, 658_586, 853_018, 1_727_962]


@pytest.mark.parametrize("depth,count,millions", [(18, 11_689_512, 11.7), (34, 21_797_672, 21.8)])
def test_resnet_imagenet_counts(depth, count, millions):
    got = resnet.count_params(resnet.resnet_imagenet(depth))
    assert got == count and round(got / 1e6, 1) == millions


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


RESNET_BUILT = [resnet.resnet_cifar(3), resnet.resnet_cifar(3, residual=False), resnet.resnet_cifar(9),
                resnet.resnet_imagenet(18, image_size=32)]
ALEXNET_BUILT = [alexnet.REDUCED_NET, alexnet.FIG1_NET, alexnet.MINI_NET]


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("config", RESNET_BUILT, ids=["resnet20", "plain20", "resnet56", "resnet18"])
def test_built_resnet_counts(framework, config):
    assert _built_count(resnet.PAPER, framework, config) == resnet.count_params(config)


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("config", ALEXNET_BUILT, ids=["reduced", "fig1", "mini"])
def test_built_alexnet_counts(framework, config):
    assert _built_count(alexnet.PAPER, framework, config) == alexnet.count_params(config)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_built_paper_alexnet_count(framework):
    assert _built_count(alexnet.PAPER, framework, alexnet.PAPER_NET) == 60_965_224
