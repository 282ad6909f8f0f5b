"""Training curves: what a seed run logs through `RunContext.log` (see harness.training), kept compactly with
the seed run (runs.jsonl) and once per experiment and framework in the claim records (details["curves"]), and
written as TensorBoard event files.

A seed's curves are {name: [[step, ...], [value, ...]]}: one list of steps and one of values per curve, steps
increasing (a curve is logged at most once per epoch or per progress tick, so it stays short).

Two kinds of curve: the training loop's own ("<run> loss", "<run> error": means over the steps since the last
point) and the claim's metric measured during training (harness.training's evaluation hook, at the ends of the
budget's quarters), named as the experiment's metric ("res_deep_test_error") so plots find the claim testing
it. Measured during training: alexnet's and resnet's test error, vit's test accuracy, gan's D* error and 1-D
sample statistics, backprop's held-out and training accuracy (and symmetry's per-sweep error and accuracy).
Not measured: lstm (each claim's quantity is the number of sequences seen until the stopping rule holds, known
only at the end; its loss at each stopping-rule check is the curve), ddpm (each sample-quality estimate runs the
T-step reverse chain for every sample: four would add a large share of the training's cost) and gan mnist (a
Parzen estimate costs more than the training)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from .errors import ResultsError

SeedCurves = dict[str, list[list]]


class CurveLog:
    """The `log(step, name, value)` a seed run gets; `curves` holds what was logged."""

    def __init__(self) -> None:
        self.curves: SeedCurves = {}

    def __call__(self, step: int, name: str, value: float) -> None:
        steps, values = self.curves.setdefault(str(name), [[], []])
        if steps and int(step) <= steps[-1]:
            raise ValueError(f"curve {name!r}: step {step} logged after step {steps[-1]}; steps must increase")
        steps.append(int(step))
        values.append(float(value))


def validate(curves) -> None:
    """Raise ResultsError saying what is wrong with a seed's curves (as read back: NaN/inf as floats)."""
    if not isinstance(curves, Mapping):
        raise ResultsError(f"field 'curves' must be an object of curves, got {curves!r:.80}")
    for name, curve in curves.items():
        ok = (isinstance(curve, list) and len(curve) == 2 and all(isinstance(part, list) for part in curve)
              and len(curve[0]) == len(curve[1])
              and all(isinstance(s, int) and not isinstance(s, bool) for s in curve[0])
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in curve[1]))
        if not ok:
            raise ResultsError(f"curve {name!r} must be [[step, ...], [value, ...]] of equal length, "
                               f"got {curve!r:.80}")


def attach(records: list[dict], paper, curves: Mapping[tuple[str, str], list[SeedCurves]]) -> None:
    """Put each experiment's curves, for each framework, into the first claim record that reads the experiment:
    details["curves"] = {experiment: [per seed]} (only experiments that logged any). Once, not in every claim
    of the experiment: the curves were most of the records' size, and readers take the paper's curves from
    all its claim records (plots.training_curves)."""
    from .claims import claim_inputs

    by_id = {c.id: c for c in paper.claims}
    placed: set[tuple[str, str]] = set()
    for record in records:
        claim = by_id.get(record["check"])
        if record["kind"] != "claim" or claim is None:
            continue
        keys = [(record["framework"], exp) for exp in sorted({e for e, _ in claim_inputs(claim)})]
        found = {exp: curves[(fw, exp)] for fw, exp in keys
                 if (fw, exp) not in placed and any(curves.get((fw, exp), []))}
        placed.update((record["framework"], exp) for exp in found)
        if found:
            record["details"]["curves"] = found


def median_and_spread(seed_curves: list[SeedCurves], name: str):
    """(steps, median, lowest, highest) of curve `name` across the seeds that logged it, at the steps every
    one of them logged (seeds that stopped early end sooner); None when no seed logged it."""
    import numpy as np

    logged = [dict(zip(*c[name], strict=True)) for c in seed_curves if name in c]
    if not logged:
        return None
    steps = sorted(set.intersection(*(set(c) for c in logged)))
    values = np.array([[c[s] for s in steps] for c in logged], dtype=float)
    return steps, np.median(values, axis=0), values.min(axis=0), values.max(axis=0)


# --- TensorBoard -------------------------------------------------------------------------------------------


def check_tensorboard_dir(path: str) -> Path:
    """The directory for event files, created if needed; ConfigError (exit 2) when it cannot be written."""
    from .errors import ConfigError
    from .results import unwritable_dir

    target = Path(path)
    if (why := unwritable_dir(target)) is not None:
        raise ConfigError(f"--tensorboard {path}: cannot write there ({why}); give a writable directory")
    return target


def run_dir(root: Path, paper: str, experiment: str, framework: str, seed: int, profile: str) -> Path:
    """One TensorBoard run per (paper, experiment, framework, seed): root/paper/experiment/framework/seed<N>,
    with the profile in the paper's folder name so runs of different profiles do not mix."""
    def safe(part) -> str:
        return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(part))

    return root / f"{safe(paper)}-{safe(profile)}" / safe(experiment) / safe(framework) / f"seed{int(seed)}"


def write_tensorboard(root: Path, entry: Mapping) -> Path | None:
    """Write a saved seed run's curves (runs.jsonl entry) as a TensorBoard event file with tensorboard's own
    writer (no framework needed); None when the run logged no curves. Non-finite points are skipped (a
    TensorBoard scalar must be finite to plot)."""
    curves = entry.get("curves") or {}
    if not curves:
        return None
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    paper, experiment, framework, seed, profile = entry["key"][:5]
    folder = run_dir(root, paper, experiment, framework, seed, profile)
    writer = EventFileWriter(str(folder))
    try:
        for name, (steps, values) in curves.items():
            for step, value in zip(steps, values, strict=True):
                if math.isfinite(value):
                    summary = Summary(value=[Summary.Value(tag=name, simple_value=float(value))])
                    writer.add_event(Event(step=int(step), summary=summary))
    finally:
        writer.close()
    return folder
