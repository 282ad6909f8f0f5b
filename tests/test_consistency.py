"""The torch-tf consistency verdict: the difference's interval, the equivalence margin, the three outcomes, the
further-seeds estimate, and the registry's seed counts (every reduced claim with a verdict can get one)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import claims, registry, results
from harness import consistency as cons
from harness.spec import Band, Ordering, claim_inputs

COMMON = {"text": "t", "source": "Table 1", "setting": "reduced"}
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def runs(torch_values, tf_values, metric="m", exp="e"):
    return {("torch", exp): [{metric: v} for v in torch_values], ("tf", exp): [{metric: v} for v in tf_values]}


# --- the interval ----------------------------------------------------------------------------------------------


def test_rank_depth_matches_the_exact_mann_whitney_table():
    # 5 vs 5: P(U <= 2) = 4/252 <= 0.025 < P(U <= 3) = 7/252, so the interval is [d_(3), d_(23)] (Hollander & Wolfe)
    assert sum(cons._u_counts(5, 5)) == math.comb(10, 5)
    assert cons._rank_depth(5, 5) == 3
    assert cons._rank_depth(3, 3) == 0  # 2/20 = 0.1 > 0.05: no 95% interval from 3 seeds against 3
    assert cons._rank_depth(30, 30) > 0  # the normal approximation beyond EXACT_UP_TO


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=5, max_size=15), st.floats(-100, 100, allow_nan=False))
def test_hodges_lehmann_moves_with_a_shift_and_contains_it(values, shift):
    """Shifting one sample by c shifts the estimate and both ends by c (up to rounding of the sums); an exact copy
    shifted by c always lies inside its own interval."""
    a = np.asarray(values)
    base, moved = cons.hodges_lehmann(a, a), cons.hodges_lehmann(a + shift, a)
    scale = 1e-9 * (1 + np.abs(a).max() + abs(shift))
    assert moved.estimate == pytest.approx(base.estimate + shift, abs=scale)
    assert moved.lo <= shift + scale and shift - scale <= moved.hi
    assert base.lo <= base.estimate <= base.hi


@settings(max_examples=60, deadline=None)
@given(st.lists(finite, min_size=5, max_size=20), st.floats(0.01, 10))
def test_identical_samples_are_consistent_whenever_the_margin_is_positive(values, margin):
    """Identical samples: the interval of the difference is symmetric around 0; with 5+ seeds it is bounded, so
    a large enough margin makes them consistent, and never inconsistent whatever the margin."""
    band = Band(id="b", experiment="e", metric="m", equivalence=margin, equivalence_reason="test", **COMMON)
    k = claims.consistency(band, runs(values, values))
    assert k.outcome != "inconsistent" and k.interval.bounded
    assert k.interval.lo == -k.interval.hi and k.interval.estimate == 0
    wide = Band(id="b", experiment="e", metric="m", equivalence=k.interval.hi + margin,
                equivalence_reason="test", **COMMON)
    assert claims.consistency(wide, runs(values, values)).outcome == "consistent"


def test_constant_identical_samples_are_consistent_with_any_positive_margin():
    band = Band(id="b", experiment="e", metric="m", equivalence=1e-9, equivalence_reason="test", **COMMON)
    assert claims.consistency(band, runs([2.5] * 5, [2.5] * 5)).outcome == "consistent"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=5, max_size=12), st.lists(st.floats(0, 1), min_size=5, max_size=12),
       st.floats(10, 1e4))
def test_clearly_shifted_samples_are_inconsistent(a, b, shift):
    """Every torch value above every tf value by far more than the spread: p < 0.01 with 5+ seeds per side."""
    band = Band(id="b", experiment="e", metric="m", lo=0, hi=1, **COMMON)
    k = claims.consistency(band, runs([x + shift for x in a], b))
    assert k.outcome == "inconsistent" and k.passed is False and k.p_value < cons.CONSISTENCY_ALPHA
    assert k.interval.lo > 0 and k.further_seeds is None


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_few_noisy_seeds_are_undecided_with_a_positive_further_seed_count(n, seed):
    """2-4 seeds of noise far wider than the margin: no interval inside the margin, no test that could reject."""
    rng = np.random.default_rng(seed)
    band = Band(id="b", experiment="e", metric="m", equivalence=0.1, equivalence_reason="test", **COMMON)
    k = claims.consistency(band, runs(list(rng.normal(0, 1, n)), list(rng.normal(0, 1, n))))
    assert k.outcome == "undecided" and k.passed is None
    assert k.further_seeds is not None and k.further_seeds >= 1


def test_further_seeds_point_towards_the_margin_or_towards_rejection():
    near = cons.Interval(0.0, -0.4, 0.4, "hodges-lehmann", 5, 5)  # inside 0.2 once the half-width halves
    assert cons.further_seeds(near, 0.2) == 15  # 5 * (0.4 / 0.2)^2 = 20 seeds, 15 more
    far = cons.Interval(1.0, -0.5, 2.5, "hodges-lehmann", 5, 5)  # beyond the margin: towards p < 0.01
    assert cons.further_seeds(far, 0.2) == math.ceil(5 * (1.5 / (1.0 * cons.Z_INTERVAL / cons.Z_TEST)) ** 2 - 5)
    assert cons.further_seeds(cons.Interval(math.nan, -math.inf, math.inf, "none", 0, 0), 0.2) is None


def test_an_estimate_almost_on_the_margin_is_out_of_reach_not_a_count_of_seeds():
    """0.1 from a 0.1 margin, less 1e-12: the 1/sqrt(n) rule asks for 5 * (0.4 / 1e-12)^2, about 8e23 seeds."""
    edge = cons.Interval(0.1 - 1e-12, -0.3, 0.5, "hodges-lehmann", 5, 5)
    assert cons.further_seeds(edge, 0.1) == cons.FURTHER_SEEDS_CAP
    assert cons.further_seeds_text(cons.FURTHER_SEEDS_CAP) == \
        "out of reach: it would take 10,000 or more seeds per framework"
    assert cons.further_seeds_text(cons.FURTHER_SEEDS_CAP, short=True) == "+10,000+"
    assert cons.further_seeds_text(15) == "about 15 more seeds per framework would likely decide it"


def test_success_rates_get_a_newcombe_interval_that_never_collapses_to_a_point():
    """All 5 seeds succeed in both frameworks: the rate difference is 0 but not known better than about +-0.4."""
    iv = cons.difference([1.0] * 5, [1.0] * 5, outcomes=True)
    assert iv.method == "newcombe" and iv.estimate == 0 and -0.6 < iv.lo < -0.3 and 0.3 < iv.hi < 0.6
    band = Band(id="b", experiment="e", metric="m", statistic="mean", lo=1.0, **COMMON)  # default margin 0.1
    k = claims.consistency(band, runs([1.0] * 5, [1.0] * 5), outcomes=True)
    assert k.outcome == "undecided" and k.further_seeds > 50  # absence of evidence is not agreement


def test_a_measurement_at_its_ceiling_is_not_taken_for_outcomes():
    """A fraction correct that is 1.0 in every seed is a measurement: no spread, an interval of [0, 0], inside
    the margin. Only a declared outcome metric gets the rate interval; the values alone do not decide."""
    band = Band(id="b", experiment="e", metric="m", statistic="mean", lo=0.9, hi=1.0, **COMMON)  # margin 0.025
    measured = claims.consistency(band, runs([1.0] * 5, [1.0] * 5))
    assert measured.interval.method == "hodges-lehmann" and (measured.interval.lo, measured.interval.hi) == (0, 0)
    assert measured.outcome == "consistent"
    assert claims.consistency(band, runs([1.0] * 5, [1.0] * 5), outcomes=True).outcome == "undecided"


def test_outcomes_must_be_zero_or_one():
    with pytest.raises(ValueError, match=r"declared outcomes \(0 or 1\) include \[0\.5\]"):
        cons.difference([1.0, 0.5], [1.0, 0.0], outcomes=True)


def test_the_papers_declare_their_outcome_metrics():
    """Every declared outcome is a metric some claim of the paper reads (a misspelt name would silently compare
    rates as measurements), and the success/fail metrics named in the papers are declared."""
    declared = set()
    for paper in registry.papers().values():
        read = {m for c in paper.claims for _, m in claim_inputs(c)}
        for exp in paper.experiments:
            assert set(exp.outcomes) <= read, (paper.key, exp.name, set(exp.outcomes) - read)
            declared |= {(paper.key, m) for m in exp.outcomes}
    assert {("backprop", "converged"), ("backprop", "heldout_at_least_2"), ("lstm", "success"), ("lstm", "stopped"),
            ("alexnet", "tanh_censored")} <= declared


def test_a_deterministic_difference_is_exact():
    band = Band(id="b", experiment="e", metric="m", lo=0.0, hi=1.0, **COMMON)  # margin 0.25
    same = claims.consistency(band, runs([0.5], [0.5 + 1e-17]), deterministic=True)
    assert same.outcome == "consistent" and same.interval.method == "exact"
    apart = claims.consistency(band, runs([0.1], [0.9]), deterministic=True)
    assert apart.outcome == "inconsistent"


def test_a_claim_without_a_margin_is_never_consistent():
    band = Band(id="b", experiment="e", metric="m", **COMMON)  # no band, no declared margin
    k = claims.consistency(band, runs([1.0] * 8, [1.0] * 8))
    assert k.margin is None and k.outcome == "undecided"


def test_margin_rule_and_a_declared_margin_needs_a_reason():
    assert cons.equivalence_margin(Band(id="b", experiment="e", metric="m", lo=0.8, hi=1.2, **COMMON))[0] == \
        pytest.approx(0.1)
    assert cons.equivalence_margin(Band(id="b", experiment="e", metric="m", lo=2.0, **COMMON))[0] == \
        pytest.approx(0.2)
    assert cons.equivalence_margin(Ordering(id="o", a=("e", "m"), b=("e", "n"), **COMMON))[0] is None
    with pytest.raises(ValueError, match="written reason"):
        Band(id="b", experiment="e", metric="m", equivalence=0.1, **COMMON)


def test_an_ordering_is_compared_on_its_per_seed_difference():
    """Both frameworks shift both inputs by the same amount: a - b per seed is identical, so consistent."""
    order = Ordering(id="o", a=("e", "deep"), b=("e", "shallow"), relation=">", equivalence=0.5,
                     equivalence_reason="test", **COMMON)
    rng = np.random.default_rng(1)
    base = rng.normal(0, 0.05, 8)
    data = {("torch", "e"): [{"deep": 3 + x, "shallow": 1 + x} for x in base],
            ("tf", "e"): [{"deep": 3 + x, "shallow": 1 + x} for x in base]}
    assert claims.consistency(order, data).outcome == "consistent"


def test_records_carry_the_interval_margin_outcome_and_further_seeds():
    """A claim on fixed synthetic inputs, through evaluate_all and records, as `reproduce` saves it."""
    from harness.spec import Experiment, Paper

    exp = Experiment(name="e", run=lambda ctx, c: {}, configs={"reduced": {}}, seeds={"reduced": 6}, dataset="x")
    band = Band(id="b", experiment="e", metric="m", lo=0.0, hi=4.0, **COMMON)  # margin 1.0 by the rule
    paper = Paper(key="p", title="t", citation="c", year=2000, package="p", experiments=(exp,), claims=(band,))
    data = runs([1.0, 1.1, 0.9, 1.05, 0.95, 1.0], [1.0, 1.02, 0.98, 1.01, 0.99, 1.03])
    claim_results, both = claims.evaluate_all(paper, data, ("torch", "tf"))
    recs = claims.records(paper, "reduced", claim_results, both, {}, None)
    rec = [r for r in recs if r["kind"] == "consistency"][0]
    results.validate(rec)
    assert rec["passed"] is True and rec["details"]["outcome"] == "consistent"
    assert rec["expected"]["margin"] == 1.0 and "quarter" in rec["expected"]["margin_reason"]
    diff = rec["details"]["difference"]
    assert diff["method"] == "hodges-lehmann" and -1.0 <= diff["lo"] <= diff["estimate"] <= diff["hi"] <= 1.0
    assert rec["details"]["further_seeds"] is None


# --- the registry -------------------------------------------------------------------------------------------


def test_every_reduced_claim_with_a_verdict_has_seeds_and_a_margin_for_a_consistency_verdict():
    """A claim with a verdict (not report-only) at the reduced profile runs enough seeds per framework for the
    rank test to be able to reject at CONSISTENCY_ALPHA (deterministic experiments excepted: their difference is
    exact), and has an equivalence margin, so that it can end consistent, inconsistent or undecided."""
    need, short, no_margin = cons.seeds_to_reject(), [], []
    assert need == 5
    for paper in registry.papers().values():
        if "reduced" not in paper.profiles():
            continue
        for claim in paper.claims:
            if claim.report_only:
                continue
            for exp_name, _ in claim_inputs(claim):
                exp = paper.experiment(exp_name)
                if not exp.deterministic and exp.seeds.get("reduced", 0) < need:
                    short.append(f"{paper.key}/{claim.id}: {exp_name} has {exp.seeds.get('reduced')} seeds")
            if cons.equivalence_margin(claim)[0] is None:
                no_margin.append(f"{paper.key}/{claim.id}")
    assert not short, f"fewer than {need} reduced seeds per framework: {short}"
    assert not no_margin, f"no equivalence margin: {no_margin}"


# --- baseline: old records (no outcome) stay readable beside new ones -----------------------------------------


def _cons_record(passed, time, outcome=None, margin=None, further=None, p=0.5):
    details = {"detail": "d"}
    expected = {"rule": "r"}
    if outcome is not None:
        details.update(outcome=outcome, further_seeds=further)
        expected.update(margin=margin, margin_reason="test")
    return results.make_record(kind="consistency", paper="backprop", framework="both", check="symmetry-sweeps",
                               metric="p_value", value=p, passed=passed, expected=expected, profile="reduced",
                               dtype="float32", time=time, details=details)


def test_baseline_reads_old_consistency_records_as_undecided_never_as_consistent():
    from harness.baseline import compare, consistency_outcome

    old = _cons_record(True, "2026-01-01T00:00:00+00:00")  # rank test not rejected: not agreement
    assert consistency_outcome(old) == "undecided"
    assert consistency_outcome(_cons_record(False, "2026-01-01T00:00:00+00:00", p=0.001)) == "inconsistent"
    now = _cons_record(True, "2026-01-02T00:00:00+00:00", outcome="consistent", margin=0.25)
    v = compare([now], [old])
    assert v.exit_code == 0 and any("now consistent within their equivalence margin (was undecided)" in c.reason
                                    for c in v.improvements)
    undecided = _cons_record(None, "2026-01-03T00:00:00+00:00", outcome="undecided", margin=0.25, further=12)
    v = compare([undecided], [now])
    assert v.exit_code == 0 and any("now undecided" in c.reason and "12 more seeds" in c.reason for c in v.warnings)
    moved = _cons_record(True, "2026-01-03T00:00:00+00:00", outcome="consistent", margin=0.5)
    assert any("equivalence margin changed" in c.reason for c in compare([moved], [now]).warnings)


def test_five_tied_seeds_fully_separated_can_reject():
    """Found by hypothesis: with ties scipy's default normal approximation gave p = 0.0102 for 5 against 5 fully
    separated, so 5 seeds could never be called inconsistent; the exact tied permutation p is 2/252."""
    a, b = [10.0, 10.0, 10.0, 11.0, 10.5], [0.0, 0.0, 0.0, 1.0, 0.5]
    assert cons.rank_test_p(a, b) == pytest.approx(2 / 252)
    band = Band(id="b", experiment="e", metric="m", lo=0, hi=1, **COMMON)
    assert claims.consistency(band, runs(a, b)).outcome == "inconsistent"


def test_the_verdict_table_names_the_outcome_and_old_records_are_not_shown_as_agreement():
    from harness import report, tables

    new = _cons_record(None, "2026-01-02T00:00:00+00:00", outcome="undecided", margin=0.25, further=12)
    assert tables.consistency_word(new) == "undecided (+12)"
    assert tables.consistency_word(_cons_record(True, "2026-01-01T00:00:00+00:00")) == "not tested"
    assert tables.consistency_word(_cons_record(False, "2026-01-01T00:00:00+00:00")) == "inconsistent"
    assert tables.consistency_word(None) == tables.MISSING
    claim = results.make_record(kind="claim", paper="backprop", framework="torch", check="symmetry-sweeps",
                                metric="m", value=1.0, passed=True, expected={"rule": "r"}, profile="reduced",
                                dtype="float32", time="2026-01-02T00:00:00+00:00")
    df = report.verdicts([claim, {**claim, "framework": "tf"}, new])
    assert list(df[report.CONSISTENCY_COLUMN]) == ["undecided (+12)"]


def test_further_seeds_never_stop_short_of_the_five_a_verdict_needs():
    """3 seeds with a tiny spread well inside the margin: the spread alone would say one more seed, but at 4
    seeds the rank interval is still the whole range of differences; the estimate goes to 5 per framework."""
    band = Band(id="b", experiment="e", metric="m", lo=0.0, hi=4.0, **COMMON)  # margin 1.0
    k = claims.consistency(band, runs([1.0, 1.01, 1.02], [1.0, 1.01, 1.03]))
    assert k.outcome == "undecided" and not k.interval.bounded and k.further_seeds == 2
