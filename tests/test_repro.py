"""Repro bundles: a failing agreement case leaves weights, batches and a script that reproduces it."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from harness import agreement, repro

TOY = importlib.import_module("tests.toy.paper").PAPER
ROOT = Path(__file__).resolve().parents[1]
BUG = "import tests.toy.tf_impl as m; m.LN_EPS = 1e-3\n"  # the same porting bug, injected in the subprocess


def run_script(script: Path, preamble: str = "") -> subprocess.CompletedProcess:
    code = preamble + f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_batches_round_trip_through_the_bundle_format():
    batches = TOY.agreement[0].make_batches(np.random.default_rng(0), "float32", 3)
    back = repro.unflatten_batches(repro.flatten_batches(batches))
    assert len(back) == 3
    for b, a in zip(back, batches, strict=True):
        assert b.keys() == a.keys() and all(np.array_equal(b[k], a[k]) and b[k].dtype == a[k].dtype for k in a)


def test_a_bundle_for_an_injected_bug_reproduces_it_in_a_subprocess(monkeypatch, tmp_path):
    monkeypatch.setattr(importlib.import_module("tests.toy.tf_impl"), "LN_EPS", 1e-3)
    paper = dataclasses.replace(TOY, agreement=TOY.agreement[:1])  # the sgd case
    checks = agreement.run_paper(paper, ("float32",), repro_dir=tmp_path)
    assert not all(c.passed for c in checks)
    bundle = tmp_path / "toy-sgd-float32"
    assert sorted(p.name for p in bundle.iterdir()) == ["batch.npz", "case.json", "repro.py", "weights.npz"]
    meta = json.loads((bundle / "case.json").read_text())
    assert meta["case"] == "sgd" and meta["dtype"] == "float32"
    assert {f["first_divergence"] for f in meta["failed"]} >= {"norm"}
    with np.load(bundle / "weights.npz") as w:
        start, _ = agreement.case_inputs(TOY.agreement[0], TOY)
        assert all(np.array_equal(w[k], start[k]) for k in start)

    buggy = run_script(bundle / "repro.py", BUG)
    assert buggy.returncode == 1, buggy.stderr
    assert "toy/sgd/float32/forward: diverges at norm" in buggy.stdout and "reproduced" in buggy.stdout
    fixed = run_script(bundle / "repro.py")  # the same bundle without the bug: nothing diverges
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "not reproduced" in fixed.stdout
