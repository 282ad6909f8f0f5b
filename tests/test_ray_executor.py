"""The Ray back end (`reproduce --executor ray`), on one real local Ray instance for the whole module (2 CPUs,
a small object store, no dashboard), shut down at the end: records bitwise equal to the local executor's, a
worker killed mid-task retried with nothing lost or duplicated, the driver killed mid-run then `--resume`,
and the flags' one-line errors. The toy registry (tests/ray_toy) keeps each case to seconds."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import cli, executor, registry, results

ray = pytest.importorskip("ray")
# One xdist group: under `pytest -n 2 --dist loadgroup` every test here runs in the same worker, so two local
# Ray instances (each sized to the whole machine) never start at once.
pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "tests.ray_toy"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local Ray instance for the module; its workers see $RAY_TOY_MARKERS (killtoy's attempt markers)."""
    markers = tmp_path_factory.mktemp("markers")
    saved = os.environ.get("RAY_TOY_MARKERS")
    os.environ["RAY_TOY_MARKERS"] = str(markers)  # inherited by the raylet, hence by every worker
    context = ray.init(address="local", num_cpus=2, object_store_memory=80 * 2**20, include_dashboard=False,
                       log_to_driver=False)
    try:
        yield {"address": context.address_info["gcs_address"], "markers": markers}
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_TOY_MARKERS", None)
        else:
            os.environ["RAY_TOY_MARKERS"] = saved


def harness(*args, results_dir) -> tuple[int, str]:
    """The CLI in this process on the Ray toy registry; (exit code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    os.environ["HARNESS_REGISTRY"] = REGISTRY
    registry.papers.cache_clear()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["--results-dir", str(results_dir), *map(str, args)])
    finally:
        os.environ.pop("HARNESS_REGISTRY", None)
        registry.papers.cache_clear()
        cli.RESULTS_DIR = Path("results")
    return code, err.getvalue()


def without_time(path: Path) -> list[str]:
    """The file's JSON lines with the measured times dropped (the wall-clock time of a record, a seed run's CPU
    seconds), sorted (Ray saves runs in finishing order)."""
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    for entry in entries:
        entry.pop("time", None)
        if path.name == "runs.jsonl":
            assert entry.pop("cpu_seconds", -1.0) >= 0, "a seed run saved without its CPU seconds"
    return sorted(json.dumps(e, sort_keys=True) for e in entries)


def fresh_metrics(paper_key: str, exp_name: str, framework: str, seed: int, profile: str) -> dict:
    os.environ["HARNESS_REGISTRY"] = REGISTRY
    registry.papers.cache_clear()
    try:
        paper = registry.get(paper_key)
        return executor._run_seed(paper, paper.experiment(exp_name), framework, seed, profile, None)[0]
    finally:
        os.environ.pop("HARNESS_REGISTRY", None)
        registry.papers.cache_clear()


def test_ray_records_are_bitwise_those_of_the_local_executor(cluster, tmp_path):
    for name, flags in (("local", ()), ("ray", ("--executor", "ray"))):
        code, err = harness("reproduce", "toy", "--framework", "both", "--seeds", "2", *flags,
                            results_dir=tmp_path / name)
        assert code == 0, err
    for name in ("runs.jsonl", "records.jsonl"):
        local, by_ray = without_time(tmp_path / "local" / name), without_time(tmp_path / "ray" / name)
        assert len(local) == 4 if name == "runs.jsonl" else local  # 2 seeds x 2 frameworks
        assert by_ray == local, name


def test_a_worker_killed_mid_task_is_retried_and_every_run_is_saved_once(cluster, tmp_path):
    code, err = harness("reproduce", "killtoy", "--framework", "torch", "--executor", "ray", results_dir=tmp_path)
    assert code == 0, err
    marker = cluster["markers"] / "torch-1"
    assert marker.exists(), "seed 1 never ran its first attempt, so no worker was killed"
    entries, problems = results.read_runs(tmp_path / "runs.jsonl")
    assert problems == []
    keys = [tuple(e["key"][:4]) for e in entries]
    assert sorted(keys) == [("killtoy", "fit", "torch", s) for s in range(3)]  # each seed exactly once
    retried = next(e for e in entries if e["key"][3] == 1)
    assert retried["metrics"] == fresh_metrics("killtoy", "fit", "torch", 1, "tiny")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_driver_killed_mid_run_keeps_finished_runs_and_resume_completes_them(cluster, tmp_path, sig):
    cmd = [sys.executable, "-m", "harness", "--results-dir", str(tmp_path), "reproduce", "killtoy", "--profile",
           "reduced", "--framework", "torch", "--executor", "ray", "--address", cluster["address"]]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_REGISTRY": REGISTRY}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = tmp_path / "runs.jsonl"
    try:
        deadline = time.monotonic() + 180
        while not (runs.exists() and len(runs.read_bytes().splitlines()) >= 2) and proc.poll() is None:
            assert time.monotonic() < deadline, "no two runs saved in 180 s"
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = runs.read_bytes().splitlines(keepends=True)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        if not kept[-1].endswith(b"\n"):  # killed mid-write: at most the last line is partial
            kept = kept[:-1]
    else:  # the CLI's handler, not Ray's (sys.exit), ends the run and says what it kept
        # Ray 2.60's core worker sometimes aborts while the driver shuts down after the CLI's handler has
        # run ("Tried to complete task that was not pending", a Ray check failure): the exit code is then
        # Ray's abort, and only that known failure excuses it; the message and the kept runs are checked alike
        if proc.returncode != 128 + sig:
            assert "Tried to complete task that was not pending" in stderr, (proc.returncode, stderr)
        message = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
        assert len(message) == 1 and f"kept: {len(kept)} seed runs" in message[0], stderr
    assert 2 <= len(kept) < 8, "the driver was not stopped mid-run"

    code, err = harness("reproduce", "killtoy", "--profile", "reduced", "--framework", "torch", "--executor", "ray",
                        "--resume", results_dir=tmp_path)
    assert code == 0, err
    entries, _ = results.read_runs(runs)
    assert sorted(e["key"][3] for e in entries) == list(range(8))  # every seed, each once: none ran twice
    assert runs.read_bytes().startswith(b"".join(kept))  # what was saved before the kill is untouched


@pytest.mark.parametrize("flags,fragment", [
    (("--address", "auto"), "add --executor ray"),
    (("--executor", "ray", "--address", "not an address"), "is not a Ray address"),
    (("--executor", "ray", "--address", "127.0.0.1:9"), "cannot reach a Ray cluster at '127.0.0.1:9'"),
    (("--executor", "ray", "--jobs", "2"), "leave out --jobs"),
])
def test_bad_executor_flags_are_one_line_errors_before_any_work(tmp_path, flags, fragment, monkeypatch):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh process: the address is used
    code, err = harness("reproduce", "toy", "--framework", "torch", *flags, results_dir=tmp_path)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and fragment in errors[0], err
    assert "Traceback" not in err and not (tmp_path / "runs.jsonl").exists()


def test_ray_overhead_per_task_against_the_local_executor(cluster, tmp_path):
    """A measurement, printed (run with -s), not asserted: 40 toy seeds through each back end."""
    times = {}
    for name, flags in (("local", ()), ("ray", ("--executor", "ray"))):
        start = time.perf_counter()
        code, err = harness("reproduce", "toy", "--framework", "torch", "--seeds", "40", *flags,
                            results_dir=tmp_path / name)
        assert code == 0, err
        times[name] = time.perf_counter() - start
    print(f"\n40 toy seeds: local {times['local']:.2f} s, ray {times['ray']:.2f} s "
          f"({(times['ray'] - times['local']) / 40 * 1000:+.0f} ms per task, 2 Ray CPUs)")
