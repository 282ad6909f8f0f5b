"""Training curves end to end on the toy registry: logged by the shared loop, saved with each seed run and in
the claim records, drawn by the curves plotter, and written as TensorBoard event files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import plots, results
from harness.curves import validate
from harness.errors import ResultsError
from tests.test_cli import harness

TOY_CURVE = "fit loss"  # tests/toy/paper.py: 30 steps, one point per 10


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("curves")
    result = harness("reproduce", "toy", "--profile", "tiny", "--tensorboard", str(out / "tb"), results=out / "res")
    assert result.returncode == 0, result.stderr
    runs, problems = results.read_runs(out / "res" / "runs.jsonl")
    records, record_problems = results.read(out / "res" / "records.jsonl")
    assert not problems and not record_problems
    return out, runs, records


def test_each_seed_run_saves_its_curves(toy_run):
    _, runs, _ = toy_run
    assert len(runs) == 2 * 3
    for entry in runs:
        steps, values = entry["curves"][TOY_CURVE]
        assert steps == [10, 20, 30]
        assert all(np.isfinite(values))
    by_seed = {(e["key"][2], e["key"][3]): e["curves"][TOY_CURVE][1] for e in runs}
    assert by_seed[("torch", 0)] != by_seed[("torch", 1)]  # each seed its own curve, not a copy


def test_claim_records_carry_every_seeds_curves_once_per_experiment_and_framework(toy_run):
    _, runs, records = toy_run
    saved = {(e["key"][2], e["key"][3]): e["curves"] for e in runs}
    claims = [r for r in records if r["kind"] == "claim"]
    assert len(claims) == 2 * 2  # both toy claims read experiment "fit": its curves go in one of them
    for framework in ("torch", "tf"):
        carried = [r["details"]["curves"]["fit"] for r in claims
                   if r["framework"] == framework and "curves" in r["details"]]
        assert carried == [[saved[(framework, s)] for s in range(3)]]
    for r in records:
        if r["kind"] == "consistency":
            assert "curves" not in r["details"]


def test_tensorboard_has_one_run_per_experiment_framework_and_seed_with_the_scalars(toy_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, runs, _ = toy_run
    for entry in runs:
        _, experiment, framework, seed = entry["key"][:4]
        folder = out / "tb" / "toy-tiny" / experiment / framework / f"seed{seed}"
        assert list(folder.glob("events.out.tfevents.*")), f"no event file in {folder}"
        acc = EventAccumulator(str(folder))
        acc.Reload()
        assert acc.Tags()["scalars"] == [TOY_CURVE]
        events = acc.Scalars(TOY_CURVE)
        steps, values = entry["curves"][TOY_CURVE]
        assert [e.step for e in events] == steps
        # TensorBoard stores a float32: the saved value rounded to float32, exactly
        assert [e.value for e in events] == [float(np.float32(v)) for v in values]


def test_an_unwritable_tensorboard_dir_exits_2_before_any_training(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = harness("reproduce", "toy", "--profile", "tiny", "--tensorboard", str(blocker / "tb"),
                     results=tmp_path / "res")
    assert result.returncode == 2
    assert "--tensorboard" in result.stderr and "writable directory" in result.stderr
    assert not (tmp_path / "res" / "runs.jsonl").exists()


def test_the_curves_plot_renders_both_frameworks_with_a_spread(toy_run, tmp_path):
    _, _, records = toy_run
    figures = plots.training_curves(records)
    assert [f.name for f in figures] == ["curves/toy-fit-tiny"]
    ax = figures[0].figure.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["torch median (3 seeds)", "tf median (3 seeds)"]
    assert len(ax.collections) == 2  # the two seed bands
    written = plots.write_all(records, tmp_path / "figures")
    curve_files = [w["path"] for w in written if w["section"] == "curves"]
    assert curve_files and all(p.stat().st_size > 0 and p.with_suffix(".png").stat().st_size > 0
                               for p in curve_files)


def test_records_and_runs_without_curves_stay_readable_and_draw_no_curves(toy_run, tmp_path):
    out, _, records = toy_run
    stripped = []
    for line in (out / "res" / "runs.jsonl").read_text().splitlines():
        entry = json.loads(line)
        entry.pop("curves")
        stripped.append(json.dumps(entry))
    (tmp_path / "runs.jsonl").write_text("\n".join(stripped) + "\n")
    runs, problems = results.read_runs(tmp_path / "runs.jsonl")
    assert len(runs) == 6 and not problems
    old = [{**r, "details": {k: v for k, v in r["details"].items() if k != "curves"}} for r in records]
    assert plots.training_curves(old) == []


@pytest.mark.parametrize("bad", [{"loss": [[1, 2], [0.5]]}, {"loss": [1, 2]}, {"loss": [["a"], [0.5]]}, [1]])
def test_a_malformed_curve_is_refused_saying_what_is_wrong(bad):
    with pytest.raises(ResultsError, match="curve"):
        validate(bad)
    entry = {"key": ["toy", "fit", "torch", 0, "tiny", "abc"], "metrics": {"m": 1.0}, "curves": bad}
    with pytest.raises(ResultsError, match="curve"):
        results.validate_run(entry)


def test_the_report_shows_the_curves_under_their_paper(toy_run):
    out, _, _ = toy_run
    result = harness("report", results=out / "res")
    assert result.returncode == 0, result.stderr
    html = (out / "res" / "report" / "index.html").read_text()
    assert "Training curves" in html and "curves/toy-fit-tiny.svg" in html
    assert (out / "res" / "figures" / "curves" / "toy-fit-tiny.png").stat().st_size > 0
