"""The regression verdict's rules for values from training runs, data identity and tolerance rules.

Training claims are judged by their per-seed values (rank tests at a family-wise level), single-seed claims
are smoke checks, records made from different data are not comparable, and a float32 tolerance measured per
run is not "loosened". Every record is built here: no test depends on this machine's numbers.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from harness import results
from harness.baseline import VERDICT_ALPHA, compare, data_identity, tol_rule
from harness.claims import smallest_mann_whitney_p

T0 = "2026-12-02T03:14:00.000000+00:00"
T1 = "2026-12-04T10:00:00.000000+00:00"

CIFAR = ("cifar10: train first 1024 of 4000, test first 500 of 1000; train batches used: data_batch_1.bin of "
         "data_batch_1..5 (cifar10: binary layout in {root}/cifar10 (data_batch_1.bin: 4000, test_batch.bin: "
         "1000 images))")
MNIST = ("mnist: train 60000 of 60000, test 10000 of 10000 (mnist: IDX files in /work/shared/data/mnist "
         "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
         "t10k-labels-idx1-ubyte.gz))")
DIGITS_FALLBACK = ("digits: train 1437 of 1437, test 360 of 360; split: first 1437 train, last 360 test (FALLBACK "
                   "to digits: mnist was requested but not found (no data directory given (pass --data-dir or set "
                   "HARNESS_DATA_DIR)); digits: scikit-learn 1.9.1 load_digits (bundled, 1797 8x8 images, 0..16))")


def band_claim(values, lo=0.0, hi=10.0, check="final-error", framework="torch", time=T0, dataset="generated:x",
               paper="toy", statistic="median"):
    """A band claim on one input; its value and verdict follow from `values` as fidelity computes them."""
    finite = [v for v in values if math.isfinite(v)]
    value = float(sorted(finite)[len(finite) // 2] if len(finite) % 2 else
                  (sorted(finite)[len(finite) // 2 - 1] + sorted(finite)[len(finite) // 2]) / 2) if finite else math.nan
    passed = bool(math.isfinite(value) and lo <= value <= hi)
    return results.make_record(
        kind="claim", paper=paper, framework=framework, check=check, metric=f"{statistic} error in [{lo}, {hi}]",
        value=value, passed=passed, expected={"rule": f"{statistic} error in [{lo}, {hi}]", "lo": lo, "hi": hi},
        seed=list(range(len(values))), dataset=dataset, profile="tiny", dtype="float32", time=time,
        details={"inputs": {"exp.error": {"statistic": value, "values": list(values), "seeds": len(values)}}})


def resnet_record(value, passed, a, b, time):
    """The record of `claim resnet/responses-fall-with-depth tf tiny`: one seed per input, float32."""
    rule = "median depth.res_deep_response_std < depth.res_shallow_response_std"
    return results.make_record(
        kind="claim", paper="resnet", framework="tf", check="responses-fall-with-depth", metric=rule,
        value=value, passed=passed, expected={"rule": rule, "lo": None, "hi": None}, seed=[0],
        dataset=CIFAR.format(root="/work/shared/data"), profile="tiny", dtype="float32", time=time,
        details={"inputs": {
            "depth.res_deep_response_std": {"statistic": a, "values": [a], "finite": 1, "seeds": 1},
            "depth.res_shallow_response_std": {"statistic": b, "values": [b], "finite": 1, "seeds": 1}}})


# --- single-seed claims are smoke checks ------------------------------------------------------------------


def test_the_single_seed_resnet_flip_seen_on_another_cpu_is_a_warning_not_a_regression():
    # `make verdict` on another CPU: "baseline pass (-0.116), here FAIL (0.856)", same code, same data.
    base = resnet_record(-0.11604574935216982, True, 1.032261357408777, 1.1483071067609467, T0)
    now = resnet_record(0.856, False, 1.1483071067609467 + 0.856, 1.1483071067609467, T1)
    v = compare([now], [base])
    assert v.exit_code == 0 and not v.regressions, v.render()
    (w,) = v.warnings
    assert "verdict near its band; seed variation" in w.reason and "smoke check" in w.reason
    assert "depth.res_deep_response_std baseline [1.03] now [2.00]" in w.reason  # the near-band values, named
    assert "pass -0.116" in v.render() and "FAIL 0.856" in v.render()


def test_single_seed_claim_regresses_when_its_value_becomes_non_finite():
    base = band_claim([3.0])
    now = band_claim([math.nan], time=T1)
    v = compare([now], [base])
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "smoke check: no finite value any more" in r.reason and "exp.error" in r.reason


def test_few_seed_claim_regresses_when_no_seed_is_finite_any_more():
    # Two seeds cannot be tested either; a claim whose every seed stopped reaching the metric still regresses.
    v = compare([band_claim([math.nan, math.nan], time=T1)], [band_claim([3.0, math.nan])])
    assert v.exit_code == 1 and "smoke check" in v.regressions[0].reason
    assert compare([band_claim([math.nan, 4.0], time=T1)], [band_claim([3.0, math.nan])]).exit_code == 0


def test_single_seed_claim_that_was_never_finite_is_not_a_regression():
    v = compare([band_claim([math.nan], time=T1)], [band_claim([math.nan])])
    assert v.exit_code == 0 and not v.regressions


def test_single_seed_claim_that_no_longer_runs_is_missing():
    v = compare([band_claim([3.0], check="other", time=T1)], [band_claim([3.0]), band_claim([3.0], check="other")])
    assert v.exit_code == 1 and "missing from the current records" in v.regressions[0].reason


# --- claims with enough seeds: rank tests ------------------------------------------------------------------


def test_four_seeds_cannot_reject_at_the_verdicts_level():
    # Why tiny-profile claims are smoke checks: complete separation of 4 seeds against 4 gives p = 2/70.
    assert smallest_mann_whitney_p(4, 4) > VERDICT_ALPHA
    v = compare([band_claim([11.0, 12.0, 13.0, 14.0], time=T1)], [band_claim([1.0, 2.0, 3.0, 4.0])])
    assert v.exit_code == 0 and "verdict near its band" in v.warnings[0].reason


def test_a_shift_beyond_seed_variation_that_fails_the_claim_is_a_regression():
    base = band_claim([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    now = band_claim([11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0], time=T1)
    v = compare([now], [base])
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "beyond seed variation" in r.reason and "Mann-Whitney p=" in r.reason


def test_a_verdict_flip_with_indistinguishable_values_is_a_warning():
    base = band_claim([2.0, 4.0, 6.0, 8.0, 9.0, 9.5, 11.0, 12.0])  # median 8.5: inside [0, 10]
    now = band_claim([3.0, 5.0, 7.0, 10.1, 10.3, 10.6, 11.5, 13.0], time=T1)  # median 10.2: outside
    assert base["passed"] is True and now["passed"] is False
    v = compare([now], [base])
    assert v.exit_code == 0 and not v.regressions
    (w,) = v.warnings
    assert "verdict near its band; seed variation" in w.reason and "indistinguishable" in w.reason
    assert "[2.00, 4.00, 6.00" in w.reason and "[3.00, 5.00, 7.00, 10.1" in w.reason


def test_a_shift_that_keeps_the_verdict_is_a_warning():
    base = band_claim([1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7], hi=100.0)
    now = band_claim([5.0, 5.1, 5.2, 5.3, 5.4, 5.5, 5.6, 5.7], hi=100.0, time=T1)
    v = compare([now], [base])
    assert v.exit_code == 0 and "moved beyond seed variation" in v.warnings[0].reason
    assert "verdict holds" in v.warnings[0].reason


def test_many_seeds_are_shown_as_median_and_range():
    base = band_claim([float(v) for v in range(1, 21)], hi=100.0)
    now = band_claim([float(v) for v in range(41, 60)] + [math.nan], hi=100.0, time=T1)
    (w,) = compare([now], [base]).warnings
    assert "baseline 20 seeds: median 10.5, range [1.00, 20.0] now 20 seeds: median 50.0, range [41.0, 59.0], " \
           "1 non-finite" in w.reason


def test_fewer_finite_seeds_beyond_chance_is_a_regression():
    # Every seed reached the metric before; now none does (e.g. none converges): Fisher's exact test.
    base = band_claim([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    now = band_claim([math.nan] * 8, time=T1)
    v = compare([now], [base])
    assert v.exit_code == 1 and "Fisher p=" in v.regressions[0].reason


def test_the_level_is_shared_by_every_test_that_can_reject():
    # A shift whose p lies between 0.01/3 and 0.01: alone it regresses; among three testable claims it warns.
    base_values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    now_values = [5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5]
    p = stats.mannwhitneyu(base_values, now_values, alternative="two-sided").pvalue
    assert VERDICT_ALPHA / 3 < p < VERDICT_ALPHA  # the premise of this test, not a result
    base, now = band_claim(base_values, hi=8.9), band_claim(now_values, hi=8.9, time=T1)
    assert base["passed"] is True and now["passed"] is False
    assert compare([now], [base]).exit_code == 1
    others_base = [band_claim(base_values, check=f"other-{i}", hi=100.0) for i in range(2)]
    others_now = [band_claim(base_values, check=f"other-{i}", hi=100.0, time=T1) for i in range(2)]
    v = compare([now, *others_now], [base, *others_base])
    assert v.exit_code == 0 and "verdict near its band" in v.warnings[0].reason
    assert "3 seed-distribution tests" in v.render()


def test_tests_that_cannot_reject_do_not_dilute_the_level():
    # Ten single-seed claims beside one 8-seed claim: the 8-seed test still runs at the full 0.01.
    base_values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    now_values = [6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5]
    smoke_base = [band_claim([3.0], check=f"smoke-{i}") for i in range(10)]
    smoke_now = [band_claim([3.5], check=f"smoke-{i}", time=T1) for i in range(10)]
    v = compare([band_claim(now_values, hi=9.0, time=T1), *smoke_now],
                [band_claim(base_values, hi=9.0), *smoke_base])
    assert v.exit_code == 1 and "1 seed-distribution tests, each at p < 1.00e-02" in v.render()


def test_deterministic_single_seed_claim_is_strict():
    # e.g. a noise schedule computed without training: a flip is a regression even with one seed.
    def schedule(value, time):
        r = band_claim([value], lo=4.03e-5, hi=4.04e-5, check="schedule-alpha-bar-T", time=time)
        r["details"]["deterministic"] = True
        return r

    v = compare([schedule(4.1e-5, T1)], [schedule(4.0358e-5, T0)])
    assert v.exit_code == 1 and "no longer reproduced" in v.regressions[0].reason
    assert "left its band" in v.regressions[0].reason


def test_a_training_claim_without_per_seed_values_is_refused():
    r = band_claim([3.0])
    del r["details"]["inputs"]
    with pytest.raises(results.ResultsError, match="no per-seed values"):
        compare([r], [band_claim([3.0])])


# --- data must match -----------------------------------------------------------------------------------------


def test_records_from_other_data_are_not_comparable_never_regressions():
    base = [band_claim([3.0], check=f"mnist-{i}", dataset=MNIST) for i in range(4)]
    now = [band_claim([math.nan if i % 2 else 30.0], check=f"mnist-{i}", dataset=DIGITS_FALLBACK, time=T1)
           for i in range(4)]
    v = compare(now, base)
    assert not v.regressions and not v.improvements and not v.warnings
    assert len(v.incomparable) == 4 and v.compared == 0 and v.exit_code == 2
    reason = v.incomparable[0].reason
    assert "not comparable: made from different data" in reason
    assert "baseline: mnist: train 60000 of 60000, test 10000 of 10000;" in reason
    assert "now: digits: train 1437 of 1437, test 360 of 360" in reason
    assert v.render().rstrip().splitlines()[-1].startswith("NOT COMPARABLE: 4 check(s)")


def test_a_regression_elsewhere_still_exits_1_beside_incomparable_checks():
    base = [band_claim([3.0], check="mnist", dataset=MNIST), band_claim([3.0], check="gen")]
    now = [band_claim([3.0], check="mnist", dataset=DIGITS_FALLBACK, time=T1),
           band_claim([math.nan], check="gen", time=T1)]
    v = compare(now, base)
    assert v.exit_code == 1 and len(v.incomparable) == 1 and len(v.regressions) == 1


def test_other_subsets_are_other_data():
    base = band_claim([3.0], dataset=CIFAR.format(root="/data"))
    now = band_claim([3.0], dataset=CIFAR.format(root="/data").replace("first 1024", "first 512"), time=T1)
    assert compare([now], [base]).exit_code == 2


def test_the_same_data_read_from_another_directory_is_comparable():
    base = band_claim([3.0], dataset=CIFAR.format(root="/work/shared/data"))
    now = band_claim([3.0], dataset=CIFAR.format(root="/mnt/ci/data"), time=T1)
    v = compare([now], [base])
    assert v.exit_code == 0 and v.compared == 1 and not v.incomparable


@pytest.mark.parametrize(("dataset", "identity"), [
    (MNIST, "mnist: train 60000 of 60000, test 10000 of 10000"),
    (DIGITS_FALLBACK, "digits: train 1437 of 1437, test 360 of 360; split: first 1437 train, last 360 test"),
    ("generated:task-2a(5.2)", "generated:task-2a(5.2)"),  # a parenthesis without a space is part of the name
    ("digits", "digits"),
    (None, ""),
])
def test_data_identity_drops_where_the_data_was_read_from(dataset, identity):
    assert data_identity({"dataset": dataset}) == identity


# --- agreement tolerances --------------------------------------------------------------------------------


def agreement(dtype, tol, rule=None, time=T0):
    details = {"max_abs": 1e-7, "first_divergence": None}
    if rule:
        details["tol_rule"] = rule
    return results.make_record(
        kind="agreement", paper="toy", framework="both", check=f"sgd/{dtype}/grad", metric="max_rel", value=1e-7,
        passed=True, expected={"tol": tol, "tol_reason": None}, seed=0, dataset="generated", dtype=dtype,
        time=time, details=details)


def test_an_arbiter_tolerance_that_moves_between_runs_is_not_loosened():
    v = compare([agreement("float32", 3e-5, "arbiter", T1)], [agreement("float32", 1e-5, "arbiter")])
    assert v.exit_code == 0 and not v.warnings


def test_a_loosened_written_tolerance_warns():
    v = compare([agreement("float64", 1e-10, "written", T1)], [agreement("float64", 1e-12)])
    assert "tolerance loosened from 1.00e-12 to 1.00e-10" in v.warnings[0].reason
    assert tol_rule(agreement("float64", 1e-12)) == "written"  # records without the field: the written rule


def test_the_rule_may_sit_beside_the_tolerance():
    r = agreement("float32", 3e-5)
    r["expected"]["tol_rule"] = "arbiter"
    assert tol_rule(r) == "arbiter"


def test_a_changed_tolerance_rule_warns():
    v = compare([agreement("float32", 3e-5, "arbiter", T1)], [agreement("float32", 1e-5)])
    assert v.exit_code == 0 and "tolerance rule changed from written to arbiter" in v.warnings[0].reason


def test_agreement_pass_to_fail_is_strict_whatever_the_rule():
    now = agreement("float32", 3e-5, "arbiter", T1)
    now["passed"], now["value"] = False, 1e-3
    assert compare([now], [agreement("float32", 3e-5, "arbiter")]).exit_code == 1
