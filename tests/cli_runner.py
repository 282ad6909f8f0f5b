"""The CLI run in this process on a test registry (subprocesses would re-import both frameworks): one runner for
every test file that drives `python -m harness` end to end."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from harness import cli, registry


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def run_cli(*args, registry_module: str, results_dir=None, env: dict | None = None) -> Result:
    """`python -m harness [--results-dir DIR] ARGS` with HARNESS_REGISTRY=`registry_module` and `env` (a None
    value unsets the variable), all restored afterwards, as are the registry cache and cli.RESULTS_DIR."""
    argv = (["--results-dir", str(results_dir)] if results_dir is not None else []) + [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in ("HARNESS_REGISTRY", *(env or {}))}
    for k, v in {"HARNESS_REGISTRY": registry_module, **(env or {})}.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    registry.papers.cache_clear()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as e:  # argparse refusals
                code = e.code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        registry.papers.cache_clear()
        cli.RESULTS_DIR = Path("results")
    return Result(code, out.getvalue(), err.getvalue())
