"""Regression verdict against a baseline: each regression kind fails, improvements and new checks pass.

Every record is built here: no test depends on this machine's numbers."""

from __future__ import annotations

import math

import pytest

from harness import results
from harness.baseline import compare

T0 = "2024-05-01T10:00:00.000000+00:00"
T1 = "2024-05-02T10:00:00.000000+00:00"


def agreement(check="symmetry/float32/grad", value=2e-7, passed=True, tol=1e-5, time=T0, **kw):
    return results.make_record(
        kind="agreement", paper="backprop", framework="both", check=check, metric="max_rel", value=value,
        passed=passed, expected={"tol": tol, "tol_reason": None}, seed=0, dataset="generated",
        dtype=check.split("/")[1], git_sha="abc", time=time,
        details={"max_abs": value, "first_divergence": None if passed else "grad hidden/kernel"}, **kw)


def claim(check="symmetry-sweeps", value=1500.0, passed=True, framework="torch", lo=712.5, hi=4275.0,
          profile="reduced", time=T0, values=None, deterministic=False, dataset="generated:symmetry-64"):
    """A claim record; `values`: the per-seed values of its one input (default: four seeds at `value`)."""
    values = [value] * 4 if values is None else values
    details = {"inputs": {"symmetry.sweeps": {"statistic": value, "values": values, "seeds": len(values)}}}
    if deterministic:
        details["deterministic"] = True
    return results.make_record(
        kind="claim", paper="backprop", framework=framework, check=check, metric="median sweeps", value=value,
        passed=passed, expected={"rule": f"median sweeps in [{lo}, {hi}]", "lo": lo, "hi": hi,
                                 "reported": 1425, "source": "Fig. 1 caption", "setting": "4 seeds"},
        seed=list(range(len(values))), dataset=dataset, profile=profile, dtype="float32", git_sha="abc",
        time=time, details=details)


def consistency(check="symmetry-sweeps", p=0.5, passed=True, time=T0):
    return results.make_record(
        kind="consistency", paper="backprop", framework="both", check=check, metric="p_value", value=p,
        passed=passed, expected={"rule": "p >= 0.01"}, profile="reduced", dtype="float32", time=time)


def baseline():
    return [
        agreement("symmetry/float64/grad", value=1e-15, tol=1e-12),
        agreement("symmetry/float32/grad"),
        agreement("symmetry/float32/forward", value=0.1, passed=False),
        claim("symmetry-sweeps", framework="torch"),
        claim("symmetry-sweeps", framework="tf"),
        claim("xor-sweeps", value=9000.0, passed=False),
        claim("report-only", value=0.3, passed=None, lo=0.0, hi=1.0),
        consistency("symmetry-sweeps"),
    ]


def replace(records, index, new):
    out = list(records)
    out[index] = new
    return out


def test_identical_records_pass():
    v = compare(baseline(), baseline())
    assert v.exit_code == 0 and v.compared == 8
    assert not (v.regressions or v.warnings or v.improvements or v.new)
    assert "PASS" in v.render()


def test_agreement_pass_to_fail_is_a_regression():
    now = replace(baseline(), 1, agreement("symmetry/float32/grad", value=3e-3, passed=False, time=T1))
    v = compare(now, baseline())
    assert v.exit_code == 1 and len(v.regressions) == 1
    (r,) = v.regressions
    assert r.key[3] == "symmetry/float32/grad" and "agreement now fails" in r.reason
    assert "grad hidden/kernel" in r.reason
    text = v.render()
    assert "REGRESSIONS (1)" in text and "pass 2.00e-07" in text and "FAIL 3.00e-03" in text
    assert text.rstrip().endswith("FAIL: 1 regression(s)")


def test_deterministic_claim_flip_is_a_regression():
    base = replace(baseline(), 3, claim("symmetry-sweeps", deterministic=True))
    now = replace(baseline(), 3, claim("symmetry-sweeps", value=5000.0, passed=False, time=T1, deterministic=True))
    v = compare(now, base)
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "no longer reproduced" in r.reason and "left its band" in r.reason  # one entry, both reasons


def test_deterministic_value_leaving_its_band_is_a_regression_even_when_report_only():
    base = replace(baseline(), 6, claim("report-only", value=0.3, passed=None, lo=0.0, hi=1.0, deterministic=True))
    now = replace(baseline(), 6, claim("report-only", value=1.7, passed=None, lo=0.0, hi=1.0, time=T1,
                                       deterministic=True))
    v = compare(now, base)
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "left its band [0, 1.00]" in r.reason and "0.300 was inside" in r.reason


def test_deterministic_value_becoming_nan_leaves_the_band():
    base = replace(baseline(), 6, claim("report-only", value=0.3, passed=None, lo=0.0, hi=1.0, deterministic=True))
    now = replace(baseline(), 6, claim("report-only", value=math.nan, passed=None, lo=0.0, hi=1.0, time=T1,
                                       deterministic=True))
    assert compare(now, base).exit_code == 1


def test_missing_check():
    now = [r for r in baseline() if r["check"] != "xor-sweeps"]
    v = compare(now, baseline())
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "missing" in r.reason and r.after is None and "(missing)" in v.render()

    lenient = compare(now, baseline(), allow_missing=True)
    assert lenient.exit_code == 0 and len(lenient.warnings) == 1 and "missing" in lenient.warnings[0].reason


def test_improvements_and_new_checks_pass():
    now = replace(baseline(), 2, agreement("symmetry/float32/forward", value=1e-6, passed=True, time=T1))
    now = replace(now, 5, claim("xor-sweeps", value=2000.0, passed=True, time=T1))
    now.append(claim("brand-new", value=1.0, passed=False))
    v = compare(now, baseline())
    assert v.exit_code == 0 and not v.regressions
    assert sorted(c.key[3] for c in v.improvements) == ["symmetry/float32/forward", "xor-sweeps"]
    assert [c.key[3] for c in v.new] == ["brand-new"]
    text = v.render()
    assert "IMPROVEMENTS (2)" in text and "NEW (not in the baseline) (1)" in text and "PASS" in text


def test_error_growth_under_tolerance_warns():
    now = replace(baseline(), 1, agreement("symmetry/float32/grad", value=5e-5, tol=1e-4, time=T1))
    base = replace(baseline(), 1, agreement("symmetry/float32/grad", value=2e-7, tol=1e-4))
    v = compare(now, base)
    assert v.exit_code == 0
    (w,) = v.warnings
    assert "grew 250x" in w.reason and "still under tol" in w.reason


def test_growth_from_zero_is_measured_from_one_rounding_error():
    base = replace(baseline(), 0, agreement("symmetry/float64/grad", value=0.0, tol=1e-12))
    small = replace(baseline(), 0, agreement("symmetry/float64/grad", value=1e-15, tol=1e-12, time=T1))
    big = replace(baseline(), 0, agreement("symmetry/float64/grad", value=1e-13, tol=1e-12, time=T1))
    assert not compare(small, base).warnings
    assert len(compare(big, base).warnings) == 1


def test_loosened_tolerance_and_moved_band_warn():
    now = replace(baseline(), 1, agreement("symmetry/float32/grad", tol=1e-3, time=T1))
    now = replace(now, 3, claim("symmetry-sweeps", lo=100.0, hi=10000.0, time=T1))
    v = compare(now, baseline())
    assert v.exit_code == 0
    reasons = " ".join(w.reason for w in v.warnings)
    assert "tolerance loosened from 1.00e-05 to 1.00e-03" in reasons
    assert "acceptance band changed from [712, 4275] to [100, 10000]" in reasons


def test_inconsistent_frameworks_warn_but_do_not_fail():
    now = replace(baseline(), 7, consistency(p=0.001, passed=False, time=T1))
    v = compare(now, baseline())
    assert v.exit_code == 0 and "statistically inconsistent" in v.warnings[0].reason


def test_latest_record_per_check_is_compared():
    # The baseline failed first, then passed: the newer (passing) record is the baseline.
    base = baseline() + [agreement("symmetry/float32/forward", value=1e-6, passed=True, time=T1)]
    now = baseline()  # only the old failing record: its newest is a fail -> regression
    v = compare(now, base)
    assert v.exit_code == 1 and v.regressions[0].key[3] == "symmetry/float32/forward"
    assert compare(base, base).exit_code == 0


def test_profile_mismatch_is_nothing_comparable():
    base = [claim("symmetry-sweeps", profile="reduced"), claim("xor-sweeps", profile="reduced")]
    now = [claim("symmetry-sweeps", profile="tiny"), claim("xor-sweeps", profile="tiny")]
    v = compare(now, base)
    assert v.exit_code == 1 and v.compared == 0
    text = v.render()
    assert "nothing comparable" in text and "profiles: reduced" in text and "profiles: tiny" in text


def test_partly_mismatched_profile_says_where_the_check_is():
    now = [r if r["kind"] != "claim" or r["check"] != "xor-sweeps" else claim("xor-sweeps", profile="tiny")
           for r in baseline()]
    v = compare(now, baseline())
    assert v.exit_code == 1
    (r,) = v.regressions
    assert "present now under profile tiny" in r.reason and "not comparable with profile reduced" in r.reason


@pytest.mark.parametrize(("now", "base"), [([], "baseline"), ("baseline", [])])
def test_empty_side_fails(now, base):
    now = baseline() if now == "baseline" else now
    base = baseline() if base == "baseline" else base
    v = compare(now, base)
    assert v.exit_code == 1 and "nothing comparable" in v.regressions[0].reason


def test_a_benchmark_missing_from_a_correctness_baseline_is_new_and_never_fails():
    bench = results.make_record(kind="benchmark", paper="backprop", framework="torch", check="tiny/step",
                                metric="items_per_second", value=10.0, expected={}, passed=None)
    v = compare(baseline() + [bench], baseline())
    assert v.exit_code == 0 and [c.reason for c in v.new] == ["new benchmark case"]


def test_long_lists_of_new_checks_are_cut_but_regressions_never_are():
    new = [agreement(check=f"case{i}/float32/grad") for i in range(30)]
    broken = agreement(value=1.0, passed=False, time=T1)
    v = compare(baseline() + new + [broken], baseline())
    short, full = v.render(shown=5), v.render(list_all=True, shown=5)
    assert "... and 25 more (--list-all lists every one)" in short and "case29" not in short
    assert "case29" in full and "more (--list-all" not in full
    assert "REGRESSIONS (1)" in short and v.exit_code == 1
