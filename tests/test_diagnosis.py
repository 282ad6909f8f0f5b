"""Claim diagnoses (harness.diagnosis): the trend rule on made-up curves, the declarations' checks, the records
and their strict readers, the tables and the plot, and the `diagnose` verb end to end on a toy registry."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from harness import baseline, diagnosis, plots, registry, results, tables
from harness.errors import ResultsError
from harness.spec import Band, BudgetCurve, Diagnosis, Ordering, Paper
from tests.cli_runner import run_cli
from tests.toy.paper import PAPER as TOY

# --- the trend rule --------------------------------------------------------------------------------------------


def _points(rows, frameworks=("torch", "tf")):
    """{framework: [(budget, progress), ...]} from {budget: [progress per seed]} (the same for each framework)."""
    return {fw: [(b, p) for b, ps in rows.items() for p in ps] for fw in frameworks}


def test_a_curve_moving_toward_the_paper_is_budget_limited():
    t = diagnosis.trend(_points({1: [-3.0, -2.8], 2: [-2.0, -1.9], 4: [-1.0, -0.7], 8: [0.1, 0.3]}))
    assert t.kind == "budget-limited"
    assert t.tau > 0.9 and t.p_toward < diagnosis.ALPHA  # tau-b stays below 1 with tied budgets


def test_a_curve_moving_away_is_contradicted():
    t = diagnosis.trend(_points({1: [0.5, 0.4], 2: [0.0, -0.1], 4: [-0.6, -0.5], 8: [-1.0, -1.2]}))
    assert t.kind == "contradicted" and "away" in t.why and t.p_away < diagnosis.ALPHA


def test_a_flat_curve_within_the_seed_spread_is_contradicted():
    # The medians stay at 0 while the seeds spread by 2 at every budget: no movement the seeds can resolve.
    t = diagnosis.trend(_points({1: [-1.0, 0.0, 1.0], 2: [1.0, 0.0, -1.0], 4: [0.0, -1.0, 1.0]}))
    assert t.kind == "contradicted" and t.flat and "flat" in t.why


def test_a_noisy_curve_that_is_neither_is_inconclusive():
    # Medians move by more than the seed spread, but not monotonically: no trend, and not flat.
    t = diagnosis.trend(_points({1: [0.0, 0.1], 2: [2.0, 2.1], 4: [0.05, 0.15]}))
    assert t.kind == "inconclusive" and not t.flat


def test_one_seed_per_budget_is_never_called_flat():
    t = diagnosis.trend(_points({1: [0.0], 2: [0.01], 4: [0.0]}))
    assert not t.flat and t.kind == "inconclusive"


def test_the_frameworks_are_permuted_separately():
    # tf sits 100 higher than torch: pooled, the level difference would swamp the trend; stratified it cannot.
    pts = _points({1: [-3.0, -2.9], 2: [-2.0, -1.8], 4: [-1.0, -0.9]})
    pts["tf"] = [(b, p + 100) for b, p in pts["tf"]]
    assert diagnosis.trend(pts).kind == "budget-limited"


def test_nan_points_are_left_out_and_no_points_is_inconclusive():
    assert diagnosis.trend({"torch": [(1, math.nan), (2, math.nan)]}).kind == "inconclusive"
    t = diagnosis.trend(_points({1: [-3.0, math.nan], 2: [-2.0, -2.1], 4: [-1.0, -1.1]}))
    assert t.kind == "budget-limited"


def test_the_vectorised_tau_b_is_scipys():
    from scipy import stats

    rng = np.random.default_rng(0)
    for n in (3, 6, 9):
        x = np.repeat(np.arange(n // 3), 3).astype(float)  # tied budgets, as in a curve
        ys = rng.integers(0, 4, size=(20, n)).astype(float)  # ties in y too
        want = [stats.kendalltau(x, y).statistic if np.unique(y).size > 1 and np.unique(x).size > 1 else 0.0
                for y in ys]
        np.testing.assert_allclose(diagnosis.tau_b(x, ys), np.nan_to_num(want), rtol=1e-12, atol=1e-12)


def test_progress_is_signed_toward_the_paper():
    greater = Ordering(id="a", text="", source="", setting="", a=("e", "x"), b=("e", "y"), relation=">")
    less = replace(greater, relation="<")
    assert diagnosis.progress(greater, 0.3) == 0.3 and diagnosis.progress(less, 0.3) == -0.3
    band = Band(id="b", text="", source="", setting="", experiment="e", metric="m", lo=0.8, hi=1.25)
    assert diagnosis.progress(band, 1.0) == 0.0 and diagnosis.progress(band, 0.5) == pytest.approx(-0.3)
    assert diagnosis.progress(band, 2.0) == pytest.approx(-0.75)
    reported = replace(band, lo=2.0, hi=math.inf, reported=6.0)  # a number inside the band: distance to it
    assert diagnosis.progress(reported, 3.0) == -3.0 and diagnosis.progress(reported, 7.0) == -1.0
    assert math.isnan(diagnosis.progress(band, math.nan))


# --- the declarations ------------------------------------------------------------------------------------------


def _curve(**kw):
    return BudgetCurve(**{"claim": "loss-falls", "axis": "lr", "values": (1, 2, 3), "configure": lambda e, c, b: c,
                          **kw})


@pytest.mark.parametrize("kw, message", [({"values": (1, 2)}, "at least 3 budgets"),
                                         ({"values": (1, 3, 2)}, "ascending"),
                                         ({"values": (1, 1, 2)}, "distinct"),
                                         ({"seeds": 0}, "seeds must be at least 1")])
def test_a_bad_budget_curve_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        _curve(**kw)


def test_a_declared_diagnosis_needs_evidence_and_under_specified_needs_candidates():
    with pytest.raises(ValueError, match="candidates"):
        Diagnosis(claim="c", kind="under-specified", summary="s", evidence=("e",), candidates=("one",))
    with pytest.raises(ValueError, match="evidence"):
        Diagnosis(claim="c", kind="contradicted", summary="s", evidence=())
    with pytest.raises(ValueError, match="kind"):
        Diagnosis(claim="c", kind="bug", summary="s", evidence=("e",))  # type: ignore[arg-type]


def test_a_curve_or_diagnosis_must_name_a_claim_of_the_paper():
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        replace(TOY, budget_curves=(_curve(claim="nope"),))
    with pytest.raises(ValueError, match="unknown claim 'nope'"):
        replace(TOY, diagnoses=(Diagnosis(claim="nope", kind="contradicted", summary="s", evidence=("e",)),))


def test_the_cut_down_paper_runs_only_the_claims_experiments_at_the_budget():
    curve = _curve(configure=lambda e, c, lr: replace(c, lr=lr), seeds=2, profile="tiny")
    cut = diagnosis.curve_paper(TOY, curve, 0.25)
    assert isinstance(cut, Paper) and [c.id for c in cut.claims] == ["loss-falls"]
    assert [e.name for e in cut.experiments] == ["fit"]
    assert cut.experiments[0].configs == {"tiny": replace(TOY.experiment("fit").configs["tiny"], lr=0.25)}
    assert cut.experiments[0].seeds == {"tiny": 2}


def test_every_declared_curve_of_the_real_papers_builds_its_configs():
    """Each budget's config is made without running anything (a configure that breaks would fail here)."""
    for paper in registry.papers().values():
        for curve in paper.budget_curves:
            claim = diagnosis.claim_of(paper, curve.claim)
            assert not claim.report_only, f"{paper.key}/{curve.claim}: a curve diagnoses a verdict"
            configs = [diagnosis.curve_paper(paper, curve, b).experiments for b in curve.values]
            assert all(configs), curve.claim


# --- records, their readers, tables and plot --------------------------------------------------------------------


def _fake_ran(paper: Paper, curve: BudgetCurve, gain: float):
    """{budget: (cut paper, runs, datasets)} with final_loss = initial_loss - gain * budget (+ seed jitter)."""
    ran = {}
    for budget in curve.values:
        cut = diagnosis.curve_paper(paper, curve, budget)
        runs = {(fw, "fit"): [{"initial_loss": 1.0, "final_loss": 1.0 - gain * budget + 0.001 * s}
                              for s in range(curve.seeds)] for fw in ("torch", "tf")}
        ran[budget] = (cut, runs, {(fw, "fit"): {"generated:gaussian"} for fw in ("torch", "tf")})
    return ran


def test_curve_records_are_valid_and_say_where_the_claim_starts_to_hold(tmp_path):
    curve = _curve(values=(0.0, 1.0, 2.0, 4.0), seeds=2, profile="tiny")
    records = diagnosis.curve_records(TOY, curve, _fake_ran(TOY, curve, 0.1), ("torch", "tf"), {}, None)
    budget = [r for r in records if r["kind"] == "budget"]
    assert len(budget) == 8 and records[-1]["kind"] == "diagnosis"
    d = records[-1]["details"]
    # at budget 0 the loss does not fall (the claim fails); from budget 1 on it does, in both frameworks
    assert d["diagnosis"] == "budget-limited" and d["reproduces_at"] == 1.0
    assert "reproduces at lr 1" in d["summary"]
    path = tmp_path / "diagnoses.jsonl"
    results.append(path, records)
    read, problems = results.read(path, also=baseline.check_claim_evidence)  # the strict reader accepts them
    assert not problems and len(read) == len(records)


def test_a_budget_record_without_per_seed_values_is_refused_by_the_strict_reader():
    curve = _curve(seeds=2, profile="tiny")
    record = diagnosis.curve_records(TOY, curve, _fake_ran(TOY, curve, 0.1), ("torch",), {}, None)[0]
    record["details"]["inputs"] = {}
    with pytest.raises(ResultsError, match="per-seed values"):
        baseline.check_claim_evidence(record)


def test_compare_leaves_budget_and_diagnosis_records_out():
    curve = _curve(seeds=2, profile="tiny")
    extra = diagnosis.curve_records(TOY, curve, _fake_ran(TOY, curve, 0.1), ("torch", "tf"), {}, None)
    claim = results.make_record(kind="claim", paper="toy", framework="torch", check="c", metric="m", value=1.0,
                                passed=True, expected={"rule": "r"}, profile="tiny",
                                details={"inputs": {"fit.x": {"values": [1.0]}}})
    verdict = baseline.compare([claim, *extra], [claim])
    assert not verdict.regressions and not verdict.new
    assert any("budget-curve and diagnosis records not compared" in n for n in verdict.notes)


def _claim_records(paper_key="toy", claim="loss-falls"):
    return [results.make_record(kind="claim", paper=paper_key, framework=fw, check=claim, metric="r", value=0.2,
                                passed=False, expected={"rule": "r", "setting": "s"}, profile="reduced",
                                details={"inputs": {"fit.x": {"values": [0.2]}}}) for fw in ("torch", "tf")]


def test_the_claims_table_shows_the_diagnosis_beside_the_unchanged_verdict():
    curve = _curve(values=(0.0, 1.0, 2.0), seeds=2, profile="reduced")
    toy = replace(TOY, experiments=tuple(replace(e, configs={**e.configs, "reduced": e.configs["tiny"]})
                                         for e in TOY.experiments))
    recs = _claim_records() + diagnosis.curve_records(toy, curve, _fake_ran(toy, curve, 0.1), ("torch", "tf"),
                                                      {}, None)
    plain = tables.claims_table(_claim_records(), "toy")
    table = tables.claims_table(recs, "toy")
    assert "diagnosis" not in plain.columns  # no diagnoses: the table is as before
    row = table[table["claim"] == "loss-falls"].iloc[0]
    assert row["verdict"] == plain.iloc[0]["verdict"] and row["verdict"].startswith("not reproduced")
    assert row["diagnosis"].startswith("budget-limited (lr 0, 1, 2); reproduces at lr 1")
    section = diagnosis.diagnosis_table(recs)
    assert list(section["reduced verdict"]) == ["not reproduced (torch: 0.200, tf: 0.200)"]
    summary = tables.summary_table(recs)
    assert list(summary["diagnoses"]) == ["budget-limited 1"]
    assert "diagnoses" not in tables.summary_table(_claim_records()).columns
    figures = plots.budget_curve_figures(recs)
    assert [f.name for f in figures] == ["budget/toy/loss-falls"] and figures[0].section == "budget curves"


# --- the verb end to end ------------------------------------------------------------------------------------------


def _harness(*args, results_dir) -> tuple[int, str, str]:
    r = run_cli(*args, registry_module="tests.diag_toy", results_dir=results_dir)
    return r.returncode, r.stdout, r.stderr


def test_diagnose_runs_the_curve_saves_each_seed_and_resumes(tmp_path):
    code, out, err = _harness("diagnose", "toydiag", results_dir=tmp_path)
    assert code == 0, err
    lines = (tmp_path / "diagnoses.jsonl").read_text().splitlines()
    kinds = [json.loads(x)["kind"] for x in lines]
    assert kinds.count("budget") == 3 * 2 and kinds.count("diagnosis") == 2  # the curve's and the declared one
    curve = next(json.loads(x) for x in lines if json.loads(x)["check"] == "loss-falls")
    assert curve["details"]["diagnosis"] == "budget-limited", curve["details"]["summary"]
    runs = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(runs) == 3 * 2 * 2  # budgets x seeds x frameworks, each saved as it finished
    code, _, err = _harness("diagnose", "toydiag", "--resume", results_dir=tmp_path)
    assert code == 0, err
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == len(runs)  # nothing ran again
    again = [json.loads(x) for x in (tmp_path / "diagnoses.jsonl").read_text().splitlines()[len(lines):]]
    assert [r["details"].get("per_seed") for r in again if r["kind"] == "budget"] == \
        [json.loads(x)["details"].get("per_seed") for x in lines if json.loads(x)["kind"] == "budget"]
    assert np.all(np.isfinite([r["value"] for r in again if r["kind"] == "budget"]))


def test_diagnose_refuses_an_undeclared_claim_with_one_line(tmp_path):
    code, _, err = _harness("diagnose", "toydiag", "--claim", "nope", results_dir=tmp_path)
    assert code == 2 and err.startswith("error: no budget curve or diagnosis declared for claim(s) nope")
    assert not (tmp_path / "diagnoses.jsonl").exists()


def test_declared_only_records_the_declared_diagnosis_and_runs_nothing(tmp_path):
    code, _, err = _harness("diagnose", "toydiag", "--declared-only", results_dir=tmp_path)
    assert code == 0, err
    (only,) = [json.loads(x) for x in (tmp_path / "diagnoses.jsonl").read_text().splitlines()]
    assert only["check"] == "final-loss#declared" and only["details"]["diagnosis"] == "under-specified"
    assert only["details"]["candidates"] == ["MSE", "sum of squares"]
    assert not (tmp_path / "runs.jsonl").exists()


def test_a_corrupt_diagnoses_file_stops_the_tables_with_its_line(tmp_path):
    (tmp_path / "diagnoses.jsonl").write_text("{not json\n")
    with pytest.raises(ResultsError, match="diagnoses.jsonl:1"):
        diagnosis.with_diagnoses([], tmp_path)
    assert diagnosis.with_diagnoses([], tmp_path / "absent") == []
