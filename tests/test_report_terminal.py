"""`make reproduce` in a terminal: every line it prints fits 120 columns and it ends with the report's path.
The Makefile's own recipe is run (its harness commands, in order) on the toy registry."""

from __future__ import annotations

import shlex
from pathlib import Path

from harness import tables
from tests.test_cli import harness

ROOT = Path(__file__).resolve().parent.parent


def reproduce_recipe() -> list[list[str]]:
    """The harness arguments of each command of the Makefile's `reproduce` target, --results-dir left out."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("reproduce:"))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        words = shlex.split(line.split(";")[0].replace("$(JOBS)", "2"))  # make's default on 2 cores
        args = words[words.index("harness") + 1:]
        if "--results-dir" in args:
            i = args.index("--results-dir")
            del args[i:i + 2]
        commands.append(args)
    return commands


def test_make_reproduce_fits_120_columns_and_ends_with_the_report_path(tmp_path):
    commands = reproduce_recipe()
    assert [c[0] for c in commands] == ["agree", "reproduce", "report"]
    printed = []
    for args in commands:
        done = harness(*args, results=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        printed += done.stdout.splitlines() + done.stderr.splitlines()
    assert printed[-1] == f"report: {tmp_path / 'report' / 'index.html'}"
    # measured with the recipe's own results directory in place of the test's (a long temporary path)
    shown = [line.replace(str(tmp_path), "results/smoke") for line in printed[:-1]]
    assert [line for line in shown if len(line) > tables.TERMINAL_WIDTH] == []
