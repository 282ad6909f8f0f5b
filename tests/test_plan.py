"""The `paper` profile of every registered paper, its data checks, and `reproduce --plan` (no training, no
framework import). Parametrized over the registry: adding a paper edits no test."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import plan, profiles, registry, results
from harness.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
PAPERS = list(registry.papers().values())
SHARED = ROOT.parent / "shared" / "data"


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_DATA_DIR", "HARNESS_REGISTRY")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _harness(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter, which then reports whether torch or tensorflow got imported."""
    code = ("import sys\nfrom harness import cli\n"
            f"rc = cli.main({['--results-dir', str(tmp_path / 'results'), *args]!r})\n"
            "loaded = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]\n"
            "print('LOADED', loaded, file=sys.stderr)\nsys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env())


def test_every_paper_offers_the_paper_profile():
    missing = [p.key for p in PAPERS if "paper" not in p.profiles()]
    assert not missing, f"papers without a paper profile: {missing}"


def test_list_shows_paper_for_every_paper(tmp_path):
    result = subprocess.run([sys.executable, "-m", "harness", "list"], capture_output=True, text=True, cwd=ROOT,
                            env=_env())
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines()[2:] if line.strip()}
    assert set(rows) == {p.key for p in PAPERS}
    assert all("paper" in profiles_.split(",") for profiles_ in rows.values()), rows


@pytest.mark.parametrize("paper", [p.key for p in PAPERS])
def test_paper_profile_claims_state_their_own_setting(paper):
    """A paper-profile claim shows the setting it runs, not the reduced one relabelled as 'scaled from'."""
    for claim in registry.get(paper).claims:
        text = claim.setting_for("paper")
        assert text and not text.startswith("scaled from the reduced setting"), (claim.id, text)


@pytest.mark.parametrize("paper", [p.key for p in PAPERS])
def test_every_experiment_declares_a_workload_for_the_plan(paper):
    p = registry.get(paper)
    grid = plan.tasks(p, "paper", ("torch", "tf"))
    assert [t.experiment for t in grid] == [e.name for e in p.experiments]
    assert all(t.seeds == p.experiment(t.experiment).seeds["paper"] for t in grid)
    assert all(t.items_per_seed >= 0 and t.schedule for t in grid)


@pytest.mark.parametrize("target", [p.key for p in PAPERS] + ["all"])
def test_plan_exits_0_and_imports_no_framework(target, tmp_path):
    result = _harness("reproduce", target, "--profile", "paper", "--plan", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr, result.stderr
    keys = [p.key for p in PAPERS] if target == "all" else [target]
    for key in keys:
        assert f"## {key} " in result.stdout
        for exp in registry.get(key).experiments:
            assert exp.name in result.stdout
    assert "ESTIMATES" in result.stdout and "Estimated device-hours on" in result.stdout
    assert not (tmp_path / "results" / "runs.jsonl").exists()  # nothing ran


def _cifar_subset(root: Path, n_train: int, n_test: int) -> Path:
    """A CIFAR-10 binary layout with n_train / n_test records (zeros, label 0): a subset, as on a small machine."""
    folder = root / "cifar10"
    folder.mkdir(parents=True)
    (folder / "data_batch_1.bin").write_bytes(bytes(3073 * n_train))
    (folder / "test_batch.bin").write_bytes(bytes(3073 * n_test))
    return root


def test_paper_profile_refuses_a_cifar_subset_naming_the_need(tmp_path):
    data_dir = _cifar_subset(tmp_path / "data", 40, 10)
    result = _harness("reproduce", "resnet", "--profile", "paper", "--data-dir", str(data_dir), tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1, result.stderr
    assert "holds 40 training and 10 test images" in error[0] and "needs 50,000 and 10,000" in error[0]
    assert "Traceback" not in result.stderr and "LOADED []" in result.stderr
    assert not (tmp_path / "results" / "runs.jsonl").exists()


def test_paper_profile_without_a_data_directory_is_an_error_not_the_digits(tmp_path):
    result = _harness("reproduce", "resnet", "--profile", "paper", tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "needs a data directory" in result.stderr and "never stand in" in result.stderr


@pytest.mark.parametrize("paper", [p.key for p in PAPERS if profiles.needs(p, "paper")])
def test_every_data_need_is_refused_in_an_empty_directory(paper, tmp_path):
    p = registry.get(paper)
    with pytest.raises(DataError) as e:
        profiles.check_data([p], "paper", str(tmp_path))
    first = profiles.needs(p, "paper")[0]
    assert f"{paper}/" in str(e.value) and first.dataset in str(e.value)
    assert "\n" not in str(e.value)


def test_imagenet_need_names_the_missing_files_and_stays_refused_when_present(tmp_path):
    need = next(n for n in profiles.needs(registry.get("vit"), "paper") if n.dataset == "imagenet")
    status = profiles.data_status(need, str(tmp_path))
    assert "imagenet/train/" in status and "imagenet/LOC_val_solution.csv" in status
    (tmp_path / "imagenet" / "train").mkdir(parents=True)
    (tmp_path / "imagenet" / "val").mkdir()
    (tmp_path / "imagenet" / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n")
    assert "no ImageNet input pipeline" in profiles.data_status(need, str(tmp_path))


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="no ../shared/data/mnist (the full MNIST)")
def test_full_mnist_meets_the_gan_paper_need():
    profiles.check_data([registry.get("gan")], "paper", str(SHARED))


def test_with_profile_refuses_an_experiment_left_out():
    paper = registry.get("resnet")
    with pytest.raises(ValueError, match="lack experiments"):
        profiles.with_profile(paper, "paper", configs={}, seeds={"depth": 1})


def _bench_record(value: float, device: str = "cpu", time: str = "2026-01-01T00:00:00+00:00") -> dict:
    return results.make_record(
        kind="benchmark", paper="resnet", framework="torch", check="resnet20-train/train_step",
        metric="images_per_second", value=value, expected={}, passed=None, config={"case": "resnet20-train"},
        seed=0, dataset="generated", profile=None, dtype=None, numerics={"device": device}, time=time)


def test_estimate_is_seeds_times_items_over_the_newest_bench_figure(tmp_path):
    results.append(tmp_path / "bench.jsonl", [_bench_record(50.0, time="2026-01-01T00:00:00+00:00"),
                                              _bench_record(200.0, time="2026-02-01T00:00:00+00:00"),
                                              _bench_record(1000.0, device="cuda", time="2026-01-15T00:00:00+00:00")])
    figures, problems = plan.bench_figures(tmp_path)
    assert not problems
    (task,) = plan.tasks(registry.get("resnet"), "paper", ("torch", "tf"))
    est = plan.estimate(task, figures, ["cpu", "cuda"])
    assert est["cpu"]["torch"] == pytest.approx(task.seeds * task.items_per_seed / 200.0 / 3600)
    assert est["cuda"]["torch"] == pytest.approx(task.seeds * task.items_per_seed / 1000.0 / 3600)
    assert est["cpu"]["tf"] == "no bench figure"  # never borrowed from the other framework


def test_plan_says_which_figures_it_used_and_when_a_paper_has_none(tmp_path):
    results.append(tmp_path / "bench.jsonl", [_bench_record(100.0)])
    text = plan.render([registry.get("resnet"), registry.get("gan")], "paper", ("torch",), None, tmp_path, None)
    assert "bench figures used: bench.jsonl on cpu" in text
    assert "no bench figure for gan" in text
    assert "ESTIMATES" in text


def test_workload_weights_scale_with_the_run():
    """Doubling the epochs doubles the items; the seeds multiply the estimate, not the items per seed."""
    resnet = registry.get("resnet")
    study = resnet.experiment("depth").configs["paper"]
    work = resnet.workloads["depth"]
    assert work.items(dataclasses.replace(study, epochs=2 * study.epochs)) == pytest.approx(2 * work.items(study))
