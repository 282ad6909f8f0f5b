"""python -m harness {list, agree, reproduce, bench, table, compare}.

Errors the user can fix print one line (`error: ...`) and exit 2; a failed check or claim exits 1.
Neither framework is imported until a verb needs one (`list` imports neither).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import registry
from .errors import ConfigError, DataError, HarnessError
from .spec import DTYPES, FRAMEWORKS, PROFILES

RESULTS_DIR = Path(os.environ.get("HARNESS_RESULTS", "results"))


def _progress_factory():
    from tqdm.auto import tqdm

    def make(desc: str, total: int):
        return tqdm(total=total or None, desc=desc, unit="", leave=False, disable=None, file=sys.stderr)

    return make


def _data_dir(arg: str | None) -> str | None:
    chosen = arg or os.environ.get("HARNESS_DATA_DIR")
    if chosen and not Path(chosen).is_dir():
        origin = "--data-dir" if arg else "HARNESS_DATA_DIR"
        raise DataError(f"data directory {chosen!r} (from {origin}) does not exist; pass an existing directory")
    return chosen


# --- verbs -------------------------------------------------------------------------------------------------


def cmd_list(args) -> int:
    from tabulate import tabulate

    rows = []
    for p in registry.papers().values():
        rows.append([p.key, p.year, p.title, len(p.experiments), len(p.claims), len(p.agreement),
                     ",".join(p.profiles())])
    print(tabulate(rows, headers=["paper", "year", "title", "experiments", "claims", "agreement cases",
                                  "profiles"]))
    return 0


def cmd_agree(args) -> int:
    from tabulate import tabulate

    from . import agreement, numerics, results

    papers = registry.select(args.paper)
    dtypes = (args.dtype,) if args.dtype else DTYPES
    env = numerics.environment(FRAMEWORKS)
    checks = []
    bar = _progress_factory()("agree", sum(len(agreement.cases(p, args.skip_slow)) for p in papers) * len(dtypes))
    for paper in papers:
        checks += agreement.run_paper(paper, dtypes, progress=bar.update, skip_slow=args.skip_slow,
                                      repro_dir=RESULTS_DIR / "repro")
    bar.close()
    records = [
        results.make_record(
            kind="agreement", paper=c.paper, framework="both", check=f"{c.case}/{c.dtype}/{c.kind}",
            metric="max_rel", value=c.max_rel, expected={"tol": c.tol, "tol_reason": c.tol_reason},
            passed=c.passed, config={"case": c.case}, seed=0, dataset="generated", profile=None,
            dtype=c.dtype, numerics=env,
            details={"max_abs": c.max_abs, "first_divergence": c.first_divergence, "detail": c.detail},
        )
        for c in checks
    ]
    results.append(RESULTS_DIR / "records.jsonl", records)
    passed = all(c.passed for c in checks)
    if args.json:
        print(json.dumps({"passed": passed, "numerics": env, "checks": [c.to_json() for c in checks]}, indent=1))
    else:
        rows = [[c.name, f"{c.max_abs:.2e}", f"{c.max_rel:.2e}", f"{c.tol:.1e}",
                 c.first_divergence or "", "pass" if c.passed else "FAIL"] for c in checks]
        print(tabulate(rows, headers=["check", "max abs", "max rel", "tol", "first divergence", "verdict"]))
        for c in checks:
            if not c.passed:
                print(f"FAIL {c.name}: {c.detail}")
            if c.tol_reason:
                print(f"note {c.name}: tolerance override: {c.tol_reason}")
            for finding in c.findings:
                print(f"finding {c.name}: {finding}")
        for bundle in sorted({RESULTS_DIR / "repro" / f"{c.paper}-{c.case}-{c.dtype}" for c in checks if not c.passed}):
            print(f"repro bundle: {bundle} (run: python {bundle / 'repro.py'})")
        print(f"{sum(c.passed for c in checks)}/{len(checks)} agreement checks passed")
    return 0 if passed else 1


def cmd_reproduce(args) -> int:
    from . import fidelity, numerics, results, tables

    papers = registry.select(args.paper)
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    data_dir = _data_dir(args.data_dir)
    runs_path = RESULTS_DIR / "runs.jsonl"
    saved = {}
    if args.resume and runs_path.exists():
        entries, problems = results.read_runs(runs_path)
        for p in problems:
            print(f"warning: {p}", file=sys.stderr)
        saved = {tuple(e["key"]): e for e in entries}
    for paper in papers:  # refuse before loading any framework
        if args.profile not in paper.profiles():
            raise ConfigError(f"{paper.key} has no {args.profile!r} profile; it has {', '.join(paper.profiles())}")
    env = numerics.environment(frameworks)
    all_records = []
    for paper in papers:
        start, cpu_start = time.perf_counter(), _cpu_seconds()
        used: dict[tuple[str, str], set[str]] = {}
        try:
            runs = fidelity.run_experiments(
                paper, args.profile, frameworks, args.seeds, data_dir, saved=saved,
                on_seed=lambda entry: results.append_run(runs_path, entry),
                progress_factory=_progress_factory(), datasets=used, jobs=args.jobs,
            )
        except KeyboardInterrupt:
            print(f"\ninterrupted: finished seed runs are kept in {runs_path}; "
                  f"rerun with --resume to continue", file=sys.stderr)
            return 130
        claim_results, consistency = fidelity.evaluate_all(paper, runs, frameworks)
        records = _claim_records(paper, args.profile, claim_results, consistency, env, data_dir, used)
        results.append(RESULTS_DIR / "records.jsonl", records)
        all_records += records
        # CPU time is the figure that repeats on a shared machine; wall time is what the user waited.
        print(f"{paper.key}: {time.perf_counter() - start:.1f} s wall, {_cpu_seconds() - cpu_start:.1f} s CPU",
              file=sys.stderr)
    print(tables.render_for_terminal(all_records))
    failed = [r for r in all_records if r["passed"] is False]
    return 1 if failed else 0


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished workers (`--jobs`)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _claim_records(paper, profile, claim_results, consistency, env, data_dir, used=None):
    """`used`: (framework, experiment) -> the datasets the seeds actually used (see fidelity.run_experiments)."""
    from . import fidelity, results

    used = used or {}

    def common(claim):
        exps = {e for e, _ in fidelity.claim_inputs(claim)}
        configs = {e: fidelity.config_dict(paper.experiment(e).configs[profile]) for e in exps}
        recorded = set().union(*(used.get((fw, e), set()) for e in exps for fw in FRAMEWORKS))
        datasets = sorted(recorded or {paper.experiment(e).dataset for e in exps})
        return configs, ";".join(datasets)

    records = []
    for r in claim_results:
        c = r.claim
        configs, dataset = common(c)
        seeds = max(v["seeds"] for v in r.inputs.values())
        records.append(results.make_record(
            kind="claim", paper=paper.key, framework=r.framework, check=c.id, metric=r.rule,
            value=r.value, passed=r.passed,
            expected={"rule": r.rule, "lo": getattr(c, "lo", None), "hi": getattr(c, "hi", None),
                      "reported": c.reported, "source": c.source, "setting": c.setting_for(profile), "text": c.text},
            config=configs, seed=list(range(seeds)), dataset=dataset, profile=profile, dtype="float32",
            numerics=env, details={"inputs": r.inputs, "data_dir": data_dir},
        ))
    for k in consistency:
        configs, dataset = common(k.claim)
        records.append(results.make_record(
            kind="consistency", paper=paper.key, framework="both", check=k.claim.id, metric="p_value",
            value=k.p_value, passed=k.passed,
            expected={"rule": f"torch and tf consistent across seeds (p >= {fidelity.CONSISTENCY_ALPHA})"},
            config=configs, seed=[], dataset=dataset, profile=profile, dtype="float32", numerics=env,
            details={"detail": k.detail},
        ))
    return records


def cmd_table(args) -> int:
    from . import results, tables

    records, problems = results.read(RESULTS_DIR / "records.jsonl")
    for p in problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    written = tables.write_all(results.latest(records), RESULTS_DIR / "tables", RESULTS_DIR / "README.md")
    print(tables.render_for_terminal(results.latest(records)))
    print(f"wrote {len(written)} files under {RESULTS_DIR}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from . import baseline, results

    current, problems = results.read(RESULTS_DIR / "records.jsonl")
    base, base_problems = results.read(Path(args.baseline))
    for p in problems + base_problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    verdict = baseline.compare(results.latest(current), results.latest(base), allow_missing=args.allow_missing)
    print(verdict.render(list_all=args.list_all))
    return verdict.exit_code


def cmd_bench(args) -> int:
    from tabulate import tabulate

    from . import bench, numerics, results

    papers = registry.select(args.paper)
    frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    env = numerics.environment(frameworks)
    rows, records = [], []
    for paper in papers:
        if not paper.benchmarks:
            print(f"{paper.key}: declares no benchmark cases", file=sys.stderr)
            continue
        for r in bench.run_paper(paper, frameworks, repeats=args.repeats, min_seconds=args.min_seconds):
            rows.append([r.paper, r.case, r.framework, r.method, f"{r.items_per_second:,.1f} {r.unit}/s",
                         f"{r.spread[0]:,.1f}-{r.spread[1]:,.1f}", r.calls])
            records.append(results.make_record(
                kind="benchmark", paper=r.paper, framework=r.framework, check=f"{r.case}/{r.method}",
                metric=f"{r.unit}_per_second", value=r.items_per_second, expected={}, passed=None,
                config={"case": r.case}, seed=0, dataset="generated", profile=None, dtype=None, numerics=env,
                details={"min": r.spread[0], "max": r.spread[1], "repeats": r.repeats, "calls": r.calls},
            ))
    if records:
        results.append(RESULTS_DIR / "records.jsonl", records)
    print(tabulate(rows, headers=["paper", "case", "framework", "method", "throughput (median)", "min-max",
                                  "calls"]))
    return 0


# --- parser ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=None, help="where records and tables live (default results/)")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    sub.add_parser("list", help="the registered papers (imports neither framework)").set_defaults(fn=cmd_list)

    p = sub.add_parser("agree", help="agreement checks: forward taps, gradients, trajectories")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--dtype", choices=DTYPES, help="one dtype (default: both)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--skip-slow", action="store_true",
                   help="leave out the cases a paper marks slow (minutes or GBs; the slow test tier runs them)")
    p.set_defaults(fn=cmd_agree)

    p = sub.add_parser("reproduce", help="run the papers' experiments and test their claims")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--profile", choices=PROFILES, default="tiny")
    p.add_argument("--framework", choices=(*FRAMEWORKS, "both"), default="both")
    p.add_argument("--seeds", type=_positive_int, help="seeds per experiment (default: the profile's)")
    p.add_argument("--data-dir", help="dataset directory (default $HARNESS_DATA_DIR, else bundled data)")
    p.add_argument("--resume", action="store_true", help="reuse seed runs saved by an interrupted run")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="seeds in this many worker processes (e.g. one per core; results do not depend on it)")
    p.set_defaults(fn=cmd_reproduce)

    p = sub.add_parser("bench", help="throughput of both frameworks on the same work (figures, not asserts)")
    p.add_argument("paper", nargs="+", help="paper keys from `list`, or 'all'")
    p.add_argument("--framework", choices=(*FRAMEWORKS, "both"), default="both")
    p.add_argument("--repeats", type=_positive_int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0, help="minimum time per repeat")
    p.set_defaults(fn=cmd_bench)

    sub.add_parser("table", help="regenerate the tables from the records").set_defaults(fn=cmd_table)

    p = sub.add_parser("compare", help="regression verdict of the records against a baseline")
    p.add_argument("baseline", help="a baseline records file (JSON Lines), e.g. results/baseline.jsonl")
    p.add_argument("--allow-missing", action="store_true", help="a check missing now is a warning, not a failure")
    p.add_argument("--list-all", action="store_true", help="list every improvement and new check (default: 25 each)")
    p.set_defaults(fn=cmd_compare)
    return parser


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
    if args.results_dir:
        RESULTS_DIR = Path(args.results_dir)
    try:
        return args.fn(args)
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # records are appended whole or not at all (results.append), so none is torn
        print(f"\ninterrupted: `{args.verb}` stopped; the records it finished are kept in {RESULTS_DIR}",
              file=sys.stderr)
        return 130
