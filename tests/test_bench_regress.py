"""The noise-aware slowdown rule and the bench baseline comparison (no timing: records are made up)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import results
from harness.baseline import compare
from harness.bench_regress import SLOWDOWN_THRESHOLD, Timing, judge

KIND = "Test CPU x2 / cpu"


def bench(value, low, high, kind=KIND, check="c/train_step/eager", time="2026-01-01T00:00:00+00:00"):
    r = results.make_record(kind="benchmark", paper="resnet", framework="torch", check=check,
                            metric="images_per_second", value=value, expected={}, passed=None,
                            details={"min": low, "max": high, "machine_kind": kind})
    r["time"] = time
    return r


def test_slower_beyond_threshold_and_spread_is_a_regression():
    v = compare([bench(80, 78, 82)], [bench(100, 98, 102)])
    assert v.exit_code == 1 and "slower: median -20.0%" in v.regressions[0].reason


def test_noisy_but_not_slower_beyond_threshold_is_only_a_warning():
    # median down 20% but the current best repeat (105) is above the baseline's worst (60): noise
    v = compare([bench(80, 50, 105)], [bench(100, 60, 140)])
    assert v.exit_code == 0 and not v.regressions and "within both runs' spread" in v.warnings[0].reason


def test_slower_inside_threshold_with_disjoint_spreads_is_not_reported():
    v = compare([bench(95, 94.9, 95.1)], [bench(100, 99.9, 100.1)])
    assert v.exit_code == 0 and not (v.regressions or v.warnings or v.improvements) and v.compared == 1


def test_faster_is_an_improvement():
    v = compare([bench(130, 128, 132)], [bench(100, 98, 102)])
    assert v.exit_code == 0 and "faster" in v.improvements[0].reason


def test_another_machine_kind_is_not_compared():
    v = compare([bench(10, 9, 11, kind="Other CPU x64 / cpu")], [bench(100, 98, 102)])
    assert v.exit_code == 2 and not v.regressions and "another machine kind" in v.incomparable[0].reason


def test_a_bench_baseline_with_no_case_in_common_fails():
    v = compare([bench(100, 98, 102, check="other/forward/eager")], [bench(100, 98, 102)])
    assert v.exit_code == 1 and "nothing comparable" in v.regressions[0].reason


def test_threshold_must_be_a_fraction():
    with pytest.raises(ValueError, match="threshold"):
        judge(Timing(1, 1, 1), Timing(1, 1, 1), threshold=7)


timings = st.tuples(st.floats(1, 1e6), st.floats(0, 0.5), st.floats(0, 0.5)).map(
    lambda t: Timing(t[0], t[0] * (1 - t[1]), t[0] * (1 + t[2])))


@given(timings, timings)
def test_a_regression_needs_both_the_threshold_and_disjoint_spreads(base, cur):
    outcome = judge(base, cur)
    slower = cur.median < base.median * (1 - SLOWDOWN_THRESHOLD) and cur.high < base.low
    assert (outcome == "slower") == slower


@given(timings, st.floats(0.0, 1.0))
def test_noise_alone_never_regresses(base, where):
    # a run whose median lies inside the baseline's own spread, with that same spread, is never slower
    median = base.low + where * (base.high - base.low)
    cur = Timing(median, min(base.low, median), max(base.high, median))
    assert judge(base, cur) != "slower"
