"""python -m harness {list, agree, reproduce, diagnose, bench, table, report, compare, repair}.

Errors the user can fix print one line (`error: ...`) and exit 2; a failed check or claim exits 1;
an interruption exits 128 + the signal (130 Ctrl-C, 143 SIGTERM) after saying what was kept.
Neither framework is imported until a verb needs one (`list` imports neither).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import registry, results
from .errors import ConfigError, HarnessError, ResultsError, Terminated
from .spec import DTYPES, FRAMEWORKS, PROFILES

RESULTS_ENV = "HARNESS_RESULTS"
RESULTS_DIR = Path("results")  # made absolute by `main` from --results-dir > $HARNESS_RESULTS > ./results
_SINKS: list[_Sink] = []  # what this command has written, for the message after an interruption
_CLEANUP = contextlib.ExitStack()  # sessions a verb opened (a Ray instance), closed when main returns


def _out_wrapped(text: str) -> None:
    """A long message line, wrapped to the terminal's 120 columns (continuation lines indented)."""
    import textwrap

    from .tables import TERMINAL_WIDTH

    _out(textwrap.fill(text, TERMINAL_WIDTH, subsequent_indent="    ", break_on_hyphens=False))


def _out(text: str = "") -> None:
    """print to stdout; a closed pipe (`... | head`) silences the rest instead of raising, so the verb still
    returns its verdict's exit code (`compare ... | head` in CI must not turn a pass into a failure)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (captured in a test)
        pass
    finally:
        os.close(devnull)


class _Sink:
    """Saves records (or seed runs) as each check finishes. A write failure (disk full, ...) is kept, not
    raised: the work goes on, its results are printed, and the failure is reported at the end (exit 2)."""

    def __init__(self, path: Path, write):
        self.path, self._write, self.written, self.error = path, write, 0, None
        _SINKS.append(self)

    def add(self, items) -> None:
        if self.error is None:
            with _signals_deferred():  # an interruption between the write and the count would make it false
                try:
                    n = self._write(self.path, items)
                    self.written += n if isinstance(n, int) else 1
                except ResultsError as e:
                    self.error = e

    def finish(self) -> None:
        if self.error is not None:
            raise ResultsError(f"{self.error} ({self.written} written before the failure; the results above "
                               "were computed but not all saved)")


_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_deferring = 0  # > 0 while a write and its count are under way
_pending: list[int] = []
_raised: list[int] = []  # the signal of each interruption raised, in order (what the exit code reports)


def _interruption(signum: int) -> KeyboardInterrupt:
    # recorded here, not read back from the exception: Ray's C layer can re-raise ours as a bare KeyboardInterrupt
    _raised.append(signum)
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _on_interrupt(signum, frame) -> None:
    """SIGINT, SIGTERM, SIGHUP unwind like Ctrl-C (workers are ended, the message says what was kept),
    except inside `_signals_deferred`, where they wait for the block's end."""
    if _deferring:
        _pending.append(signum)
        return
    raise _interruption(signum)


@contextlib.contextmanager
def _signals_deferred():
    """An interruption between a write and its count would make the message about kept records false. The
    deferral is done in Python: blocking the signal in this thread would not stop another thread (a pool's
    manager, a progress bar's monitor) from receiving it and Python from running the handler here anyway."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending:
        signum = _pending[0]
        _pending.clear()
        raise _interruption(signum)


def _bench_threads(value: str) -> str:
    if value in ("pinned", "all") or (value.isdigit() and int(value) > 0):
        return value
    raise argparse.ArgumentTypeError(f"expected 'pinned', 'all' or a positive count, got {value!r}")


def _records_sink() -> _Sink:
    from . import results

    return _Sink(RESULTS_DIR / "records.jsonl", results.append)


def _results_dir(arg: str | None) -> Path:
    """--results-dir > $HARNESS_RESULTS > ./results, `~` expanded, absolute (every message names it whole).
    An empty value is refused: it would mean the current directory, e.g. the repository root."""
    if arg is not None:
        chosen, origin = arg, "--results-dir"
    elif RESULTS_ENV in os.environ:
        chosen, origin = os.environ[RESULTS_ENV], f"${RESULTS_ENV}"
    else:
        chosen, origin = "results", ""
    if not chosen.strip():
        raise ConfigError(f"{origin} is empty (it would mean the current directory); name a results directory "
                          f"or {'unset it' if arg is None else 'leave the flag out'} for ./results")
    return Path(chosen).expanduser().absolute()


def _writable_results_dir() -> Path:
    """Checked before any work starts, so no work is lost to an unwritable destination at the end."""
    where = RESULTS_DIR
    for folder in (where, *where.parents):
        if folder.exists() and not folder.is_dir():
            raise ResultsError(f"results directory {where} cannot be used: {folder} is a file, not a directory; "
                               "choose another with --results-dir or $HARNESS_RESULTS")
    if (why := results.unwritable_dir(where)) is not None:
        raise ResultsError(f"results directory {where} is not writable ({why}); choose another with "
                           "--results-dir or $HARNESS_RESULTS")
    for name in ("records.jsonl", "runs.jsonl"):
        if (where / name).exists() and not (where / name).is_file():
            raise ResultsError(f"{where / name} is not a regular file; move it away or choose another "
                               "--results-dir")
    return where


def _warn(path: Path, problems: list[str]) -> None:
    """Each skipped line once, then how to stop seeing them."""
    for p in problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    if problems:
        print(f"warning: {len(problems)} corrupt line(s) in {path} were skipped and never used; "
              f"`python -m harness repair` moves them to {path.name}.corrupt", file=sys.stderr)


def _progress_factory():
    from tqdm.auto import tqdm

    def make(desc: str, total: int):
        return tqdm(total=total or None, desc=desc, unit="", leave=False, disable=None, file=sys.stderr)

    return make


def _data_dir(arg: str | None) -> str | None:
    """--data-dir > $HARNESS_DATA_DIR (`~` expanded) as an absolute path, or None: bundled data only."""
    from . import data

    if arg is not None and not arg.strip():
        raise ConfigError("--data-dir is empty; name the directory that holds mnist/ and cifar10/, or leave the "
                          "flag out for the bundled digits")
    path = data.resolve_data_dir(arg)
    return None if path is None else str(path)


# --- verbs -------------------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    from tabulate import tabulate

    rows = []
    for p in registry.papers().values():
        rows.append([p.key, p.year, p.title, len(p.experiments), len(p.claims), len(p.agreement),
                     ",".join(p.profiles())])
    _out(tabulate(rows, headers=["paper", "year", "title", "experiments", "claims", "agreement cases",
                                 "profiles"]))
    return 0


def cmd_agree(args) -> int:
    from tabulate import tabulate

    from . import agreement, execution, numerics

    papers = registry.select(args.paper)
    _writable_results_dir()
    dtypes = (args.dtype,) if args.dtype else DTYPES
    device = execution.resolve_device(args.device)
    plan = {p.key: agreement.sides_for(p, args.mode, args.mode_torch, args.mode_tf, device, args.against)
            for p in papers}  # every paper's modes checked before anything runs
    sink = _records_sink()
    bar = _progress_factory()("agree", sum(len(agreement.cases(p, args.skip_slow)) * len(plan[p.key])
                                           for p in papers) * len(dtypes))
    if args.jobs > 1:
        checks, env = _agree_in_workers(papers, plan, dtypes, args, device, sink, bar)
    else:
        env = numerics.environment(FRAMEWORKS, device)
        checks = []
        for paper in papers:
            for sides in plan[paper.key]:
                checks += agreement.run_paper(
                    paper, dtypes, progress=bar.update, skip_slow=args.skip_slow, repro_dir=RESULTS_DIR / "repro",
                    on_case=lambda done: sink.add([c.to_record(env) for c in done]),  # Ctrl-C keeps finished cases
                    sides=sides)
    bar.close()
    passed = all(c.passed for c in checks)
    if args.json:
        _out(json.dumps({"passed": passed, "numerics": env, "checks": [c.to_json() for c in checks]}, indent=1))
    else:
        rows = [[c.name, f"{c.max_abs:.2e}", f"{c.max_rel:.2e}", f"{c.tol:.1e}",
                 c.first_divergence or "", "pass" if c.passed else "FAIL"] for c in checks]
        _out(tabulate(rows, headers=["check", "max abs", "max rel", "tol", "first divergence", "verdict"]))
        for c in checks:
            if not c.passed:
                _out_wrapped(f"FAIL {c.name}: {c.detail}")
            if c.tol_reason:
                _out_wrapped(f"note {c.name}: tolerance override: {c.tol_reason}")
            for finding in c.findings:
                _out_wrapped(f"finding {c.name}: {finding}")
        for bundle in sorted({RESULTS_DIR / "repro" / f"{c.paper}-{c.case}-{c.dtype}" for c in checks if not c.passed}):
            _out(f"repro bundle: {bundle} (run: python {bundle / 'repro.py'})")
        _out(f"{sum(c.passed for c in checks)}/{len(checks)} agreement checks passed")
    sink.finish()
    print(f"{sink.written} records appended to {sink.path}", file=sys.stderr)
    return 0 if passed else 1


def _agree_in_workers(papers, plan, dtypes, args, device, sink, bar):
    """agree --jobs N: each (paper, sides, case) in one of N worker processes; this process alone writes the
    records, each case's as it finishes (Ctrl-C keeps them). -> the checks in the serial run's order, and the
    numerics environment (the workers', which run the same pinning as this process)."""
    from . import agreement, executor, numerics

    calls = {}
    for paper in papers:
        for sides in plan[paper.key]:
            for index, _ in enumerate(agreement.cases(paper, args.skip_slow)):
                calls[len(calls)] = (agreement.check_case_in_worker, paper.key, index, dtypes, args.skip_slow,
                                     RESULTS_DIR / "repro", sides, FRAMEWORKS, device)
    done, env = {}, None
    with executor.worker_pool(args.jobs) as pool:
        for order, (checks, env) in executor.as_finished(pool, calls):
            done[order] = checks
            sink.add([c.to_record(env) for c in checks])
            bar.update(len(dtypes))
    if env is None:  # no case ran
        env = numerics.environment(FRAMEWORKS, device)
    return [c for order in sorted(done) for c in done[order]], env


def _with_tensorboard(directory: str | None):
    """-> wrap(save_seed): a seed-run callback that saves the run and, with --tensorboard DIR, also writes
    its curves as event files. The directory is checked now (ConfigError, exit 2, when it cannot be written)."""
    from . import curves

    if directory is None:
        return lambda save: save
    root = curves.check_tensorboard_dir(directory)

    def wrap(save):
        def save_and_write(entry):
            save(entry)
            curves.write_tensorboard(root, entry)
        return save_and_write

    return wrap


def cmd_reproduce(args) -> int:
    from . import claims, curves, execution, executor, numerics, report, results

    papers = registry.select(args.paper)
    device = execution.resolve_device(args.device)
    os.environ[execution.RUN_DEVICE_ENV] = device  # read by the model factory, here and in worker processes
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    executor_options = _executor_options(args)  # a bad flag or an unreachable cluster: exit 2 before any work
    for paper in papers:  # refuse before loading any framework
        if args.profile not in paper.profiles():
            raise ConfigError(f"{paper.key} has no {args.profile!r} profile; it has {', '.join(paper.profiles())}")
    data_dir = _data_dir(args.data_dir)
    if args.plan:
        return _print_plan(papers, args.profile, frameworks, args.seeds, data_dir)
    from . import profiles

    profiles.check_data(papers, args.profile, data_dir)  # the paper profile's full datasets, or exit 2 now
    for paper in papers:  # a named data directory without the data: exit 2 now, naming the missing files
        for exp in paper.experiments:
            if args.profile in exp.configs:
                executor.run_identity(paper, exp, args.profile, data_dir)
    _writable_results_dir()
    on_seed = _with_tensorboard(args.tensorboard)  # an unwritable DIR: exit 2 here, before any training
    runs_path = RESULTS_DIR / "runs.jsonl"
    saved = {}
    if args.resume and runs_path.exists():
        entries, problems = results.read_runs(runs_path)
        _warn(runs_path, problems)
        saved = {tuple(e["key"]): e for e in entries}
    env = numerics.environment(frameworks, device)
    runs_sink, sink = _Sink(runs_path, results.append_run), _records_sink()
    all_records, fallbacks = [], {}
    start = time.perf_counter()
    # CPU time is the figure that repeats on a shared machine; wall time is what the user waited.
    plans = [executor.plan_paper(paper, args.profile, frameworks, args.seeds, data_dir, saved,
                                 on_note=lambda note: print(note, file=sys.stderr)) for paper in papers]

    def paper_complete(plan) -> None:
        """A paper's claims, as soon as its seeds (and every earlier paper's) are done."""
        paper, used, seed_curves = plan.paper, {}, {}
        runs = plan.runs(used, seed_curves)
        claim_results, consistency = claims.evaluate_all(paper, runs, frameworks)
        records = claims.records(paper, args.profile, claim_results, consistency,
                                 {**env, "execution": execution.run_execution(paper)}, data_dir, used)
        curves.attach(records, paper, seed_curves)
        sink.add(records)
        all_records.extend(records)
        for (framework, exp), labels in used.items():
            for label in labels:
                if "FALLBACK" in label:
                    fallbacks.setdefault(f"{paper.key}/{exp}", set()).add(framework)
        reused = f", {len(plan.tasks) - plan.ran} reused" if plan.ran < len(plan.tasks) else ""
        print(f"{paper.key}: done {time.perf_counter() - start:.1f} s into the run; {plan.ran} seed runs, "
              f"{plan.cpu_seconds:.1f} s CPU{reused}", file=sys.stderr)

    executor.run_plans(plans, args.jobs, on_seed=on_seed(runs_sink.add),
                       on_note=lambda note: print(note, file=sys.stderr), on_complete=paper_complete,
                       progress_factory=_progress_factory(), device=device, **executor_options)
    # The seeds' CPU is measured where each ran (a Ray node's too); the process figure adds imports and the
    # driver, and counts local workers only (Ray's are not this process's children).
    print(f"reproduce: {time.perf_counter() - start:.1f} s wall, {sum(p.cpu_seconds for p in plans):.1f} s CPU in "
          f"the seeds, {_cpu_seconds():.1f} s in this process and its local workers", file=sys.stderr)
    if any(p.ran for p in plans):
        print(_where_the_cpu_went(plans), file=sys.stderr)
    _out(report.verdict_summary(all_records, RESULTS_DIR))  # printed before the last writes can fail
    if fallbacks:  # the silent path exists only without a data directory; even then it is said, here
        which = ", ".join(f"{k} [{', '.join(sorted(v))}]" for k, v in fallbacks.items())
        _out(f"NOTE: no data directory was given, so {which} ran on scikit-learn's bundled 8x8 digits, not the "
             "paper's dataset (records say FALLBACK); pass --data-dir DIR or set HARNESS_DATA_DIR for the real data")
    runs_sink.finish()
    sink.finish()
    print(f"{sink.written} records appended to {sink.path}", file=sys.stderr)
    failed = [r for r in all_records if r["passed"] is False]
    return 1 if failed else 0


def _where_the_cpu_went(plans, shown: int = 8) -> str:
    """The experiments (per framework) whose seeds took the most CPU in this run, with their share: where a
    faster reproduction has to come from (every seed's own figure is in runs.jsonl, `cpu_seconds`)."""
    import pandas as pd

    from . import tables

    spent = pd.DataFrame([(plan.paper.key, exp, framework, seeds, cpu) for plan in plans
                          for (framework, exp), (seeds, cpu) in plan.cpu_by.items()],
                         columns=["paper", "experiment", "framework", "seeds", "cpu"])
    spent = spent.sort_values("cpu", ascending=False, kind="stable")
    share = 100 * spent["cpu"] / (spent["cpu"].sum() or 1.0)
    top = spent.head(shown).assign(**{"CPU s": spent["cpu"].map("{:.1f}".format),
                                      "share": share.map("{:.1f}%".format)}).drop(columns="cpu")
    rest = f"; the other {len(spent) - shown}: {share.iloc[shown:].sum():.1f}%" if len(spent) > shown else ""
    return f"where the CPU went ({len(spent)} experiment x framework{rest}):\n" + tables.to_terminal(top)


def _curve_note(note: str) -> None:
    """A curve's other budgets are saved runs of the same seeds with another config: not worth a note each."""
    if not ("config changed" in note and note.count("changed (") == 1):
        print(note, file=sys.stderr)


def cmd_diagnose(args) -> int:
    """Run the budget curves of the papers' unreproduced claims and record every declared diagnosis
    (harness.diagnosis); records go to diagnoses.jsonl, seed runs to runs.jsonl (--resume reuses them)."""
    from . import diagnosis, executor, numerics, results

    papers = registry.select(args.paper)
    wanted = set(args.claim or ())
    known = {c.claim for p in papers for c in (*p.budget_curves, *p.diagnoses)}
    if wanted - known:
        raise ConfigError(f"no budget curve or diagnosis declared for claim(s) {', '.join(sorted(wanted - known))}; "
                          f"declared: {', '.join(sorted(known)) or 'none'}")
    data_dir = _data_dir(args.data_dir)
    for paper in papers:  # a bad curve declaration or missing data: exit 2 before any training
        for curve in () if args.declared_only else paper.budget_curves:
            if not wanted or curve.claim in wanted:
                for budget in curve.values:
                    cut = diagnosis.curve_paper(paper, curve, budget)
                    for exp in cut.experiments:
                        executor.run_identity(cut, exp, curve.profile, data_dir)
    _writable_results_dir()
    runs_path = RESULTS_DIR / "runs.jsonl"
    saved: dict = {}
    if args.resume and runs_path.exists():
        entries, problems = results.read_runs(runs_path)
        _warn(runs_path, problems)
        saved = {tuple(e["key"]): e for e in entries}
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    env = numerics.environment(frameworks)
    runs_sink = _Sink(runs_path, results.append_run)
    sink = _Sink(RESULTS_DIR / "diagnoses.jsonl", results.append)
    rows = []
    for paper in papers:
        for d in paper.diagnoses:
            if not wanted or d.claim in wanted:
                sink.add([diagnosis.declared_record(paper, d, env)])
                rows.append([paper.key, d.claim, "declared", d.kind, d.summary])
        for curve in paper.budget_curves:
            if (wanted and curve.claim not in wanted) or args.declared_only:
                continue
            start, cpu_start = time.perf_counter(), _cpu_seconds()
            ran = diagnosis.run_curve(paper, curve, frameworks, data_dir, saved, on_seed=runs_sink.add,
                                      progress_factory=_progress_factory(),
                                      on_note=_curve_note)
            records = diagnosis.curve_records(paper, curve, ran, frameworks, env, data_dir)
            sink.add(records)
            d = records[-1]["details"]
            rows.append([paper.key, curve.claim, f"{curve.axis} {list(curve.values)}", d["diagnosis"], d["summary"]])
            print(f"{paper.key}/{curve.claim}: {time.perf_counter() - start:.1f} s wall, "
                  f"{_cpu_seconds() - cpu_start:.1f} s CPU", file=sys.stderr)
    import pandas as pd

    from . import tables

    # no wider than the terminal tables of `reproduce`: the summary column wraps
    _out(tables.to_terminal(pd.DataFrame(rows, columns=["paper", "claim", "evidence", "diagnosis", "summary"])))
    runs_sink.finish()
    sink.finish()
    print(f"{sink.written} records appended to {sink.path}", file=sys.stderr)
    return 0


def _print_plan(papers, profile: str, frameworks, seeds, data_dir) -> int:
    """`reproduce --plan`: the task grid and estimated device-hours; runs nothing, loads no framework."""
    from . import plan

    _out(plan.render(papers, profile, frameworks, seeds, RESULTS_DIR, data_dir))
    return 0


def _executor_options(args) -> dict:
    """--executor/--address for executor.run_experiments; a flag the chosen back end does not use is refused
    (it would otherwise be ignored without a word)."""
    if args.address is not None and args.executor != "ray":
        raise ConfigError(f"--address {args.address} names a Ray cluster: add --executor ray (or leave it out)")
    if args.executor == "ray":
        if args.jobs != 1:
            raise ConfigError("--jobs sizes the local executor's worker pool; with --executor ray the cluster's "
                              "CPUs decide how many seeds run at once: leave out --jobs")
        from . import ray_executor

        # one Ray session for every paper of the command (not one start per paper), ended as main returns
        _CLEANUP.enter_context(ray_executor.session(args.address))
    return {"backend": args.executor, "address": args.address}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished workers (`--jobs`)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def cmd_table(args) -> int:
    from . import report, results, tables
    from .diagnosis import with_diagnoses

    records, problems = results.read(RESULTS_DIR / "records.jsonl")
    _warn(RESULTS_DIR / "records.jsonl", problems)
    records = with_diagnoses(records, RESULTS_DIR)  # the budget curves and diagnoses `diagnose` recorded
    _writable_results_dir()
    _out(tables.render_for_terminal(results.latest(records)))  # printed before anything is written
    figures = report.write_tables(records, RESULTS_DIR)
    print(f"wrote the tables, README.md and {len(figures)} figures under {RESULTS_DIR}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    from . import report

    return report.cli(RESULTS_DIR)


def cmd_compare(args) -> int:
    from . import baseline, results

    # Both read strictly: a skipped line would hide the check it held (exit 2 names the file and line).
    base = baseline.read_records(Path(args.baseline), "baseline")
    current = baseline.read_records(RESULTS_DIR / "records.jsonl", "current records")
    verdict = baseline.compare(results.latest(current), results.latest(base), allow_missing=args.allow_missing)
    _out(verdict.render(list_all=args.list_all))
    return verdict.exit_code


def cmd_bench(args) -> int:
    from . import bench, bench_modes, bench_table, execution, numerics

    papers = registry.select(args.paper)
    _writable_results_dir()
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    for paper in papers:  # an unsupported --mode is a usage error before anything is timed
        for fw in frameworks:
            bench_modes.modes(paper, fw, args.mode)
            for mode, why in bench_modes.not_timed(paper, fw, args.mode).items():
                print(f"{paper.key} {fw}: mode {mode} not timed: {why}", file=sys.stderr)
    threads = None if args.threads == "pinned" else os.cpu_count() if args.threads == "all" else int(args.threads)
    device = execution.resolve_device(args.device)  # a GPU that is not there: ConfigError (exit 2) before timing
    env = numerics.environment(frameworks, device)
    if threads is not None:
        env = {**env, "threads": threads}  # the cases ran in fresh processes with this many threads
    sink = _records_sink()
    rows = []

    def save(r) -> None:  # each figure as it is measured, so Ctrl-C keeps the finished ones
        rows.append(r)
        sink.add([r.to_record(env)])

    for paper in papers:
        if not paper.benchmarks:
            print(f"{paper.key}: declares no benchmark cases", file=sys.stderr)
            continue
        bench.run_paper(paper, frameworks, repeats=args.repeats, min_seconds=args.min_seconds, on_result=save,
                        mode=args.mode, isolate=args.isolate or threads is not None, threads=threads,
                        device=device)
    _out(bench_table.render(rows))
    sink.finish()
    print(f"{sink.written} records appended to {sink.path}", file=sys.stderr)
    return 0


def cmd_repair(args) -> int:
    """Move the corrupt lines of records.jsonl and runs.jsonl to `<file>.corrupt`; the good lines stay."""
    from . import results

    files = [RESULTS_DIR / name for name in ("records.jsonl", "runs.jsonl") if (RESULTS_DIR / name).exists()]
    if not files:
        raise ResultsError(f"no records.jsonl or runs.jsonl in {RESULTS_DIR}; nothing to repair")
    for path in files:
        kept, moved, corrupt = results.quarantine(path)
        _out(f"{path}: {kept} good lines kept" + (f", {moved} corrupt line(s) moved to {corrupt}" if moved else
                                                  ", nothing corrupt"))
    return 0


# --- parser ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # --results-dir is accepted before or after the verb, and listed in each verb's --help.
    results_flag = argparse.ArgumentParser(add_help=False)
    results_flag.add_argument("--results-dir", default=argparse.SUPPRESS, metavar="DIR",
                              help="where records and tables live (default $HARNESS_RESULTS, else ./results)")
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0],
                                     parents=[results_flag])
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name, help):
        return sub.add_parser(name, help=help, parents=[results_flag])

    verb("list", "the registered papers (imports neither framework)").set_defaults(fn=cmd_list)

    p = verb("agree", "agreement checks: forward taps, gradients, trajectories")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--dtype", choices=DTYPES, help="one dtype (default: both)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--skip-slow", action="store_true",
                   help="leave out the cases a paper marks slow (minutes or GBs; the slow test tier runs them)")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="cases in this many worker processes (e.g. one per core; results do not depend on it)")
    _add_execution_flags(p)
    p.set_defaults(fn=cmd_agree)

    p = verb("reproduce", "run the papers' experiments and test their claims")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--profile", choices=PROFILES, default="tiny")
    p.add_argument("--framework", choices=(*FRAMEWORKS, "both"), default="both")
    p.add_argument("--seeds", type=_positive_int, help="seeds per experiment (default: the profile's)")
    p.add_argument("--data-dir", help="dataset directory (default $HARNESS_DATA_DIR; neither: bundled digits, "
                                      "said in the output); a named directory must hold the data")
    p.add_argument("--resume", action="store_true",
                   help="reuse seed runs saved by an interrupted run (only those made from the same config, data "
                        "and code)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu); each paper trains in "
                                                   "its declared execution mode (REPRO_MODE of its impls)")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="seeds in this many worker processes (e.g. one per core; results do not depend on it)")
    p.add_argument("--plan", action="store_true",
                   help="print the task grid and estimated device-hours per device kind (from the bench records "
                        "in the results directory) and exit; runs nothing")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where seeds run: local processes (default), or one Ray task each (results do not depend "
                        "on it)")
    p.add_argument("--address", metavar="ADDR",
                   help="with --executor ray: join this Ray cluster ('auto', 'ray://HOST:10001'); default: start a "
                        "local Ray instance sized to this machine")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also write each seed run's training curves as TensorBoard event files under DIR "
                        "(one run per paper, experiment, framework and seed)")
    p.set_defaults(fn=cmd_reproduce)

    p = verb("diagnose", "run the budget curves of claims that do not reproduce and record their diagnoses")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--claim", action="append", help="only this claim's curve or diagnosis (repeatable)")
    p.add_argument("--framework", choices=(*FRAMEWORKS, "both"), default="both")
    p.add_argument("--data-dir", help="dataset directory (default $HARNESS_DATA_DIR)")
    p.add_argument("--resume", action="store_true", help="reuse seed runs saved by an interrupted run")
    p.add_argument("--declared-only", action="store_true",
                   help="record the diagnoses declared in paper.py without running any budget curve")
    p.set_defaults(fn=cmd_diagnose)

    p = verb("bench", "throughput of both frameworks on the same work (figures, not asserts)")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--framework", choices=(*FRAMEWORKS, "both"), default="both")
    p.add_argument("--repeats", type=_positive_int, default=3)
    p.add_argument("--min-seconds", type=_positive_seconds, default=1.0, help="minimum time per repeat (> 0)")
    p.add_argument("--mode", default=None,
                   help="execution mode to time (e.g. eager, compile, function, xla), 'all', or 'repro' (the mode "
                        "each paper's reproductions train in, REPRO_MODE); default: each framework's default mode")
    p.add_argument("--isolate", action="store_true",
                   help="each case in a fresh process (slower to start; records peak RSS growth)")
    p.add_argument("--threads", default="pinned", type=_bench_threads,
                   help="'pinned' (HARNESS_THREADS, default 1), 'all' (every core) or a count; other than pinned "
                        "implies --isolate")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu); both frameworks and "
                   "the plain loops run there")
    p.set_defaults(fn=cmd_bench)

    verb("table", "regenerate the tables and figures from the records").set_defaults(fn=cmd_table)
    verb("report", "the HTML report, tables and figures from the records").set_defaults(fn=cmd_report)

    p = verb("compare", "regression verdict of the records against a baseline")
    p.add_argument("baseline", help="a baseline records file (JSON Lines), e.g. results/baseline.jsonl")
    p.add_argument("--allow-missing", action="store_true", help="a check missing now is a warning, not a failure")
    p.add_argument("--list-all", action="store_true", help="list every improvement and new check (default: 25 each)")
    p.set_defaults(fn=cmd_compare)

    verb("repair", "move corrupt lines of records.jsonl and runs.jsonl to <file>.corrupt (run it while no "
                   "other harness command writes there)").set_defaults(fn=cmd_repair)
    return parser


def _add_execution_flags(p) -> None:
    """agree's execution flags (harness/execution.py): modes, device, and what to compare against."""
    p.add_argument("--mode", help="an execution mode: torch eager|channels_last|compile, tf eager|function|xla "
                                  "(it applies to the framework that has it; eager to both)")
    p.add_argument("--mode-torch", help="torch's execution mode (default eager)")
    p.add_argument("--mode-tf", help="tf's execution mode (default function)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--against", metavar="DEVICE_OR_MODE",
                   help="compare each framework with itself: on this device (e.g. cpu) or in this mode (e.g. eager)")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):  # nan would time forever; <= 0 makes each figure one call
        raise argparse.ArgumentTypeError(f"expected a positive, finite number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv=None) -> int:
    global RESULTS_DIR
    args = build_parser().parse_args(argv)
    _SINKS.clear()
    _pending.clear()
    _raised.clear()
    in_main_thread = threading.current_thread() is threading.main_thread()  # only there can handlers be set
    previous = {sig: signal.signal(sig, _on_interrupt) for sig in (_INTERRUPTS if in_main_thread else ())}
    try:
        RESULTS_DIR = _results_dir(getattr(args, "results_dir", None))
        return args.fn(args)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # records are appended whole or not at all (results.append), so none is torn
        signum = _raised[-1] if _raised else signal.SIGINT  # SIGINT: a Ctrl-C before our handlers were set
        kept = [f"{s.written} {'seed runs' if s.path.name == 'runs.jsonl' else 'records'} in {s.path}"
                for s in _SINKS if s.written]
        what = f"kept: {', '.join(kept)}" if kept else "nothing had finished, so nothing was written"
        hint = "; rerun with --resume to continue" if args.verb in ("reproduce", "diagnose") and kept else ""
        print(f"\ninterrupted: `{args.verb}` stopped by {signal.Signals(signum).name}; {what}{hint}",
              file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # a print that did not go through _out
        _silence_stdout()
        return 128 + signal.SIGPIPE
    finally:
        _CLEANUP.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
