"""The ResNet reproduction's claim settings and deviations are generated from its study configs."""

from __future__ import annotations

from dataclasses import replace

from reproductions.resnet import paper as resnet


def test_paper_scale_is_the_papers_64k_iterations():
    assert resnet._iterations(resnet.PAPER_SCALE) == 64_000
    assert "64k iterations" in resnet.PAPER.deviations[0]
    claim = next(c for c in resnet.PAPER.claims if c.id == "resnet20-test-error")
    assert claim.setting_for("reduced").endswith("the paper: 45k images, 64k iterations, augmentation")
    assert "50000 CIFAR-10 training images pooled to 32x32" in claim.setting_for("paper")


def test_resnet_setting_follows_the_study():
    text = resnet._setting(replace(resnet.REDUCED, epochs=12, train_images=2000, deep_n=5))
    assert "the first 2000 CIFAR-10 training images" in text and "12 epochs of batch 128" in text
    assert "n = 3 vs 5 (20 vs 32 layers)" in text
