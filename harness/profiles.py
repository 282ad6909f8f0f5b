"""Profiles beyond the declared ones, and the data a profile needs before it may run.

`with_profile` adds a profile (the `paper` one) to a declared `Paper` in a section of its own, so that a
paper.py states its paper-scale setup once, next to the reduced one, without rewriting its experiments.

`DataNeed` says which dataset a profile's experiment reads and how much of it the paper used; `check_data`
refuses a run whose data is absent or smaller than that (exit 2, naming the missing files and what to do):
a paper-scale run on a 4,000-image CIFAR-10 subset, or on the bundled digits, would not be the paper's setup.
The on-disk layouts are described in docs/data.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, DataError
from .spec import PROFILES, Paper

# Datasets the harness has a reader for (harness.data), and the sizes of their full splits.
READABLE = {"mnist": (60_000, 10_000), "fashion-mnist": (60_000, 10_000), "cifar10": (50_000, 10_000)}
# Datasets a paper trained on that the harness can describe and plan but not read (docs/data.md): the files the
# documented layout expects, relative to the data directory, and why a run stops even when they are there.
UNREADABLE = {
    "imagenet": (("imagenet/train/", "imagenet/val/", "imagenet/LOC_val_solution.csv"),
                 "the harness has no ImageNet input pipeline yet (decoding, 224x224 crops, augmentation); "
                 "`--plan` sizes the run, nothing trains it"),
    "imagenet21k": (("imagenet21k/train/",),
                    "the harness has no ImageNet-21k input pipeline; `--plan` sizes the run, nothing trains it"),
    "jft300m": (("jft300m/",), "JFT-300M is Google's internal data set and has never been released"),
}


@dataclass(frozen=True, kw_only=True)
class DataNeed:
    """`experiment` of a profile reads `train` training and `test` test images of `dataset`, as `source` says
    the paper did ("Sec. 4.2: 45k/5k split of the 50k training images")."""

    experiment: str
    dataset: str
    train: int
    test: int
    source: str
    blocked: str = ""  # why a run stops even when the data is there (e.g. no input pipeline for it yet)

    def __post_init__(self) -> None:
        if self.dataset not in READABLE and self.dataset not in UNREADABLE:
            raise ValueError(f"data need of {self.experiment!r}: unknown dataset {self.dataset!r}; known: "
                             f"{', '.join([*READABLE, *UNREADABLE])}")


def with_profile(paper: Paper, profile: str, configs: Mapping[str, Any], seeds: Mapping[str, int],
                 settings: Mapping[str, str] = (), data: Sequence[DataNeed] = (),
                 workloads: Mapping[str, Any] = ()) -> Paper:
    """`paper` with `profile` added to every experiment (`configs[name]`, `seeds[name]`), the claims' setting
    texts for it (`settings[claim id]`; a claim without one keeps the text `Claim.setting_for` derives), and
    the data each experiment needs at that profile, and the experiments' workloads (harness.plan.Workload, for
    `--plan`). Every experiment must be given a config and seeds."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    names = [e.name for e in paper.experiments]
    for what, given in (("configs", configs), ("seeds", seeds)):
        missing, unknown = [n for n in names if n not in given], [n for n in given if n not in names]
        if missing or unknown:
            raise ValueError(f"{paper.key}: {profile} profile {what} lack experiments {missing} or name unknown "
                             f"ones {unknown}")
    settings = dict(settings)
    unknown = [c for c in settings if c not in {claim.id for claim in paper.claims}]
    if unknown:
        raise ValueError(f"{paper.key}: {profile} settings name unknown claims {unknown}")
    for need in data:
        if need.experiment not in names:
            raise ValueError(f"{paper.key}: data need names unknown experiment {need.experiment!r}")
    experiments = tuple(dataclasses.replace(e, configs={**e.configs, profile: configs[e.name]},
                                            seeds={**e.seeds, profile: seeds[e.name]}) for e in paper.experiments)
    offered = [p for p in PROFILES if p == profile or p in paper.profiles()]
    claims = tuple(c if c.id not in settings else dataclasses.replace(
        c, setting={**{p: c.setting_for(p) for p in offered if p != profile}, profile: settings[c.id]})
        for c in paper.claims)
    return dataclasses.replace(paper, experiments=experiments, claims=claims,
                               data_needs={**paper.data_needs, profile: tuple(data)},
                               workloads={**paper.workloads, **dict(workloads)})


def needs(paper: Paper, profile: str) -> tuple[DataNeed, ...]:
    return tuple(paper.data_needs.get(profile, ()))


def data_status(need: DataNeed, data_dir: str | None) -> str | None:
    """None when `need` is met in `data_dir`, else one line saying what is missing and what to do."""
    from . import data

    if need.dataset in UNREADABLE:
        files, why = UNREADABLE[need.dataset]
        if data_dir is None:
            return (f"{need.dataset} ({need.train:,} training images, {need.source}) needs a data directory holding "
                    f"{', '.join(files)} (docs/data.md); pass --data-dir; and even then: {why}")
        absent = [f for f in files if not (Path(data_dir) / f).exists()]
        if absent:
            return (f"{need.dataset} not found in {data_dir}: {', '.join(absent)} missing (layout: docs/data.md; "
                    f"{need.source})")
        return f"{need.dataset} found in {data_dir}, but {why}"
    if data_dir is None:
        return (f"{need.dataset} ({need.train:,} train / {need.test:,} test images, {need.source}) needs a data "
                f"directory: pass --data-dir or set HARNESS_DATA_DIR (layout: docs/data.md); the bundled digits "
                "never stand in at this profile")
    try:
        ds = data.load(need.dataset, data_dir, fallback=None)
    except DataError as e:
        return str(e)
    have = (len(ds.x_train), len(ds.x_test))
    if have[0] < need.train or have[1] < need.test:
        full = READABLE[need.dataset]
        return (f"{need.dataset} in {data_dir} holds {have[0]:,} training and {have[1]:,} test images ({ds.source}); "
                f"this profile needs {need.train:,} and {need.test:,} ({need.source}): install the full set "
                f"({full[0]:,} + {full[1]:,}; layout: docs/data.md) or run a smaller profile")
    if need.blocked:
        return f"{need.dataset} found in {data_dir}, but {need.blocked}"
    return None


def check_data(papers: Sequence[Paper], profile: str, data_dir: str | None) -> None:
    """Raise DataError (exit 2) naming every unmet data need of `profile` in `papers`, before anything runs."""
    problems = [f"{p.key}/{n.experiment}: {msg}" for p in papers for n in needs(p, profile)
                if (msg := data_status(n, data_dir)) is not None]
    if problems:
        lead = problems[0] if len(problems) == 1 else f"{len(problems)} data needs unmet; first: {problems[0]}"
        raise DataError(f"--profile {profile}: {lead}")


def require_profile(paper: Paper, profile: str) -> None:
    if profile not in paper.profiles():
        raise ConfigError(f"{paper.key} has no {profile!r} profile; it has {', '.join(paper.profiles())}")
