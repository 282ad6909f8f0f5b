"""The executor: every experiment over seeds in each framework, here, in worker processes or as Ray tasks.

Seed runs are saved as they finish (`runs.jsonl`), so an interrupted reproduction loses nothing and
`--resume` continues it; a saved run is reused only when its key (config, data, code, threads) matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import cache
from pathlib import Path

from . import execution, registry
from .errors import ConfigError, TrainingDivergedError
from .spec import Experiment, Paper, RunContext

SeedMetrics = dict[str, float]


class DivergedSeed(dict):
    """A seed run whose training diverged (NaN or inf; harness.training.check_finite): it has no metric, so
    every claim input reads NaN for it, and `message` says where it diverged. Claims count such seeds and
    every verdict that used them says so (claims.evaluate, tables.claim_verdict)."""

    def __init__(self, message: str):
        super().__init__()
        self.message = message
BACKENDS = ("local", "ray")  # where seeds run: this machine's processes, or Ray tasks


def config_dict(config) -> dict:
    if is_dataclass(config):
        return json.loads(json.dumps(asdict(config), default=str))
    return {"value": repr(config)}


def config_hash(config) -> str:
    return hashlib.sha256(json.dumps(config_dict(config), sort_keys=True).encode()).hexdigest()[:12]


def seeds_for(experiment: Experiment, profile: str, override: int | None) -> list[int]:
    if profile not in experiment.configs:
        raise ConfigError(
            f"experiment {experiment.name!r} has no {profile!r} profile; it has: {', '.join(experiment.configs)}"
        )
    n = override if override is not None else experiment.seeds[profile]
    if n < 1:
        raise ConfigError(f"--seeds must be at least 1, got {n}")
    return list(range(n))


@dataclass
class PaperPlan:
    """One paper's seed runs for a command: every task (framework, experiment, seed, run key), the identity of
    each experiment's data and code, and the results so far (saved ones first, see `plan_paper`)."""

    paper: Paper
    profile: str
    data_dir: str | None
    identities: dict[str, dict]
    tasks: list[tuple]  # (framework, experiment, seed, key)
    done: dict[tuple, tuple] = field(default_factory=dict)  # key -> (metrics, dataset, curves, diverged)
    ran: int = 0  # seeds run now (not reused)
    cpu_by: dict = field(default_factory=dict)  # (framework, experiment) -> [seeds run now, their CPU seconds]

    @property
    def cpu_seconds(self) -> float:
        """The CPU time of the seeds run now, each measured in the process that ran it."""
        return sum(cpu for _, cpu in self.cpu_by.values())

    def pending(self) -> list[tuple]:
        return [t for t in self.tasks if t[3] not in self.done]

    def complete(self) -> bool:
        return all(t[3] in self.done for t in self.tasks)

    def finish(self, key, result, on_seed=None, on_note=None) -> None:
        """Keep a seed's result (from `_run_seed`) and pass its entry to `on_seed` to be saved at once."""
        metrics, dataset, seed_curves, diverged, cpu = result
        self.done[key] = (metrics, dataset, seed_curves, diverged)
        self.ran += 1
        spent = self.cpu_by.setdefault((key[2], key[1]), [0, 0.0])
        spent[0] += 1
        spent[1] += cpu
        if diverged:  # a finding, not a crash: the other seeds go on and the claims count this one
            (on_note or print)(f"{self.paper.key} {key[1]} [{key[2]}] seed {key[3]} diverged ({diverged}); saved "
                               "as diverged: it fails the claims that use it, and every verdict says so")
        if on_seed:
            on_seed({"key": list(key), "metrics": metrics, "dataset": dataset,
                     "identity": self.identities[key[1]], "cpu_seconds": round(cpu, 3),
                     **({"curves": seed_curves} if seed_curves else {}),
                     **({"diverged": diverged} if diverged else {})})

    def runs(self, datasets: dict | None = None, curves: dict | None = None) -> dict[tuple[str, str], list]:
        """(framework, experiment) -> per-seed metrics (a DivergedSeed where training diverged); `datasets` and
        `curves`, when given, are filled as `run_experiments` documents."""
        runs: dict[tuple[str, str], list[SeedMetrics]] = {}
        for framework, exp, _, key in self.tasks:
            metrics, dataset, seed_curves, diverged = self.done[key]
            runs.setdefault((framework, exp.name), []).append(DivergedSeed(diverged) if diverged else metrics)
            if datasets is not None:
                datasets.setdefault((framework, exp.name), set()).add(dataset)
            if curves is not None:
                curves.setdefault((framework, exp.name), []).append(seed_curves)
        return runs


def plan_paper(paper: Paper, profile: str, frameworks: Sequence[str], seeds: int | None, data_dir: str | None,
               saved: dict[tuple, dict] | None = None, on_note: Callable[[str], None] | None = None) -> PaperPlan:
    """Every seed run of `paper` at `profile`, with the saved runs (resume) whose whole key matches already
    done; `on_note` (default: print) is told, once per experiment and framework, which saved runs were not
    reused and why. A missing profile, a bad seed count or a data directory without the data: an error here,
    before any work."""
    saved = saved or {}
    for exp in paper.experiments:
        seeds_for(exp, profile, seeds)
    identities = {exp.name: run_identity(paper, exp, profile, data_dir) for exp in paper.experiments}
    tasks = [(framework, exp, seed,
              run_key(paper, exp, framework, seed, profile, exp.configs[profile], identities[exp.name]))
             for framework in frameworks for exp in paper.experiments
             for seed in seeds_for(exp, profile, seeds)]
    done = {key: (saved[key]["metrics"], saved[key].get("dataset") or exp.dataset, saved[key].get("curves") or {},
                  saved[key].get("diverged"))
            for _, exp, _, key in tasks if key in saved}
    for note in _not_reused(paper.key, tasks, saved, done, identities):
        (on_note or print)(note)
    return PaperPlan(paper, profile, data_dir, identities, tasks, done)


def run_plans(plans: Sequence[PaperPlan], jobs: int = 1, backend: str = "local", address: str | None = None,
              device: str = "cpu", on_seed=None, on_note=None, on_complete=None, progress_factory=None) -> None:
    """Run every pending seed of every plan: here, in `jobs` worker processes, or as Ray tasks, all papers'
    seeds in one queue (no core waits for a paper's last seed while another paper's seeds could run). Each
    result is kept and saved (`on_seed`) as it arrives; `on_complete(plan)` is called for each plan once it
    and every plan before it are complete, so papers are reported in their order as soon as they can be."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown executor {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise ConfigError("--address names a Ray cluster: use it with --executor ray")
    reported = 0

    def report_complete() -> None:
        nonlocal reported
        while reported < len(plans) and plans[reported].complete():
            if on_complete:
                on_complete(plans[reported])
            reported += 1

    def finish(plan: PaperPlan, task, result) -> None:
        plan.finish(task[3], result, on_seed, on_note)
        report_complete()

    report_complete()  # papers whose every seed was saved
    pending = [(plan, task) for plan in plans for task in plan.pending()]
    if backend == "ray" and pending:
        from . import ray_executor

        ray_executor.run_in_ray(pending, finish, progress_factory, address, device)
    elif jobs > 1 and len(pending) > 1:
        _run_in_workers(pending, jobs, finish, progress_factory)
    else:
        _run_here(pending, finish, progress_factory)


def run_experiments(
    paper: Paper,
    profile: str,
    frameworks: Sequence[str],
    seeds: int | None,
    data_dir: str | None,
    saved: dict[tuple, dict] | None = None,
    on_seed: Callable[[dict], None] | None = None,
    progress_factory=None,
    datasets: dict[tuple[str, str], set[str]] | None = None,
    jobs: int = 1,
    on_note: Callable[[str], None] | None = None,
    backend: str = "local",
    address: str | None = None,
    device: str = "cpu",
    curves: dict[tuple[str, str], list[dict]] | None = None,
) -> dict[tuple[str, str], list[SeedMetrics]]:
    """Run every experiment for every framework and seed; (framework, experiment) -> per-seed metrics.

    `saved` maps run keys (see `run_key`) to entries saved by an earlier run ({"metrics": ..., "dataset":
    ...}; resume); `on_seed(entry)` is called after each seed so the caller can persist it at once.
    `datasets`, when given, is filled with (framework, experiment) -> the datasets the seeds actually used
    (an experiment's run may return a string under "dataset", e.g. when it fell back to bundled data).
    `jobs` > 1 runs seeds in that many worker processes (each pinned to the same numerics, so a seed's
    result does not depend on `jobs`); every seed is still saved as soon as it finishes.
    A saved run is reused only when its whole key matches, identity included (config, data, code, threads);
    `on_note(message)` (default: print) is told, once per experiment and framework, which saved runs were
    not reused and why. `curves`, when given, is filled with (framework, experiment) -> each seed's training
    curves (see harness.curves; {} for a seed that logged none or was saved without them).
    `backend` "ray" runs every seed as a Ray task (see ray_executor; `address` names a cluster, else a local
    instance is started; `device` a GPU makes each task ask for one) instead of the local processes.
    Several papers in one queue: `plan_paper` each, then `run_plans`.
    """
    if backend not in BACKENDS:  # before the plan reads any data
        raise ConfigError(f"unknown executor {backend!r}; choose one of: {', '.join(BACKENDS)}")
    plan = plan_paper(paper, profile, frameworks, seeds, data_dir, saved, on_note)
    run_plans([plan], jobs, backend, address, device, on_seed, on_note, progress_factory=progress_factory)
    return plan.runs(datasets, curves)


def _run_seed(paper: Paper, exp: Experiment, framework: str, seed: int, profile: str, data_dir, progress=None):
    """-> (metrics, dataset, training curves, None, CPU seconds) of one seed run; ({}, dataset, the curves up
    to the divergence, where it diverged, CPU seconds) when its training diverged. The CPU time is this
    process's (every thread's) over the run: the one figure that adds up across workers and Ray nodes."""
    from .curves import CurveLog

    log = CurveLog()
    ctx = RunContext(framework=framework, seed=seed, profile=profile, data_dir=data_dir,
                     make_model=_model_factory(registry.model_class(paper, framework),
                                               execution.repro_mode(paper, framework), execution.run_device()),
                     progress=progress or (lambda n: None), log=log)
    cpu_start = time.process_time()
    try:
        out = exp.run(ctx, exp.configs[profile])
    except TrainingDivergedError as e:
        return {}, exp.dataset, log.curves, str(e), time.process_time() - cpu_start
    return (*split_metrics(out, exp), log.curves, None, time.process_time() - cpu_start)


def _run_here(pending, finish, progress_factory) -> None:
    """One seed after another in this process, with a progress bar per (paper, framework, experiment)."""
    groups: dict[tuple, list] = {}
    for plan, task in pending:
        groups.setdefault((id(plan), task[0], task[1].name), []).append((plan, task))
    for group in groups.values():
        plan, (framework, exp, _, _) = group[0]
        bar = progress_factory(f"{plan.paper.key} {exp.name} [{framework}]",
                               exp.units(exp.configs[plan.profile]) * len(group)) if progress_factory else None
        for _, task in group:
            finish(plan, task, _run_seed(plan.paper, exp, framework, task[2], plan.profile, plan.data_dir,
                                         bar.update if bar else None))
        if bar:
            bar.close()


def _seed_args(plan: PaperPlan, task) -> tuple:
    """The arguments of `_seed_in_worker` for a pending (framework, experiment, seed, key): what a worker
    process or a Ray task is sent (names only: the worker imports the paper itself)."""
    framework, exp, seed, _ = task
    return plan.paper.key, exp.name, framework, seed, plan.profile, plan.data_dir


def _seed_in_worker(paper_key: str, exp_name: str, framework: str, seed: int, profile: str, data_dir):
    paper = registry.get(paper_key)  # the worker finds the registry through the same environment
    return _run_seed(paper, paper.experiment(exp_name), framework, seed, profile, data_dir)


def _die_with_parent(parent_pid: int) -> None:
    """Worker initializer: the kernel kills this worker when its parent dies, whatever killed the parent
    (SIGKILL included, which no handler in the parent can see). Linux only (prctl); elsewhere the parent's
    SIGTERM handler and Ctrl-C still end the workers."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def queue_name(pending) -> str:
    """What a progress bar over pending (plan, task) runs is called: the paper's key, or "N papers"."""
    papers = list(dict.fromkeys(plan.paper.key for plan, _ in pending))
    return papers[0] if len(papers) == 1 else f"{len(papers)} papers"


def _run_in_workers(pending, jobs, finish, progress_factory) -> None:
    """Seeds in `jobs` worker processes (see `worker_pool`), in the order given; one progress bar."""
    units = {i: task[1].units(task[1].configs[plan.profile]) for i, (plan, task) in enumerate(pending)}
    bar = progress_factory(f"{queue_name(pending)} [{jobs} workers]", sum(units.values())) if progress_factory else None
    try:
        with worker_pool(jobs) as pool:
            calls = {i: (_seed_in_worker, *_seed_args(plan, task)) for i, (plan, task) in enumerate(pending)}
            for i, result in as_finished(pool, calls):
                finish(*pending[i], result)
                if bar:
                    bar.update(units[i])
    finally:
        if bar:
            bar.close()


@contextlib.contextmanager
def worker_pool(jobs: int):
    """`jobs` fresh processes ("spawn": no framework state is inherited; each pins its numerics on import, as
    this one does). They end with this process: on an error, Ctrl-C or SIGTERM (raised here as an exception,
    see cli) they are terminated at once instead of finishing their work; on SIGKILL the kernel ends them."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        _terminate(pool)
        raise
    else:
        pool.shutdown(wait=True)


def as_finished(pool, calls: dict):
    """Submit each `key: (function, *args)` and yield (key, result) as each finishes; a worker's exception is
    raised here."""
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = {pool.submit(*call): key for key, call in calls.items()}
    remaining = set(futures)
    while remaining:
        finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
        for future in finished:
            yield futures[future], future.result()


def _terminate(pool) -> None:
    """Stop a ProcessPoolExecutor's workers now (shutdown alone would wait for their running seeds)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    for p in processes:
        p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()


def split_metrics(out: dict, exp: Experiment) -> tuple[SeedMetrics, str]:
    """An experiment's return value -> (float metrics, the dataset it used).

    Every value must be a number, except an optional string under "dataset" (what the seed actually
    trained on, e.g. a fallback); without one, the experiment's declared dataset is recorded."""
    out = dict(out)
    dataset = out.pop("dataset", None) or exp.dataset
    if not isinstance(dataset, str):
        raise TypeError(f"experiment {exp.name!r}: 'dataset' must be a string, got {type(dataset).__name__}")
    metrics = {}
    for k, v in out.items():
        try:
            metrics[k] = float(v)
        except (TypeError, ValueError):
            raise TypeError(f"experiment {exp.name!r}: metric {k!r} is {v!r}, not a number") from None
    return metrics, dataset


def _model_factory(model_cls, mode: str | None = None, device: str = "cpu"):
    def make(config, seed: int, dtype: str = "float32"):
        return execution.build_model(model_cls, config, seed, dtype, mode, device)

    return make


def run_identity(paper: Paper, exp: Experiment, profile: str, data_dir) -> dict[str, str | int]:
    """Everything besides the seed that determines a seed run's metrics: the config, the data (see
    data.fingerprint), the code that trains (the paper's package and the data readers) and the thread count
    (a sum over more threads rounds differently), and each framework's execution mode and device."""
    from . import data, numerics

    return {"config": config_hash(exp.configs[profile]), "data": data.fingerprint(exp.dataset, data_dir),
            "code": code_hash(paper.package), "threads": numerics.THREADS,
            "execution": execution.run_label(paper)}


# Harness modules that only judge, record, price or show seed runs, never compute a run's metrics: editing one
# keeps saved runs reusable. Every other harness module (the adapters, conventions, the training loop, the data
# readers, numerics, this executor; any module added later) is part of a run's code identity.
NOT_RUN_CODE = frozenset({
    "__init__", "__main__", "agreement", "baseline", "bench", "bench_hw", "bench_modes", "bench_plain",
    "bench_regress", "bench_table", "claims", "cli", "compare", "consistency", "diagnosis", "fidelity", "modes",
    "plan", "plots", "repro", "report", "results", "tables", "tolerance", "version_matrix",
})


def code_files(package: str) -> list[Path]:
    """The paper package's Python files and the harness modules a seed run executes (all but NOT_RUN_CODE)."""
    import importlib

    folders = [Path(f) for f in importlib.import_module(package).__path__]
    harness = sorted(p for p in Path(__file__).parent.glob("*.py") if p.stem not in NOT_RUN_CODE)
    return sorted(p for folder in folders for p in folder.glob("*.py")) + harness


@cache
def code_hash(package: str) -> str:
    """sha256 of `code_files`: a run saved by other training code is not reused (`--resume`)."""
    digest = hashlib.sha256()
    for path in code_files(package):
        digest.update(path.parent.name.encode() + b"/" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def run_key(paper, exp, framework, seed, profile, config, identity: dict | None = None) -> tuple:
    """(paper, experiment, framework, seed, profile, config hash[, identity hash]): equal keys, equal runs."""
    key = (paper.key, exp.name, framework, int(seed), profile, config_hash(config))
    if identity is None:
        return key
    return (*key, hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12])


def _not_reused(paper_key: str, tasks, saved: dict, done: dict, identities: dict) -> list[str]:
    """One line per (framework, experiment) with saved runs that do not match now, saying what changed."""
    by_seed = {tuple(key[:5]): entry for key, entry in saved.items()}  # the last saved entry per seed
    stale: dict[tuple[str, str], tuple[int, str]] = {}
    for framework, exp, _, key in tasks:
        entry = by_seed.get(key[:5])
        if key in done or entry is None:
            continue
        old, now = entry.get("identity"), identities[exp.name]
        if old is None:
            why = "saved by an older harness that did not record the data and code it used"
        else:
            why = "; ".join(f"{what} changed (saved: {old.get(what)!r:.120}; now: {now.get(what)!r:.120})"
                            for what in sorted(set(now) | set(old)) if old.get(what) != now.get(what))
        count, first_why = stale.get((framework, exp.name), (0, why or "its key differs"))
        stale[(framework, exp.name)] = (count + 1, first_why)
    return [f"note: not reusing {n} saved seed run(s) of {paper_key}/{exp_name} [{framework}]: {why}; "
            "running them again" for (framework, exp_name), (n, why) in stale.items()]
