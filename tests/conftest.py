"""Shared fixtures. torch is imported before tensorflow (the other order has crashed), always through
harness.numerics."""

from __future__ import annotations

import pytest

from harness import registry


@pytest.fixture(scope="session")
def torch():
    from harness import numerics

    return numerics.import_framework("torch")


@pytest.fixture(scope="session")
def tf():
    from harness import numerics

    return numerics.import_framework("tf")


def papers():
    """The registered papers, for parametrizing tests over the registry."""
    return list(registry.papers().values())
