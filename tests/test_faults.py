"""Fault injection (marker `faults`): corrupt, partial and concurrent results files; unwritable destinations;
signals to the main process with and without --jobs; mismatched resume; data directories without the data.

Each test asserts the exit code, the one-line message, and that no finished result is lost or changed. The
toy papers (tests/toy, tests/faults_toy) keep it to seconds per case; subprocesses run `--framework torch` so
that only one framework is imported where a process must really be signalled.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import registry, results
from tests.cli_runner import Result, run_cli

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "tests.faults_toy"


def harness(*args, results_dir=None, env: dict | None = None) -> Result:
    """The CLI in this process on the fault-test registry (frameworks stay loaded between tests)."""
    return run_cli(*args, registry_module=REGISTRY, results_dir=results_dir, env=env)


def one_error(result: Result, *fragments: str) -> str:
    """The run failed with exit 2 and exactly one `error:` line holding every fragment, no traceback."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = result.errors()
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def subprocess_env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_REGISTRY": REGISTRY, "HARNESS_GIT_SHA": "faults",
            **extra}


@pytest.fixture(autouse=True)
def _no_data_dir_from_the_environment(monkeypatch):
    monkeypatch.delenv("HARNESS_DATA_DIR", raising=False)
    monkeypatch.delenv("HARNESS_RESULTS", raising=False)


def record(check: str) -> dict:
    return results.make_record(kind="claim", paper="toy", framework="torch", check=check, metric="median x",
                               value=1.0, passed=True, expected={"rule": "x"}, git_sha="faults",
                               details={"inputs": {"exp.x": {"statistic": 1.0, "values": [1.0, 1.0, 1.0],
                                                             "finite": 3, "seeds": 3}}})


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# --- corrupt and partial results files ------------------------------------------------------------------


def test_corrupt_and_partial_lines_are_reported_once_each_and_repair_quarantines_exactly_them(tmp_path):
    path = tmp_path / "records.jsonl"
    results.append(path, [record(f"c{i}") for i in range(4)])
    good = lines(path)
    with open(path, "ab") as f:  # a middle line of garbage, a record with a bad field, a partial last line
        f.write(b"\x00garbage\n")
        f.write(json.dumps({**json.loads(good[0]), "passed": "yes"}).encode() + b"\n")
    results.append(path, [record("c4")])
    good = [line for line in lines(path) if b"garbage" not in line and b'"yes"' not in line]
    with open(path, "ab") as f:
        f.write(good[0][:40])
    table = harness("table", results_dir=tmp_path)
    assert table.returncode == 0, table.stderr
    warnings = [line for line in table.stderr.splitlines() if line.startswith("warning: skipped")]
    assert [w.split(":")[1:3] for w in warnings] == [[" skipped records.jsonl", "5"],
                                                     [" skipped records.jsonl", "6"],
                                                     [" skipped records.jsonl", "8"]]
    assert "python -m harness repair" in table.stderr and "Traceback" not in table.stderr

    repaired = harness("repair", results_dir=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert "5 good lines kept, 3 corrupt line(s) moved to" in repaired.stdout
    assert lines(path) == good  # every good line, byte for byte, in order
    moved = lines(tmp_path / "records.jsonl.corrupt")
    assert len(moved) == 3 and moved[0] == b"\x00garbage\n"
    again = harness("table", results_dir=tmp_path)
    assert again.returncode == 0 and "warning" not in again.stderr


def test_concurrent_writers_and_a_concurrent_repair_lose_no_line(tmp_path):
    """Three processes append 60 records each while another repairs the file over and over."""
    path = tmp_path / "records.jsonl"
    with open(path, "wb") as f:
        f.write(b"not json\n")
    writer = textwrap.dedent(f"""
        import sys
        from harness import results
        for i in range(60):
            results.append({str(path)!r}, [results.make_record(kind="claim", paper="toy", framework="tf",
                check=f"w{{sys.argv[1]}}-{{i}}", metric="m", value=float(i), passed=True, expected={{"rule": "r"}})])
    """)
    repairer = textwrap.dedent(f"""
        from harness import results
        for _ in range(30):
            results.quarantine({str(path)!r})
    """)
    env = subprocess_env()
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(w)], env=env) for w in range(3)]
    procs.append(subprocess.Popen([sys.executable, "-c", repairer], env=env))
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    kept, problems = results.read(path)
    assert problems == []
    assert sorted(r["check"] for r in kept) == sorted(f"w{w}-{i}" for w in range(3) for i in range(60))
    assert lines(tmp_path / "records.jsonl.corrupt") == [b"not json\n"]


# --- unwritable destinations ----------------------------------------------------------------------------


def _refuse_to_train(monkeypatch):
    from harness import agreement, executor

    def must_not_run(*a, **k):
        raise AssertionError("work started although the results location is unusable")

    monkeypatch.setattr(executor, "run_experiments", must_not_run)
    monkeypatch.setattr(agreement, "run_case", must_not_run)


@pytest.mark.parametrize("verb", [["reproduce", "toy"], ["agree", "toy"], ["bench", "toy"], ["table"]])
@pytest.mark.parametrize("layout", ["under a file", "is a file", "records is a directory"])
def test_an_unwritable_results_location_is_refused_before_any_work(tmp_path, monkeypatch, verb, layout):
    _refuse_to_train(monkeypatch)
    a_file = tmp_path / "file"
    a_file.write_text("precious\n")
    where = {"under a file": a_file / "results", "is a file": a_file, "records is a directory": tmp_path}[layout]
    if layout == "records is a directory":
        (tmp_path / "records.jsonl").mkdir()
        (tmp_path / "runs.jsonl").mkdir()
    result = harness(*verb, results_dir=where)
    if verb == ["table"] and layout == "records is a directory":
        one_error(result, "records.jsonl")  # table reads first: it cannot read a directory
    else:
        one_error(result, str(where) if layout != "records is a directory" else "is not a regular file")
    assert a_file.read_text() == "precious\n"


def test_a_read_only_filesystem_is_refused_before_any_work(tmp_path, monkeypatch):
    """Tests run as root, which chmod does not stop: a read-only tmpfs where mounting is allowed."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.decode().strip()}); the same path is "
                    "covered by test_a_write_failure_mid_run_still_prints_the_results")
    try:
        _refuse_to_train(monkeypatch)
        result = harness("reproduce", "toy", results_dir=ro / "results")
        one_error(result, f"results directory {ro / 'results'}", "Read-only file system")
    finally:
        subprocess.run(["umount", str(ro)], check=True)


@pytest.mark.parametrize("verb", [["agree", "toy", "--dtype", "float64"],
                                  ["reproduce", "toy", "--framework", "torch", "--seeds", "2"]])
def test_a_write_failure_mid_run_still_prints_the_results(tmp_path, monkeypatch, verb):
    """A full disk after the first write: every check still runs and is printed, the saved lines stay whole,
    and the failure is one line with exit 2 (issue 11 defect 3: `agree` used to lose everything)."""
    real, calls = results._append_locked, []

    def disk_full_after_one(path, data):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(results, "_append_locked", disk_full_after_one)
    result = harness(*verb, results_dir=tmp_path)
    one_error(result, "cannot write", "No space left on device", "written before the failure")
    printed = "agreement checks passed" if verb[0] == "agree" else "loss-falls"
    assert printed in result.stdout  # every result was printed
    saved = tmp_path / ("records.jsonl" if verb[0] == "agree" else "runs.jsonl")
    kept, problems = (results.read if verb[0] == "agree" else results.read_runs)(saved)
    assert problems == [] and len(kept) == (len(lines(saved)) if verb[0] == "agree" else 1)


# --- signals ----------------------------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc; zombies count as gone)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2] != "Z":
            alive.add(p)
    return alive


def _wait_for(predicate, what: str, limit: float = 240.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {limit:.0f} s")


SIGNAL_CASES = [(signal.SIGTERM, 1), (signal.SIGHUP, 1), (signal.SIGKILL, 1), (signal.SIGINT, 2), (signal.SIGTERM, 2),
                (signal.SIGKILL, 2)]  # SIGINT without --jobs: tests/test_cli.py


@pytest.mark.parametrize("sig,jobs", SIGNAL_CASES, ids=[f"{s.name}-jobs{j}" for s, j in SIGNAL_CASES])
def test_a_signal_to_the_main_process_keeps_every_finished_seed_and_leaves_no_worker(tmp_path, sig, jobs):
    cmd = [sys.executable, "-m", "harness", "--results-dir", str(tmp_path), "reproduce", "toy", "--framework",
           "torch", "--seeds", "400", "--jobs", str(jobs)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    runs = tmp_path / "runs.jsonl"
    try:
        _wait_for(lambda: runs.exists() and len(lines(runs)) >= 2 or proc.poll() is not None, "two saved seeds")
        assert proc.poll() is None, proc.communicate()
        workers = _children(proc.pid)
        if jobs > 1:
            assert len(workers) >= jobs, workers  # the pool is running
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        _wait_for(lambda: not _alive(workers), f"workers {sorted(_alive(workers))} to end", limit=60)
    finally:  # a failing run leaves no stray process behind
        for pid in _alive(workers):
            os.kill(pid, signal.SIGKILL)

    kept = lines(runs)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        if not kept[-1].endswith(b"\n"):  # killed mid-write: at most the last line is partial
            kept = kept[:-1]
    else:
        assert proc.returncode == 128 + sig, stderr
        assert "Traceback" not in stderr
        message = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
        assert len(message) == 1, stderr
        assert f"stopped by {signal.Signals(sig).name}; kept: {len(kept)} seed runs in {runs}" in message[0]
        assert "--resume" in message[0]
    entries, problems = results.read_runs(runs)
    assert len(entries) == len(kept) >= 2 and len(problems) == len(lines(runs)) - len(kept)
    _same_as_a_fresh_run(entries[:2])


def _same_as_a_fresh_run(entries: list[dict]) -> None:
    """A saved seed run holds exactly what running that seed again gives (nothing finished was changed)."""
    from harness import executor

    os.environ["HARNESS_REGISTRY"] = REGISTRY
    registry.papers.cache_clear()
    try:
        paper = registry.get("toy")
        for entry in entries:
            _, exp_name, framework, seed, profile, *_ = entry["key"]
            metrics, _, curves, diverged, _ = executor._run_seed(paper, paper.experiment(exp_name), framework, seed,
                                                                 profile, None)
            assert diverged is None, entry["key"]
            assert metrics == entry["metrics"], entry["key"]
            assert curves == entry.get("curves", {}), entry["key"]
    finally:
        os.environ.pop("HARNESS_REGISTRY")
        registry.papers.cache_clear()


@pytest.mark.parametrize("verb", ["agree", "bench"])
def test_ctrl_c_in_agree_or_bench_keeps_what_it_says_it_kept(tmp_path, monkeypatch, verb):
    """Issue 11 defect 12: each check is written as it finishes, and the message counts what is on disk."""
    from harness import agreement, bench

    # agree runs each case once for all its dtypes (run_dtypes); the toy has two cases, so stop in the second
    target, name, stop = (agreement, "run_dtypes", 2) if verb == "agree" else (bench, "time_case", 3)
    real, calls = getattr(target, name), []

    def interrupted_later(*a, **k):
        calls.append(1)
        if len(calls) == stop:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(target, name, interrupted_later)
    paper, extra = ("toy", []) if verb == "agree" else ("datatoy", ["--min-seconds", "0.01", "--repeats", "1"])
    result = harness(verb, paper, *extra, results_dir=tmp_path)
    assert result.returncode == 130 and "Traceback" not in result.stderr
    saved, problems = results.read(tmp_path / "records.jsonl")
    assert problems == [] and len(saved) > 0
    assert f"kept: {len(saved)} records in {tmp_path / 'records.jsonl'}" in result.stderr


# --- mismatched resume ------------------------------------------------------------------------------------


def test_resume_never_reuses_a_run_made_from_other_data_and_says_why(tmp_path):
    """Issue 11 defect 4: a fallback run, then the data directory fixed, then --resume."""
    first = harness("reproduce", "datatoy", "--framework", "torch", results_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "NOTE: no data directory was given, so datatoy/read [torch] ran on scikit-learn's bundled 8x8 digits" \
        in first.stdout  # defect 2: the fallback is said where a person reads
    fallback = [r for r in results.read(tmp_path / "records.jsonl")[0] if r["kind"] == "claim"]
    assert fallback and all(r["dataset"].startswith("FALLBACK digits instead of mnist") for r in fallback)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "mnist").is_dir():
        pytest.skip(f"no MNIST at {shared}")
    resumed = harness("reproduce", "datatoy", "--framework", "torch", "--resume", "--data-dir", shared,
                      results_dir=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    note = [line for line in resumed.stderr.splitlines() if line.startswith("note: not reusing")]
    assert len(note) == 1 and "2 saved seed run(s) of datatoy/read [torch]: data changed" in note[0]
    assert "FALLBACK digits instead of mnist" in note[0] and "NOTE:" not in resumed.stdout
    latest = [r for r in results.latest(results.read(tmp_path / "records.jsonl")[0]) if r["kind"] == "claim"]
    assert latest and all(r["dataset"].startswith("mnist: ") for r in latest)
    assert len(lines(tmp_path / "runs.jsonl")) == 4  # the two seeds ran again, on MNIST


def test_resume_reports_bad_run_entries_with_file_and_line_and_never_uses_them(tmp_path):
    """Issue 11 defect 8: a metric "abc" crashed `--resume`; an empty `metrics` changed a published median."""
    clean = harness("reproduce", "toy", "--framework", "torch", "--seeds", "3", results_dir=tmp_path / "clean")
    assert clean.returncode == 0, clean.stderr
    runs = lines(tmp_path / "clean" / "runs.jsonl")
    bad = [json.loads(line) for line in runs[:2]]
    bad[0]["metrics"]["final_loss"] = "abc"
    bad[1]["metrics"] = {}
    (tmp_path / "resumed").mkdir()
    (tmp_path / "resumed" / "runs.jsonl").write_bytes(b"".join(json.dumps(e).encode() + b"\n" for e in bad)
                                                      + runs[2])
    resumed = harness("reproduce", "toy", "--framework", "torch", "--seeds", "3", "--resume",
                      results_dir=tmp_path / "resumed")
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert "runs.jsonl:1: metric 'final_loss' must be a number" in resumed.stderr
    assert "runs.jsonl:2: field 'metrics' must be a non-empty object" in resumed.stderr
    values = {r["check"]: r["value"] for r in results.read(tmp_path / "clean" / "records.jsonl")[0]}
    again = {r["check"]: r["value"] for r in results.read(tmp_path / "resumed" / "records.jsonl")[0]}
    assert again == values  # the two bad seeds ran again; the result is the clean run's


# --- data directories -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_a_named_data_dir_without_the_data_is_exit_2_before_any_work(tmp_path, monkeypatch, how):
    _refuse_to_train(monkeypatch)
    empty = tmp_path / "data"
    empty.mkdir()
    args = ["reproduce", "datatoy"] + (["--data-dir", str(empty)] if how == "flag" else [])
    result = harness(*args, results_dir=tmp_path / "results",
                     env={"HARNESS_DATA_DIR": str(empty)} if how == "environment" else None)
    one_error(result, "mnist not found", f"{empty}/mnist")
    assert not (tmp_path / "results" / "records.jsonl").exists()


# --- broken pipes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", [0, 1])
def test_compare_into_a_closed_pipe_exits_with_its_verdict(tmp_path, verdict):
    """Issue 11 defect 13: `compare ... | head` exited 1 with a traceback whatever the verdict."""
    recs = [record(f"c{i}") for i in range(40)]
    results.append(tmp_path / "baseline.jsonl", recs)
    now = [dict(r, time=results.utc_now()) for r in recs]
    if verdict:  # a regression even with too few seeds for a rank test: the claim no longer gives a number
        nan = float("nan")
        now[0] = dict(now[0], passed=False, value=nan,
                      details={"inputs": {"exp.x": {"statistic": nan, "values": [nan] * 3, "finite": 0, "seeds": 3}}})
    results.append(tmp_path / "records.jsonl", now)
    proc = subprocess.Popen([sys.executable, "-m", "harness", "--results-dir", str(tmp_path), "compare",
                             str(tmp_path / "baseline.jsonl"), "--list-all"],
                            cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written, like `| head -0`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == verdict, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
