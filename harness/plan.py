"""`reproduce PAPER... --profile P --plan`: the task grid of a run and an estimate of its device-hours, from the
committed `bench` figures, without running (or importing) anything that trains.

Each paper declares, per experiment, a `Workload`: how many items of one of its benchmark cases a seed run
processes at a config (images through a train step, sequences, ...), weighted where the run's models cost
more or less per item than the benchmarked one (the weight is stated in `basis`). The estimate of one
(experiment, framework) is seeds x items / (items per second of that case, framework and device kind), from the
newest benchmark record of each in the results directory. It is an estimate: it prices training steps only
(evaluation, sampling and data loading are left out) at the benchmark's batch size and thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import profiles, results
from .spec import Paper


@dataclass(frozen=True, kw_only=True)
class Workload:
    """One seed run of an experiment, in items of benchmark case `bench`.

    `items(config)`: items one seed run processes, counted in the bench case's unit and weighted to its cost
    per item (e.g. a 56-layer net's image counts 56/20 of a ResNet-20 image), or a mapping bench case -> such
    items when a run trains models priced by different cases (`bench` is then None); `schedule(config)`: the run's
    length in the paper's words (epochs, iterations, sequences); `basis`: how the items are counted.
    """

    bench: str | None
    items: Callable[[Any], float | Mapping[str, float]]
    schedule: Callable[[Any], str]
    basis: str


@dataclass(frozen=True)
class Task:
    paper: str
    experiment: str
    frameworks: tuple[str, ...]
    seeds: int
    schedule: str
    parts: dict[str | None, float]  # bench case (None: none declared) -> items per seed priced by it
    unit: str
    basis: str

    @property
    def items_per_seed(self) -> float:
        return sum(self.parts.values())

    @property
    def bench(self) -> str:
        return ", ".join(b for b in self.parts if b) or "-"


def tasks(paper: Paper, profile: str, frameworks: Sequence[str], seeds: int | None = None) -> list[Task]:
    """The task grid of `paper` at `profile`: one row per experiment (x frameworks x seeds)."""
    profiles.require_profile(paper, profile)
    units = {b.name: b.unit for b in paper.benchmarks}
    rows = []
    for exp in paper.experiments:
        config = exp.configs[profile]
        work = paper.workloads.get(exp.name)
        if work is None:
            raise ValueError(f"{paper.key}: experiment {exp.name!r} declares no workload for --plan")
        items = work.items(config)
        parts = {b: float(n) for b, n in items.items()} if isinstance(items, Mapping) else {work.bench: float(items)}
        unknown = [b for b in parts if b is not None and b not in units]
        if unknown:
            raise ValueError(f"{paper.key}: workload of {exp.name!r} names unknown benchmark cases {unknown}")
        unit = "/".join(dict.fromkeys(units[b] for b in parts if b)) or "items"
        rows.append(Task(paper.key, exp.name, tuple(frameworks), seeds or exp.seeds[profile], work.schedule(config),
                         parts, unit, work.basis))
    return rows


def device_kind(numerics: dict) -> str:
    """What a benchmark ran on: the device, with the GPU's name where the record has one."""
    device = str(numerics.get("device", "cpu"))
    gpu = numerics.get("gpu_name") or numerics.get("gpu")
    return f"{device} ({gpu})" if gpu and device != "cpu" else device


def bench_figures(results_dir: Path) -> tuple[dict[tuple[str, str, str, str], dict], list[str]]:
    """(paper, case, framework, device kind) -> the newest benchmark record, from every *.jsonl records file of
    `results_dir` (runs.jsonl holds seed runs, not records, and is skipped); and the problems met reading."""
    found: dict[tuple[str, str, str, str], dict] = {}
    problems: list[str] = []
    for path in sorted(Path(results_dir).glob("*.jsonl")):
        if path.name == "runs.jsonl":
            continue
        records, bad = results.read(path)
        problems += bad[:1]
        for r in records:
            if r.get("kind") != "benchmark" or r.get("value") is None:
                continue
            key = (r["paper"], r["check"].split("/")[0], r["framework"], device_kind(r.get("numerics") or {}))
            if key not in found or str(r.get("time", "")) >= str(found[key].get("time", "")):
                found[key] = {**r, "_file": path.name}
    return found, problems


def estimate(task: Task, figures: dict, kinds: Iterable[str]) -> dict[str, dict[str, float | str]]:
    """device kind -> framework -> device-hours of all the task's seeds, or the reason there is no figure."""
    out: dict[str, dict[str, float | str]] = {}
    for kind in kinds:
        out[kind] = {}
        for fw in task.frameworks:
            hours = 0.0
            for bench, items in task.parts.items():
                rec = figures.get((task.paper, bench, fw, kind)) if bench else None
                if items and (rec is None or not rec["value"]):
                    hours = "no bench figure"
                    break
                hours += task.seeds * items / float(rec["value"]) / 3600 if items else 0.0
            out[kind][fw] = hours
    return out


def _hours(x: float | str) -> str:
    if isinstance(x, str):
        return x
    return f"{x:.3g} h" if x >= 0.01 else f"{x * 3600:.3g} s"


def render(papers: Sequence[Paper], profile: str, frameworks: Sequence[str], seeds: int | None,
           results_dir: Path, data_dir: str | None) -> str:
    """The plan as text: per paper, the task grid, the data status and the device-hours per device kind."""
    from tabulate import tabulate

    figures, problems = bench_figures(results_dir)
    kinds = sorted({k[3] for k in figures}) or ["cpu"]
    lines = [f"Plan for --profile {profile} ({', '.join(frameworks)}): nothing is run. Device-hours are ESTIMATES "
             f"from the benchmark records in {results_dir} (items/s of each paper's benchmark cases, 1 thread per "
             "run as the harness pins it); they price training steps only."]
    lines += [f"warning: {p}" for p in problems]
    totals: dict[tuple[str, str], float] = {}
    missing: dict[tuple[str, str], int] = {}
    for paper in papers:
        grid = tasks(paper, profile, frameworks, seeds)
        lines += ["", f"## {paper.key} ({paper.year})"]
        rows = []
        for t in grid:
            est = estimate(t, figures, kinds)
            cells = []
            for kind in kinds:
                cells.append("; ".join(f"{fw} {_hours(est[kind][fw])}" for fw in t.frameworks))
                for fw in t.frameworks:
                    value = est[kind][fw]
                    if isinstance(value, str):
                        missing[(kind, paper.key)] = missing.get((kind, paper.key), 0) + 1
                    else:
                        totals[(kind, fw)] = totals.get((kind, fw), 0.0) + value
            rows.append([t.experiment, len(t.frameworks), t.seeds, t.schedule,
                         f"{t.items_per_seed:,.0f} {t.unit}", t.bench, *cells])
        lines.append(tabulate(rows, headers=["experiment", "frameworks", "seeds", "schedule", "items per seed",
                                             "bench case", *[f"device-hours on {k}" for k in kinds]]))
        for t in grid:
            lines.append(f"  {t.experiment}: items counted as {t.basis}")
        used: dict[tuple[str, str], list[str]] = {}
        for k, f in figures.items():
            if k[0] == paper.key and k[1] in {b for t in grid for b in t.parts}:
                used.setdefault((f["_file"], k[3]), []).append(str(f.get("time", "?"))[:16])
        if used:
            lines.append("  bench figures used: " + "; ".join(
                f"{file} on {kind} ({len(times)} figures measured {min(times)}..{max(times)})"
                for (file, kind), times in sorted(used.items())))
        else:
            lines.append(f"  no bench figure for {paper.key} in {results_dir}: run `python -m harness bench "
                         f"{paper.key}` on each device kind to price it")
        for need in profiles.needs(paper, profile):
            status = profiles.data_status(need, data_dir)
            lines.append(f"  data {need.experiment}: {need.dataset} {need.train:,}/{need.test:,} ({need.source}): "
                         + ("found" if status is None else f"NOT READY: {status}"))
    lines.append("")
    for kind in kinds:
        priced = ", ".join(f"{fw} {_hours(totals[(kind, fw)])}" if (kind, fw) in totals else f"{fw} nothing priced"
                           for fw in frameworks)
        unpriced = sorted(p for (k, p) in missing if k == kind)
        lines.append(f"Estimated device-hours on {kind}: {priced}"
                     + (f" (plus unpriced tasks of {', '.join(unpriced)}: no bench figure)" if unpriced else ""))
    return "\n".join(lines)
