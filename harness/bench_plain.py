"""Plain reference loops: `reproductions/<paper>/plain.py` beside each paper.

Such a module defines `plain_step(case_name, framework, config, batch, dtype, model=None)`, returning a
`PlainLoop` (the same network classes and optimizer as the impl, no Model wrapper or harness code around it), or
None when it has no plain loop for that case. `model`, when given, is a harness Model whose networks (and so
weights) the loop uses, so a test can check the loop computes the harness step's loss. A paper without plain.py
has no plain figure; the table shows '-' rather than a guess.

A loop is timed two ways. `once`: its tensors made from the case's arrays once, before the repeats (the plain
loop as first defined: tensors already on the device). `fed`: made from the same arrays every call, as the
harness makes them (its train_step is handed NumPy arrays) and as any loop over real data must. In tf a step on
tensors made just before it costs more than the conversion itself (README, Benchmarks, has the figures), so the
harness's own cost is its time over the `fed` loop's, and `once` bounds what a loop can get at all.

The loop runs in the mode of the `model` it is given (the mode of the benchmark row), so that a row's "vs plain"
is the harness's own cost, not a mode's: torch networks are already placed and compiled by the model's mode
(channels_last, torch.compile), and tf loops compile their step with `plain_function(model)`: the loop's own
tf.function, with XLA in `xla` and none in `eager`, without the harness's call path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import execution
from .spec import BenchmarkCase, Paper


@dataclass(frozen=True)
class PlainLoop:
    """A plain loop split where a loop over data receives each batch."""

    inputs: Callable[[Mapping], Any]  # the case's arrays -> the tensors the step takes, on the model's device
    step: Callable[[Any], Any]  # the case's work, once, on those tensors; returns its loss or output
    finish: Callable[[Any], Any] = lambda out: out  # tf: .numpy(), which waits for the step (as float(loss) does)

    def calls(self, batch: Mapping) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """(once, fed): the step on tensors made from `batch` once, and on tensors made from it every call.
        A tf.function step is called through the concrete function of the batch's tensors: the graph
        tf.function itself would pick, without matching its arguments every call (as the harness does)."""
        tensors = self.inputs(batch)
        step = self.step
        if hasattr(step, "get_concrete_function"):
            step = step.get_concrete_function(tensors)
        return (lambda: self.finish(step(tensors))), (lambda: self.finish(step(self.inputs(batch))))


def tf_numpy(out):
    """A tf step's result read back (waits for the step, as the harness's float(loss) does)."""
    return out.numpy()


def plain_step(paper: Paper, case: BenchmarkCase, framework: str, batch, dtype: str | None = None,
               model=None) -> PlainLoop | None:
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
