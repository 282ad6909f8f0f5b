"""Parameter-dictionary checks shared by every Model.set_params (framework-free)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import ParamsError


def check_params(expected: Mapping[str, tuple[int, ...]], given: Mapping[str, np.ndarray], who: str) -> None:
    """Refuse missing, unexpected or mis-shaped keys, naming every one of them."""
    problems = []
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    if missing:
        problems.append("missing: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected: " + ", ".join(unexpected))
    for k in expected:
        if k in given and tuple(np.shape(given[k])) != tuple(expected[k]):
            problems.append(f"{k}: shape {tuple(np.shape(given[k]))}, expected {tuple(expected[k])}")
    if problems:
        raise ParamsError(f"{who}.set_params: " + "; ".join(problems))
