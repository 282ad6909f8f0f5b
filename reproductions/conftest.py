"""Fixtures for the papers' own tests (reproductions/<key>/test_*.py): the framework fixtures of tests/, and the
trainable-parameter count of a built model."""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry
from tests.conftest import tf, torch  # noqa: F401  (fixtures, re-exported for the papers' folders)


@pytest.fixture(scope="session")
def built_count():
    """count(paper, framework, config): the trainable parameters of the model that framework builds."""

    def count(paper, framework, config) -> int:
        model = registry.model_class(paper, framework)(config, seed=0, dtype="float32")
        if framework == "torch":
            return sum(p.numel() for p in model.net.parameters() if p.requires_grad)
        return int(sum(np.prod(v.shape) for v in model.net.trainable_variables))

    return count
