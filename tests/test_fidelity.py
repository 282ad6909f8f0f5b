"""Claim evaluation over seeds and the cross-framework consistency test, on synthetic per-seed metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import claims, executor
from harness.spec import Band, Ordering, Ratio

COMMON = {"text": "t", "source": "Table 1", "setting": "reduced"}


def runs(torch_values, tf_values, metric="m", exp="e"):
    return {("torch", exp): [{metric: v} for v in torch_values], ("tf", exp): [{metric: v} for v in tf_values]}


def test_statistics_ignore_seeds_that_never_reached_the_metric():
    values = [1.0, math.nan, 3.0, 100.0, 2.0]
    assert claims.statistic("median", values) == 2.5
    assert claims.statistic("mean", values) == pytest.approx(26.5)
    assert claims.statistic("olympic", values) == 2.5  # drops 1 and 100
    assert math.isnan(claims.statistic("median", [math.nan, math.nan]))
    with pytest.raises(ValueError):
        claims.statistic("mode", values)


def test_band_ordering_ratio_verdicts():
    band = Band(id="b", experiment="e", metric="m", lo=712.5, hi=4275, **COMMON)
    r = claims.evaluate(band, runs([1000, 2000, 1500], [1, 2, 3]), "torch")
    assert r.passed and r.value == 1500 and "median m in [712.5, 4275]" == r.rule
    assert not claims.evaluate(band, runs([1000, 2000, 1500], [1, 2, 3]), "tf").passed

    both = {**runs([3, 3, 3], [3, 3, 3], metric="deep"), **runs([1, 1, 1], [1, 1, 1], metric="shallow", exp="f")}
    both[("torch", "e")] = [{"deep": 3.0}] * 3
    order = Ordering(id="o", a=("e", "deep"), b=("f", "shallow"), relation=">", **COMMON)
    assert claims.evaluate(order, both, "torch").passed
    assert not claims.evaluate(Ordering(id="o", a=("e", "deep"), b=("f", "shallow"), relation="<", **COMMON),
                                 both, "torch").passed
    ratio = Ratio(id="r", a=("e", "deep"), b=("f", "shallow"), lo=2, hi=4, **COMMON)
    result = claims.evaluate(ratio, both, "tf")
    assert result.passed and result.value == 3


def test_nan_statistic_never_passes_and_report_only_has_no_verdict():
    band = Band(id="b", experiment="e", metric="m", **COMMON)  # unbounded band
    assert claims.evaluate(band, runs([math.nan] * 3, [1.0] * 3), "torch").passed is False
    report = Band(id="b", experiment="e", metric="m", report_only=True, **COMMON)
    assert claims.evaluate(report, runs([1.0] * 3, [1.0] * 3), "torch").passed is None


def test_consistency_flags_frameworks_that_differ_and_accepts_ones_that_do_not():
    rng = np.random.default_rng(0)
    band = Band(id="b", experiment="e", metric="m", equivalence=1.5, equivalence_reason="test", **COMMON)
    same = claims.consistency(band, runs(list(rng.normal(0, 1, 20)), list(rng.normal(0, 1, 20))))
    assert same.passed and same.outcome == "consistent"
    different = claims.consistency(band, runs(list(rng.normal(0, 1, 20)), list(rng.normal(5, 1, 20))))
    assert not different.passed and different.p_value < 1e-4
    # convergence rates: 20/20 vs 2/20 seeds reached the metric
    rates = claims.consistency(band, runs([1.0] * 20, [1.0] * 2 + [math.nan] * 18))
    assert not rates.passed and "Fisher" in rates.detail


def test_seed_override_and_missing_profile_errors():
    from harness.errors import ConfigError
    from harness.spec import Experiment

    exp = Experiment(name="e", run=lambda ctx, c: {}, configs={"tiny": 1}, seeds={"tiny": 4}, dataset="d")
    assert executor.seeds_for(exp, "tiny", None) == [0, 1, 2, 3]
    assert executor.seeds_for(exp, "tiny", 2) == [0, 1]
    with pytest.raises(ConfigError, match="no 'reduced' profile"):
        executor.seeds_for(exp, "reduced", None)


def test_an_experiment_may_say_which_dataset_it_used_and_every_other_value_is_a_number():
    from harness.spec import Experiment

    exp = Experiment(name="e", run=lambda ctx, c: {}, configs={"tiny": 1}, seeds={"tiny": 1}, dataset="cifar10")
    assert executor.split_metrics({"acc": np.float32(0.5)}, exp) == ({"acc": 0.5}, "cifar10")
    metrics, dataset = executor.split_metrics({"acc": 1, "dataset": "digits (FALLBACK: no cifar10)"}, exp)
    assert metrics == {"acc": 1.0} and dataset.startswith("digits")
    with pytest.raises(TypeError, match="metric 'note' is 'x', not a number"):
        executor.split_metrics({"note": "x"}, exp)


@pytest.mark.slow
def test_seeds_in_worker_processes_give_the_same_results_and_save_each_seed(monkeypatch):
    """--jobs 2: fresh spawned workers (each imports both frameworks: seconds), same numbers as one process."""
    from harness import registry

    monkeypatch.setenv("HARNESS_REGISTRY", "tests.toy")
    registry.papers.cache_clear()
    try:
        paper = registry.get("toy")
        here = executor.run_experiments(paper, "tiny", ("torch", "tf"), 2, None)
        saved: list[dict] = []
        used: dict = {}
        workers = executor.run_experiments(paper, "tiny", ("torch", "tf"), 2, None, on_seed=saved.append,
                                           datasets=used, jobs=2)
    finally:
        registry.papers.cache_clear()
    assert workers == here
    assert len(saved) == 4 and used == {("torch", "fit"): {"generated:gaussian"}, ("tf", "fit"): {"generated:gaussian"}}
    resumed = executor.run_experiments(paper, "tiny", ("torch", "tf"), 2, None, jobs=2,
                                       saved={tuple(e["key"]): e for e in saved})
    assert resumed == here  # everything saved: nothing runs again


def test_consistency_with_too_few_seeds_gives_no_verdict_instead_of_an_empty_pass():
    assert claims.smallest_mann_whitney_p(3, 3) == pytest.approx(0.1)
    assert claims.smallest_mann_whitney_p(20, 20) < 1e-10
    band = Band(id="b", experiment="e", metric="m", **COMMON)
    few = claims.consistency(band, runs([1.0, 2.0, 3.0], [10.0, 11.0, 12.0]))  # fully separated, n=3
    assert few.passed is None and few.outcome == "undecided" and few.further_seeds >= 2  # 5 per side can reject
    enough = claims.consistency(band, runs(list(range(8)), list(range(100, 108))))
    assert enough.passed is False


def test_claim_verdict_says_when_consistency_could_not_be_tested():
    from harness.tables import claim_verdict

    torch_rec, tf_rec = {"passed": True, "value": 1.0}, {"passed": True, "value": 2.0}
    assert claim_verdict(torch_rec, tf_rec, {"passed": None}) == \
        "reproduced (both); too few seeds to test torch-tf consistency"  # a record from before the outcomes
    undecided = {"passed": None, "details": {"outcome": "undecided", "further_seeds": 7}}
    assert claim_verdict(torch_rec, tf_rec, undecided) == \
        "reproduced (both); torch-tf consistency undecided (about 7 more seeds per framework would likely decide it)"
    consistent = {"passed": True, "expected": {"margin": 0.25}, "details": {"outcome": "consistent"}}
    assert claim_verdict(torch_rec, tf_rec, consistent) == "reproduced (both); torch-tf consistent (within +-0.250)"
    assert claim_verdict(torch_rec, tf_rec, {"passed": True}) == "reproduced (both)"


def test_claim_setting_per_profile_and_a_single_text_labels_other_profiles_as_scaled():
    from harness.spec import Experiment, Paper

    one = Band(id="x", text="t", source="s", setting="T=50, 3 seeds", experiment="e", metric="m")
    assert one.setting_for("reduced") == "T=50, 3 seeds"
    assert one.setting_for("tiny") == "scaled from the reduced setting: T=50, 3 seeds"
    per = Band(id="y", text="t", source="s", setting={"tiny": "T=20, 1 seed", "reduced": "T=50, 3 seeds"},
               experiment="e", metric="m")
    assert per.setting_for("tiny") == "T=20, 1 seed"
    with pytest.raises(KeyError, match="no setting for profile 'paper'"):
        per.setting_for("paper")
    exp = Experiment(name="e", run=lambda ctx, c: {}, configs={"tiny": 1, "reduced": 2},
                     seeds={"tiny": 1, "reduced": 1}, dataset="d")
    Paper(key="p", title="", citation="", year=1, package="p", experiments=(exp,), claims=(one, per))
    half = Band(id="z", text="t", source="s", setting={"reduced": "T=50"}, experiment="e", metric="m")
    with pytest.raises(ValueError, match=r"setting lacks profiles \['tiny'\]"):
        Paper(key="p", title="", citation="", year=1, package="p", experiments=(exp,), claims=(half,))


def test_resume_reuses_only_runs_with_the_same_identity_and_says_why_not(monkeypatch):
    """Issue 11 defect 4: the run key covers config, data, code and threads; a mismatch is rerun, and said."""
    from harness import registry

    monkeypatch.setenv("HARNESS_REGISTRY", "tests.toy")
    registry.papers.cache_clear()
    try:
        paper = registry.get("toy")
        saved: list[dict] = []
        first = executor.run_experiments(paper, "tiny", ("torch",), 2, None, on_seed=saved.append)
        assert len(saved) == 2 and len(saved[0]["key"]) == 7
        assert set(saved[0]["identity"]) == {"config", "data", "code", "threads", "execution"}

        def resume(entries):
            notes, again = [], []
            runs = executor.run_experiments(paper, "tiny", ("torch",), 2, None, on_seed=again.append,
                                            saved={tuple(e["key"]): e for e in entries}, on_note=notes.append)
            return runs, notes, again

        runs, notes, again = resume(saved)
        assert runs == first and notes == [] and again == []  # identical: reused, nothing runs
        threads = saved[0]["identity"]["threads"]
        other_threads = [{**e, "key": [*e["key"][:6], "0" * 12], "identity": {**e["identity"], "threads": threads + 3}}
                         for e in saved]
        runs, notes, again = resume(other_threads)
        assert runs == first and len(again) == 2
        assert notes == ["note: not reusing 2 saved seed run(s) of toy/fit [torch]: threads changed (saved: "
                         f"{threads + 3}; now: {threads}); running them again"]
        legacy = [{**e, "key": e["key"][:6]} for e in saved]  # saved before the identity existed
        _, notes, again = resume([{k: v for k, v in e.items() if k != "identity"} for e in legacy])
        assert len(again) == 2 and "older harness" in notes[0]
    finally:
        registry.papers.cache_clear()


def test_a_runs_code_identity_covers_the_harness_code_that_trains_not_the_code_that_judges():
    """A saved seed run is reused only with the same training code: the paper's package and the harness modules on
    a run's path (adapters, the training loop, data readers); a change to how claims are judged keeps it."""
    from pathlib import Path

    files = executor.code_files("reproductions.lstm")
    names = {(p.parent.name, p.stem) for p in files}
    assert {("lstm", "tf_impl"), ("lstm", "paper"), ("harness", "adapters"), ("harness", "training"),
            ("harness", "data"), ("harness", "conventions"), ("harness", "executor")} <= names
    assert not {("harness", m) for m in ("consistency", "claims", "tables", "report")} & names
    harness_modules = {p.stem for p in Path(executor.__file__).parent.glob("*.py")}
    assert executor.NOT_RUN_CODE <= harness_modules  # no stale name that would exempt nothing


def test_fidelity_still_exports_the_names_it_had_from_the_modules_that_define_them():
    """harness.fidelity was split into executor (scheduling) and claims (statistics); its old names stay importable
    and are the defining modules' objects (a monkeypatch must target executor or claims, where they are looked up)."""
    from harness import fidelity, spec

    for name in fidelity.__all__:
        obj = getattr(fidelity, name)
        home = next(m for m in (executor, claims, spec) if hasattr(m, name))
        assert obj is getattr(home, name), name
    assert {"run_experiments", "evaluate_all", "smallest_mann_whitney_p", "config_dict"} <= set(fidelity.__all__)
