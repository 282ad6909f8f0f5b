"""Repro bundles: everything needed to rerun a failing agreement case outside the harness run.

`results/repro/<paper>-<case>-<dtype>/` holds weights.npz (the start both models are given, in the
case's base dtype), batch.npz (every batch, keys "<index>::<name>"), case.json (which paper, case and
dtype, and what failed where), and repro.py: a short script that rebuilds both models from the bundle,
runs the case's checks and prints the diverging tap or parameter -- something to attach to a bug report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .spec import AgreementCase, Paper, Params

SEP = "::"

SCRIPT = '''"""Repro of {paper}/{case} in {dtype}: {summary}
Run from the repository root:  python {relpath}
Prints the diverging tap or parameter and exits 1 while the failure reproduces, 0 once it is gone."""

import importlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path.cwd()))
from harness import agreement, repro  # noqa: E402

here = Path(__file__).resolve().parent
meta = json.loads((here / "case.json").read_text())
paper = importlib.import_module(meta["package"] + ".paper").PAPER
case = next(c for c in paper.agreement if c.name == meta["case"])
with np.load(here / "weights.npz") as weights:
    start = dict(weights)  # both models get these weights (set_params), as in the failing run
with np.load(here / "batch.npz") as batch:
    batches = repro.unflatten_batches(batch)
checks = agreement.run_case(paper, case, meta["dtype"], start=start, batches=batches)
failed = [c for c in checks if not c.passed]
for c in failed:
    print(f"FAIL {{c.name}}: diverges at {{c.first_divergence}}\\n  {{c.detail}}")
print("reproduced" if failed else "not reproduced: every check passes here")
sys.exit(1 if failed else 0)
'''


def bundle_dir(root: Path, paper: Paper, case: AgreementCase, dtype: str) -> Path:
    return Path(root) / f"{paper.key}-{case.name}-{dtype}"


def flatten_batches(batches: list[dict]) -> dict[str, np.ndarray]:
    return {f"{i}{SEP}{k}": np.asarray(v) for i, b in enumerate(batches) for k, v in b.items()}


def unflatten_batches(flat) -> list[dict]:
    out: dict[int, dict] = {}
    for key in flat:
        index, name = key.split(SEP, 1)
        out.setdefault(int(index), {})[name] = np.asarray(flat[key])
    return [out[i] for i in sorted(out)]


def write_bundle(root: Path, paper: Paper, case: AgreementCase, dtype: str, checks, start: Params,
                 batches: list[dict]) -> Path:
    """Write the bundle of a failing case and dtype; returns its directory (replaced if it existed)."""
    target = bundle_dir(root, paper, case, dtype)
    target.mkdir(parents=True, exist_ok=True)
    np.savez(target / "weights.npz", **start)
    np.savez(target / "batch.npz", **flatten_batches(batches))
    failed = [c for c in checks if not c.passed]
    meta = {
        "paper": paper.key, "package": paper.package, "case": case.name, "dtype": dtype, "seed": case.seed,
        "steps": case.steps, "config": repr(case.config),
        "failed": [{"check": c.name, "first_divergence": c.first_divergence, "detail": c.detail} for c in failed],
    }
    (target / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    summary = "; ".join(f"{c.kind} diverges at {c.first_divergence}" for c in failed) or "no failure"
    (target / "repro.py").write_text(SCRIPT.format(paper=paper.key, case=case.name, dtype=dtype,
                                                   summary=summary, relpath=target / "repro.py"))
    return target
