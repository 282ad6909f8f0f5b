"""A seed whose training diverges is a finding, not a crash: it is saved as diverged, the other seeds go on, and
every verdict built on the claim's seeds says how many diverged (the statistic is over the others)."""

from __future__ import annotations

import math

import pytest

from harness import claims, executor, report, results, tables
from harness.errors import ResultsError
from harness.spec import Band, Experiment, Paper
from harness.training import check_finite

DIVERGING_SEED = 1


def fit(ctx, config) -> dict:
    """Seed 1's loss blows up at step 3 (as GAN Prop. 1's D did on 2 of 10 seeds at lr 0.1, momentum 0.9)."""
    for step in range(5):
        loss = math.inf if (ctx.seed == DIVERGING_SEED and step == 3) else 1.0 / (step + 1)
        check_finite(loss, f"toy fit, step {step}")
    return {"m": 0.5 + ctx.seed}


PAPER = Paper(key="toy", title="t", citation="c", year=2026, package="tests.toy",
              experiments=(Experiment(name="fit", run=fit, configs={"tiny": 1}, seeds={"tiny": 3}, dataset="d"),),
              claims=(Band(id="m-small", text="t", source="s", setting="s", experiment="fit", metric="m",
                           lo=0.0, hi=2.0),))


def run(**kw):
    saved, notes = [], []
    runs = executor.run_experiments(PAPER, "tiny", ("torch",), None, None, on_seed=saved.append,
                                    on_note=notes.append, **kw)
    return runs, saved, notes


def test_a_diverged_seed_is_saved_and_the_others_still_run(tmp_path):
    runs, saved, notes = run()
    seeds = runs[("torch", "fit")]
    assert [s.get("m") for s in seeds] == [0.5, None, 2.5]
    assert isinstance(seeds[DIVERGING_SEED], executor.DivergedSeed)
    assert seeds[DIVERGING_SEED].message == "toy fit, step 3: loss inf; lower the learning rate or check the config"
    entry = saved[DIVERGING_SEED]
    # each saved run says what its seed cost (CPU where it ran), so a user can see where a run's time went
    assert all(isinstance(e["cpu_seconds"], float) and e["cpu_seconds"] >= 0 for e in saved)
    assert entry["metrics"] == {} and entry["diverged"] == seeds[DIVERGING_SEED].message
    assert len(notes) == 1 and "toy fit [torch] seed 1 diverged (toy fit, step 3: loss inf" in notes[0]
    path = tmp_path / "runs.jsonl"
    for e in saved:
        results.append_run(path, e)
    back, problems = results.read_runs(path)
    assert problems == [] and [e.get("diverged") for e in back] == [None, entry["diverged"], None]
    resumed, again, _ = run(saved={tuple(e["key"]): e for e in back})
    assert again == [] and resumed == runs  # nothing reruns
    assert resumed[("torch", "fit")][DIVERGING_SEED].message == entry["diverged"]


def test_a_run_without_metrics_must_say_where_it_diverged():
    _, saved, _ = run()
    results.validate_run(saved[DIVERGING_SEED])
    with pytest.raises(ResultsError, match="'metrics' must be a non-empty object"):
        results.validate_run({**saved[DIVERGING_SEED], "diverged": None})
    with pytest.raises(ResultsError, match="'diverged' must say where"):
        results.validate_run({**saved[DIVERGING_SEED], "diverged": ""})


def test_every_verdict_on_the_claim_counts_the_diverged_seeds():
    runs, _, _ = run()
    result = claims.evaluate(PAPER.claims[0], runs, "torch")
    inputs = result.inputs["fit.m"]
    assert result.value == 1.5 and result.passed is False  # 1.5, the median of the two that trained, is in the
    # band, but seed 1 trained no model that could show the claim
    assert inputs["finite"] == 2 and inputs["seeds"] == 3 and list(inputs["diverged"]) == ["1"]
    record = {"passed": False, "value": 1.5, "details": {"inputs": {"fit.m": inputs}}}
    verdict = tables.claim_verdict(record, None, None)
    assert "torch: 1 of 3 seeds diverged (a diverged seed fails the claim)" in verdict
    assert tables.compact_verdict(verdict) == \
        "not reproduced (torch: 1.50); torch: 1 of 3 seeds diverged (a diverged seed fails the claim)"
    clean = claims.evaluate(PAPER.claims[0], {("torch", "fit"): [{"m": 0.5}, {"m": 1.5}]}, "torch")
    assert "diverged" not in clean.inputs["fit.m"] and clean.passed
    assert "diverged" not in tables.claim_verdict({"passed": True, "value": 1.0,
                                                   "details": {"inputs": clean.inputs}}, None, None)
    saved_records = claims.records(PAPER, "tiny", [result], [], {}, None)
    assert list(report.verdicts(saved_records)["verdict"]) == \
        ["not reproduced (torch: 1.50); torch: 1 of 3 seeds diverged (a diverged seed fails the claim)"]
