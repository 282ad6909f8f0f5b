"""The comparison primitive: structure before values, located worst element, NaN never hidden."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.compare import compare_arrays, compare_named, first_failure
from harness.spec import ToleranceOverride
from harness.tolerance import rule, tolerance


def test_identical_arrays_pass_with_zero_error():
    a = np.linspace(-1, 1, 12).reshape(3, 4)
    d = compare_arrays("x", a, a.copy(), 1e-12)
    assert d.passed and d.max_abs == 0 and d.max_rel == 0


def test_worst_element_is_located():
    a = np.zeros((3, 4))
    b = a.copy()
    b[2, 1] = 1e-3
    b[0, 0] = 1e-6
    d = compare_arrays("x", a, b, 1e-5)
    assert not d.passed
    assert d.where == (2, 1)
    assert d.max_abs == pytest.approx(1e-3)
    assert "(2, 1)" in d.describe()


def test_shape_dtype_and_nan_masks_are_checked_before_values():
    a = np.ones((2, 3))
    assert "shape" in compare_arrays("x", a, np.ones((3, 2)), 1).problem
    assert "dtype" in compare_arrays("x", a, a.astype(np.float32), 1).problem
    b = a.copy()
    b[1, 2] = np.nan
    d = compare_arrays("x", a, b, 1e9)
    assert not d.passed and "NaN" in d.problem and d.where == (1, 2)
    c = a.copy()
    c[0, 1] = np.inf
    assert "+inf" in compare_arrays("x", c, a, 1e9).problem


def test_matching_nans_are_not_zeroed_but_compared_as_masks():
    a = np.array([np.nan, 1.0, 2.0])
    b = np.array([np.nan, 1.0, 2.5])
    d = compare_arrays("x", a, b, 1e-6)
    assert not d.passed and d.where == (2,)  # NaNs agree, the finite mismatch is still found


def test_relative_error_is_scaled_to_the_tensor():
    """A tensor of tiny gradients is judged relative to its own RMS, not by an absolute 1e-5."""
    g = np.full(100, 1e-7)
    wrong = g * 1.5  # 50% wrong, but 5e-8 absolute
    assert not compare_arrays("g", g, wrong, 1e-5).passed
    assert compare_arrays("g", g, g * (1 + 1e-9), 1e-5).passed


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e6, 1e6, allow_nan=False)),
       st.floats(1e-9, 1e-3))
def test_relative_error_never_exceeds_tol_for_tiny_relative_perturbations(x, eps):
    d = compare_arrays("x", x, x * (1 + eps / 10), eps)
    assert d.passed


def test_named_comparison_reports_first_failure_in_order_and_missing_keys():
    a = {"hidden": np.zeros(2), "output": np.zeros(2)}
    b = {"hidden": np.ones(2), "output": np.ones(2)}
    diffs = compare_named("tap", a, b, lambda k: 1e-5)
    assert first_failure(diffs).name == "hidden"
    diffs = compare_named("tap", {"a": np.zeros(1)}, {"b": np.zeros(1)}, lambda k: 1e-5)
    assert [d.problem for d in diffs if d.problem] == ["tap 'a' missing in tf", "tap 'b' missing in torch"]
    diffs = compare_named("tap", {"a": np.zeros(1), "b": np.zeros(1)}, {"b": np.zeros(1), "a": np.zeros(1)},
                          lambda k: 1e-5)
    assert "different order" in first_failure(diffs).problem


def test_tolerance_rule_grows_with_depth_and_steps():
    assert rule("forward", "float32", 1) == pytest.approx(1e-5)
    assert rule("forward", "float64", 1) == pytest.approx(1e-12)
    assert rule("forward", "float32", 16) == pytest.approx(4e-5)
    assert rule("grad", "float64", 8) == pytest.approx(4e-12)
    assert rule("trajectory", "float64", 8, steps=10) == pytest.approx(4e-11)
    assert rule("params", "float32", 8) == 0.0
    with pytest.raises(ValueError):
        rule("forward", "float16", 1)


def test_override_needs_reason_and_applies_by_pattern():
    with pytest.raises(ValueError, match="reason"):
        ToleranceOverride(check="x/*", dtype="float32", tol=1e-3, reason=" ")
    o = ToleranceOverride(check="long/trajectory", dtype="float32", tol=1e-3, reason="chaotic after 100 steps")
    assert tolerance("long/trajectory", "trajectory", "float32", 2, 100, [o]) == (1e-3, o.reason)
    assert tolerance("long/trajectory", "trajectory", "float64", 2, 100, [o])[1] is None
