"""Plain reference loops: `reproductions/<paper>/plain.py` beside each paper.

Such a module defines `plain_step(case_name, framework, config, batch, dtype)`, returning a callable of no
arguments that does the case's work once (the same network classes and optimizer as the impl, tensors
already on the device, no Model wrapper or harness code around it), or None when it has no plain loop for
that case. A paper without plain.py has no plain figure; the table shows '-' rather than a guess.
"""

from __future__ import annotations

import importlib

from .spec import BenchmarkCase, Paper


def plain_step(paper: Paper, case: BenchmarkCase, framework: str, batch):
    try:
        module = importlib.import_module(f"{paper.package}.plain")
    except ModuleNotFoundError as e:
        if e.name != f"{paper.package}.plain":
            raise  # plain.py exists but imports something missing: an error, not "no plain loop"
        return None
    return module.plain_step(case.name, framework, case.config, batch, case.dtype)
