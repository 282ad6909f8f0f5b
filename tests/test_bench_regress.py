"""The noise-aware slowdown rule and the bench baseline comparison (no timing: records are made up)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import results
from harness.baseline import compare
from harness.bench_regress import SLOWDOWN_THRESHOLD, Timing, judge

KIND = "Test CPU x2 / cpu"


def bench(value, low, high, kind=KIND, check="c/train_step/eager", time="2026-01-01T00:00:00+00:00", plain=None,
          plain_spread=None):
    details = {"min": low, "max": high, "machine_kind": kind}
    if plain is not None:
        details["plain_items_per_second"] = plain
    if plain_spread is not None:
        details["plain_spread"] = list(plain_spread)
    r = results.make_record(kind="benchmark", paper="resnet", framework="torch", check=check,
                            metric="images_per_second", value=value, expected={}, passed=None, details=details)
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


def test_a_baseline_of_several_runs_bands_the_drift_between_them():
    """Two quiet baseline runs 10% apart: a third run inside their range is the machine's drift, not a regression;
    against either run alone (one run's narrow spread) the same figure would be flagged."""
    early = bench(100, 99, 101, time="2026-01-01T00:00:00+00:00")
    late = bench(90, 89, 91, time="2026-01-02T00:00:00+00:00")
    now = bench(90.5, 90, 91)
    assert compare([now], [early]).exit_code == 1  # -9.5% with disjoint spreads
    v = compare([now], [early, late])
    assert v.exit_code == 0 and not v.regressions and v.compared == 1
    assert Timing.of_runs([early, late]) == Timing(95.0, 89, 101)


def test_a_baseline_of_several_runs_still_catches_a_drop_below_all_of_them():
    runs = [bench(100, 99, 101, time="2026-01-01T00:00:00+00:00"), bench(92, 91, 93, time="2026-01-02T00:00:00+00:00")]
    v = compare([bench(80, 79, 81)], runs)
    assert v.exit_code == 1 and "baseline 2 runs 91.0-101.0" in v.regressions[0].reason


def test_runs_of_another_machine_kind_in_the_baseline_are_left_out_of_the_band():
    runs = [bench(100, 99, 101, time="2026-01-01T00:00:00+00:00"),
            bench(50, 40, 60, kind="Other CPU x8 / cpu", time="2026-01-02T00:00:00+00:00")]
    v = compare([bench(80, 79, 81)], runs)
    assert v.exit_code == 1 and "baseline 99.0-101.0" in v.regressions[0].reason


def test_a_drop_its_plain_loop_shared_is_a_warning_that_says_so():
    """The machine ran 20% slower: harness and plain loop (timed in turn in the same process) both fell alike."""
    v = compare([bench(80, 79, 81, plain=88)], [bench(100, 99, 101, plain=110)])
    assert v.exit_code == 0 and not v.regressions
    assert "its plain loop alike (harness over plain +10% in the baseline, +10% now)" in v.warnings[0].reason


def test_a_drop_of_the_harness_alone_is_a_regression():
    """The harness step got 20% slower while its plain loop kept its speed: overhead +10% -> +37.5%."""
    v = compare([bench(80, 79, 81, plain=110)], [bench(100, 99, 101, plain=110)])
    assert v.exit_code == 1 and "slower: median -20.0%" in v.regressions[0].reason


def test_several_baseline_runs_take_their_largest_overhead():
    runs = [bench(100, 99, 101, plain=110, time="2026-01-01T00:00:00+00:00"),
            bench(96, 95, 97, plain=110, time="2026-01-02T00:00:00+00:00")]
    assert Timing.of_runs(runs).overhead == pytest.approx(110 / 96)
    assert Timing.of_runs([*runs, bench(90, 89, 91)]).overhead is None  # a run without a plain loop


def test_a_speed_up_its_plain_loop_shared_is_not_an_improvement():
    assert not compare([bench(130, 129, 131, plain=143)], [bench(100, 99, 101, plain=110)]).improvements
    assert compare([bench(130, 129, 131, plain=110)], [bench(100, 99, 101, plain=110)]).improvements


def test_the_overhead_range_spans_the_repeats():
    t = Timing.of(bench(100, 95, 105, plain=110, plain_spread=(104, 112)))
    assert t.overhead == pytest.approx(1.10)
    assert t.overhead_range == pytest.approx((104 / 105, 112 / 95))


def test_an_overhead_growth_inside_the_repeats_spread_is_only_a_warning():
    """Measured A/A on the development VM (ViT inference, tf): the same code, 15% slower the second time, its
    overhead +1% -> +9% while the harness's repeats spread by 8%: noise, not the harness."""
    base = bench(100, 99, 101, plain=101, plain_spread=(100, 102))
    noisy = bench(85, 84, 91, plain=92.6, plain_spread=(91, 94))  # overhead +9%, range +0%..+12%
    v = compare([noisy], [base])
    assert v.exit_code == 0 and not v.regressions and "+9% (+0%..+12%) now" in v.warnings[0].reason
    clear = bench(85, 84, 86, plain=101, plain_spread=(100, 102))  # overhead +19%, range +16%..+21%
    assert compare([clear], [base]).exit_code == 1
