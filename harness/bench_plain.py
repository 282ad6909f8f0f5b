"""Plain reference loops: `reproductions/<paper>/plain.py` beside each paper.

Such a module defines `plain_step(case_name, framework, config, batch, dtype, model=None)`, returning a
callable of no arguments that does the case's work once and returns its loss or output (the same network
classes and optimizer as the impl, tensors already on the device, no Model wrapper or harness code around it),
or None when it has no plain loop for that case. `model`, when given, is a harness Model whose networks (and so
weights) the loop uses, so a test can check the loop computes the harness step's loss. A paper without plain.py
has no plain figure; the table shows '-' rather than a guess.

The loop runs in the mode of the `model` it is given (the mode of the benchmark row), so that a row's "vs plain"
is the harness's own cost, not a mode's: torch networks are already placed and compiled by the model's mode
(channels_last, torch.compile), and tf loops compile their step with `plain_function(model)`: the loop's own
tf.function, with XLA in `xla` and none in `eager`, without the harness's call path.
"""

from __future__ import annotations

import importlib

from . import execution
from .spec import BenchmarkCase, Paper


def plain_step(paper: Paper, case: BenchmarkCase, framework: str, batch, dtype: str | None = None, model=None):
    try:
        module = importlib.import_module(f"{paper.package}.plain")
    except ModuleNotFoundError as e:
        if e.name != f"{paper.package}.plain":
            raise  # plain.py exists but imports something missing: an error, not "no plain loop"
        return None
    return module.plain_step(case.name, framework, case.config, batch, dtype or case.dtype, model=model)


def plain_function(model):
    """tf: a decorator that compiles a plain loop's step as `model`'s mode compiles the harness's
    (execution.tf_compiled; no model: the default, tf.function), without the harness's call path."""
    mode = getattr(model, "mode", execution.DEFAULT_MODE["tf"])
    return lambda fn: execution.tf_compiled(fn, mode)
