"""Parameter counts of the ResNet architectures against Table 6 of He et al. and torchvision's counts.

What is counted: every trainable parameter (conv kernels, fc kernels and biases, batch-norm gamma and beta); the
batch-norm moving mean and variance are state, not parameters, and are not counted. Table 6 prints counts
rounded to the digits shown (0.27M for 269,722); the ImageNet ResNets are checked exactly (torchvision's
11,689,512 and 21,797,672 are He et al.'s 11.7M and 21.8M). Each count is computed three ways: framework-free
from the config (paper.count_params), and from the models actually built in torch and in tf.
"""

from __future__ import annotations

import pytest

from reproductions.resnet import paper as resnet

TABLE6 = [(3, 0.27, 2), (5, 0.46, 2), (7, 0.66, 2), (9, 0.85, 2), (18, 1.7, 1)]  # n, millions, digits shown


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


RESNET_BUILT = [resnet.resnet_cifar(3), resnet.resnet_cifar(3, residual=False), resnet.resnet_cifar(9),
                resnet.resnet_imagenet(18, image_size=32)]


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("config", RESNET_BUILT, ids=["resnet20", "plain20", "resnet56", "resnet18"])
def test_built_resnet_counts(framework, config, built_count):
    assert built_count(resnet.PAPER, framework, config) == resnet.count_params(config)
