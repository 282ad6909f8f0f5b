"""The claim's metric over training: the papers' experiments log it (named as the metric their claims test) at
the shared loop's evaluation steps, its last point is the value the claim is judged on, and the curve plots
draw the claim's band and the paper's number beside it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import plots, registry
from harness.curves import CurveLog
from harness.spec import RunContext
from harness.training import evaluation_steps

# (paper module, experiment, metrics logged during training whose last point is the returned value exactly:
# the same model, measured the same way, after the last step)
CASES = [
    ("backprop", "family_trees", ("heldout_correct", "train_accuracy")),
    ("gan", "optimal_d", ("max_abs_error", "mean_abs_error")),
    ("resnet", "depth", ("plain_shallow_test_error", "res_deep_test_error")),
]


def run_tiny(paper_key: str, experiment: str, framework: str):
    import importlib

    paper = importlib.import_module(f"reproductions.{paper_key}.paper").PAPER
    exp = paper.experiment(experiment)
    model_cls = registry.model_class(paper, framework)
    log = CurveLog()
    ctx = RunContext(framework=framework, seed=0, profile="tiny", data_dir=None, log=log,
                     make_model=lambda config, seed, dtype="float32": model_cls(config, seed=seed, dtype=dtype))
    return exp, exp.run(ctx, exp.configs["tiny"]), log.curves, paper


@pytest.mark.parametrize(("paper_key", "experiment", "metrics"), CASES)
def test_experiments_log_the_claims_metric_at_the_evaluation_steps(paper_key, experiment, metrics, torch):
    _, out, curves, paper = run_tiny(paper_key, experiment, "torch")
    claimed = {m for c in paper.claims for e, m in _inputs(c) if e == experiment}
    for metric in metrics:
        assert metric in claimed, f"{metric} is not a metric a claim of {paper_key} tests"
        steps, values = curves[metric]
        assert len(steps) >= 2 and steps == sorted(steps) and steps[-1] == evaluation_steps(steps[-1])[-1]
        assert values[-1] == out[metric] or (math.isnan(values[-1]) and math.isnan(out[metric]))


def _inputs(claim):
    from harness.claims import claim_inputs

    return claim_inputs(claim)


def _record(framework, curves, *, lo=0.0, hi=10.0, reported=5.0, metric="acc"):
    return {"schema": 1, "kind": "claim", "paper": "p", "framework": framework, "check": "c1", "metric": metric,
            "value": 1.0, "passed": True, "profile": "tiny", "time": "2026-01-01T00:00:00+00:00",
            "expected": {"rule": f"median {metric} in [{lo:g}, {hi:g}]", "lo": lo, "hi": hi, "reported": reported},
            "details": {"inputs": {f"exp.{metric}": {"values": [1.0, 2.0]}}, "curves": {"exp": curves}}}


SEED_CURVES = [{"run loss": [[1, 2], [3.0, 2.0]], "acc": [[1, 2], [4.0, 6.0]]},
               {"run loss": [[1, 2], [2.5, 1.5]], "acc": [[1, 2], [5.0, 7.0]]}]


def test_the_paper_value_and_band_are_drawn_on_the_metrics_own_panel():
    figures = plots.training_curves([_record("torch", SEED_CURVES), _record("tf", SEED_CURVES)])
    assert len(figures) == 1
    axes = figures[0].figure.axes
    by_title = {ax.get_title(loc="left").split(" (")[0]: ax for ax in axes}
    assert len(axes) == 2 and set(by_title) == {"run loss", "acc"}  # one panel each, no empty frame behind
    assert [ax.get_title(loc="left") for ax in axes][0] == "run loss"  # the loss first, the metric after
    metric_ax, loss_ax = by_title["acc"], by_title["run loss"]
    dashed = [line for line in metric_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [5.0, 5.0]
    assert "paper (c1): 5" in dashed[0].get_label()
    assert any(p.get_label() == "band of c1" for p in metric_ax.patches)
    assert not [line for line in loss_ax.get_lines() if line.get_linestyle() == "--"]  # no claim on the loss
    assert metric_ax.get_ylim()[0] <= 5.0 <= metric_ax.get_ylim()[1]


def test_the_reference_line_comes_from_the_records_and_reaches_the_svg(tmp_path):
    """The value drawn is the one the claim record declares (no number typed into the plotter), and the SVG
    written carries it in its legend."""
    recs = [_record(fw, SEED_CURVES, lo=-math.inf, hi=100.0, reported=61.5) for fw in ("torch", "tf")]
    written = plots.write_all(recs, tmp_path)
    svg = next(w["path"] for w in written if w["section"] == "curves").read_text()
    assert "paper (c1): 61.5" in svg and "band of c1" in svg


def test_no_reference_without_a_numeric_paper_value_or_for_an_ordering():
    ordering = _record("torch", SEED_CURVES)
    ordering["expected"] = {"rule": "median exp.acc > median exp.other", "lo": None, "hi": None, "reported": "a > b"}
    no_paper = _record("tf", SEED_CURVES, reported=None)
    figure = plots.training_curves([ordering, no_paper])[0].figure
    metric_ax = next(ax for ax in figure.axes if ax.get_title(loc="left").startswith("acc"))
    assert not [line for line in metric_ax.get_lines() if line.get_linestyle() == "--"]
    assert [p.get_label() for p in metric_ax.patches if p.get_label().startswith("band")] == ["band of c1"]


def test_curve_references_skip_claims_on_two_inputs():
    rec = _record("torch", SEED_CURVES)
    rec["details"]["inputs"]["exp.other"] = {"values": [1.0]}
    assert plots.curve_references([rec]) == {}
    assert np.isclose(plots.curve_references([_record("torch", SEED_CURVES)])[("p", "tiny", "exp", "acc")][0].hi, 10)


def test_a_report_only_claim_draws_the_paper_value_without_a_band():
    """As recorded: a report-only claim's band is "-inf".."inf" (strings in JSON) and its paper number 8.75."""
    recs = [_record(fw, SEED_CURVES, reported=8.75) for fw in ("torch", "tf")]
    for r in recs:
        r["expected"].update(rule="report only (median shown)", lo="-inf", hi="inf")
    metric_ax = next(ax for ax in plots.training_curves(recs)[0].figure.axes
                     if ax.get_title(loc="left").startswith("acc"))
    dashed = [line for line in metric_ax.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in dashed] == [[8.75, 8.75]]
    assert not [p for p in metric_ax.patches if p.get_label().startswith("band")]
    assert metric_ax.get_ylim()[1] >= 8.75  # kept in view above the curves (at most 7)


def test_a_band_below_the_curves_is_brought_into_view():
    """gan's D* error: curves at 0.1-0.25, the band [0, 0.05]: the axis reaches down to show it."""
    recs = [_record(fw, SEED_CURVES, lo=0.0, hi=0.05, reported=None) for fw in ("torch", "tf")]
    metric_ax = next(ax for ax in plots.training_curves(recs)[0].figure.axes
                     if ax.get_title(loc="left").startswith("acc"))
    assert metric_ax.get_ylim()[0] <= 0.0
    assert [p.get_label() for p in metric_ax.patches if p.get_label().startswith("band")] == ["band of c1"]
