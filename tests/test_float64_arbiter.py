"""The float64 arbiter for float32 checks (harness/tolerance.py) and the origin each check names.

Rounding alone never fails a float32 check on any machine; a difference in the maths of 10x the
float32 noise always does; a precision gap between the frameworks is a finding, not a failure."""

from __future__ import annotations

import importlib
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness import agreement
from harness.compare import compare_with_reference
from harness.tolerance import ARBITER_M

TOY = importlib.import_module("tests.toy.paper").PAPER
SGD, ADAM = TOY.agreement
FLOOR = 1e-12
values = arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e3, 1e3, allow_nan=False))


def by_kind(checks):
    return {c.kind: c for c in checks}


@given(values, st.integers(0, 2**32 - 1), st.floats(0, 1e-3), st.floats(0, 1e-3))
@settings(max_examples=200, deadline=None)
def test_rounding_alone_never_fails_whatever_the_machine_rounds(x64, seed, noise_torch, noise_tf):
    """Any float32 results, each any distance from its own float64 twin, pass while the float64 twins
    agree within the floor: the triangle inequality, not this machine's rounding."""
    rng = np.random.default_rng(seed)
    a32 = (x64 * (1 + noise_torch * rng.standard_normal(x64.shape))).astype(np.float32)
    b32 = (x64 * (1 + noise_tf * rng.standard_normal(x64.shape))).astype(np.float32)
    b64 = x64 + FLOOR * (np.abs(x64) + 1) * rng.uniform(-0.5, 0.5, x64.shape)
    d = compare_with_reference("x", a32, b32, x64, b64, FLOOR)
    assert d.passed, d.describe()


@pytest.mark.parametrize("factor", [10, 100])
def test_a_difference_in_the_maths_of_10x_the_float32_noise_fails(factor):
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal(200)
    noise = 1e-6
    bug = factor * noise  # tf's maths differs by this in both dtypes
    b64 = x64 * (1 + bug)
    a32 = (x64 * (1 + noise * rng.standard_normal(200))).astype(np.float32)
    b32 = (b64 * (1 + noise * rng.standard_normal(200))).astype(np.float32)
    d = compare_with_reference("x", a32, b32, x64, b64, FLOOR)
    assert not d.passed, d.describe()
    assert d.tol == pytest.approx(ARBITER_M * max(d.torch_err, d.tf_err) + FLOOR)
    assert d.f64_err > max(d.torch_err, d.tf_err)  # the evidence: the float64 twins differ, beyond rounding


def test_a_precision_gap_is_a_finding_not_a_failure():
    rng = np.random.default_rng(1)
    x64 = rng.standard_normal(500)
    a32 = x64.astype(np.float32)
    b32 = (x64 * (1 + 1e-4 * rng.standard_normal(500))).astype(np.float32)  # tf: a far less precise kernel
    d = compare_with_reference("conv/kernel", a32, b32, x64, x64.copy(), FLOOR)
    assert d.passed and d.tf_err > 100 * d.torch_err
    findings = agreement.precision_findings([d], "grad")
    assert len(findings) == 1 and findings[0].startswith("tf float32 is") and "grad conv/kernel" in findings[0]


@pytest.mark.parametrize("case", [SGD, ADAM], ids=["sgd", "adam"])
def test_float32_entries_carry_both_precision_figures(case):
    checks = agreement.run_case(TOY, case, "float32")
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]
    for c in checks[1:]:  # params is a lossless copy: the written rule (0)
        assert c.rule.startswith("float64 arbiter")
        for e in c.entries:
            assert e["rule"] == "float64 arbiter" and e["torch_err"] is not None and e["tf_err"] is not None
            assert e["max_rel"] <= e["tol"]


def test_without_a_float64_run_float32_keeps_the_fixed_rule_and_says_so(monkeypatch):
    tf_impl = importlib.import_module("tests.toy.tf_impl")
    real = tf_impl.Model

    class NoFloat64(real):
        def __init__(self, config, seed, dtype="float32"):
            if dtype == "float64":
                raise ValueError("this model has no float64 build")
            super().__init__(config, seed, dtype)

    monkeypatch.setattr(tf_impl, "Model", NoFloat64)
    checks = by_kind(agreement.run_case(TOY, SGD, "float32"))
    assert checks["grad"].rule == "written" and checks["grad"].tol == pytest.approx(2e-5)
    assert "no float64 run (ValueError: this model has no float64 build)" in checks["grad"].tol_reason


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_forward_bug_is_named_at_its_tap_in_every_check_not_at_loss(monkeypatch, dtype):
    monkeypatch.setattr(importlib.import_module("tests.toy.tf_impl"), "LN_EPS", 1e-3)
    checks = by_kind(agreement.run_case(TOY, SGD, dtype))
    assert checks["forward"].first_divergence == "norm"
    assert checks["grad"].first_divergence == "norm"  # the gradients inherit the forward difference
    upstream = next(e for e in checks["forward"].entries if e["name"] == "dense1")
    assert upstream["passed"]  # the tap before it agrees: the difference starts at norm


def test_the_grad_origin_is_the_parameter_furthest_past_its_tolerance(monkeypatch):
    tf_impl = importlib.import_module("tests.toy.tf_impl")
    real = tf_impl.Model.grads

    def skewed(self, batch):  # a gradient bug: slightly off early in the list, far off later
        loss, grads = real(self, batch)
        grads = dict(grads)
        grads["dense1/kernel"] = grads["dense1/kernel"] * 1.001
        grads["dense2/bias"] = grads["dense2/bias"] * 1.5
        return loss, grads

    monkeypatch.setattr(tf_impl.Model, "grads", skewed)
    for dtype in ("float64", "float32"):
        grad = by_kind(agreement.run_case(TOY, SGD, dtype))["grad"]
        failing = [e["name"] for e in grad.entries if not e["passed"]]
        assert failing == ["dense1/kernel", "dense2/bias"], failing
        assert grad.first_divergence == "dense2/bias"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_optimizer_bug_is_named_by_its_first_step_and_the_parameter_furthest_off(monkeypatch, dtype):
    """Keras casting momentum through float32 (0.9 -> 0.89999998) is invisible at step 1 and moves every
    parameter from step 2; in float32 it is ~1e-8 relative, below noise, so only float64 must catch it.
    A momentum of 0.95 instead of 0.9 is caught in both."""
    tf_impl = importlib.import_module("tests.toy.tf_impl")
    monkeypatch.setattr(tf_impl, "keras_scalar", lambda v, d: float(v) + 0.05 if v == 0.9 else float(v))
    traj = by_kind(agreement.run_case(TOY, SGD, dtype))["trajectory"]
    assert not traj.passed
    step, name = re.fullmatch(r"step (\d+) (.+)", traj.first_divergence).groups()
    assert step == "2" and name != "loss"
    at_step = [e for e in traj.entries if e["name"].startswith(f"step {step} ") and not e["passed"]]
    worst = max(at_step, key=lambda e: e["max_rel"] / e["tol"])
    assert worst["name"] == traj.first_divergence


def test_eval_mode_is_compared_again_after_training(monkeypatch):
    """The eval-mode taps after the trajectory are their own check (weights and running statistics moved): a
    momentum bug that the initial forward cannot see fails there, named at a tap."""
    tf_impl = importlib.import_module("tests.toy.tf_impl")
    monkeypatch.setattr(tf_impl, "keras_scalar", lambda v, d: float(v) + 0.05 if v == 0.9 else float(v))
    checks = by_kind(agreement.run_case(TOY, SGD, "float64"))
    assert checks["forward"].passed
    trained = checks["forward_trained"]
    assert not trained.passed and trained.first_divergence in {e["name"] for e in trained.entries}
    assert trained.to_json()["mode"] == "eval after training"


def test_agree_json_carries_every_entry_and_names_the_origin(monkeypatch, tmp_path):
    from tests.test_cli import harness

    monkeypatch.setattr(importlib.import_module("tests.toy.tf_impl"), "LN_EPS", 1e-3)
    result = harness("agree", "toy", "--dtype", "float32", "--json", results=tmp_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    forward = next(c for c in report["checks"] if c["name"] == "toy/sgd/float32/forward")
    assert forward["first_divergence"] == "norm" and not forward["passed"]
    entries = {e["name"]: e for e in forward["entries"]}
    assert set(entries) == {"dense1", "norm", "act", "output"}
    for e in entries.values():
        assert {"max_abs", "max_rel", "tol", "passed", "torch_err", "tf_err", "f64_err"} <= set(e)
    assert not entries["norm"]["passed"] and entries["dense1"]["passed"]
    assert (tmp_path / "repro" / "toy-sgd-float32" / "repro.py").is_file()


class _Model:
    """A stand-in model whose `ignored` parameter has no gradient and reaches no tap."""

    def __init__(self):
        self.params = {}

    def set_params(self, params):
        self.params = dict(params)

    def forward(self, batch, training=False):
        return {"out": batch["x"] * self.params["w"] + self.params["b"]}


def test_a_parameter_with_no_gradient_and_no_effect_on_any_tap_is_reported_unobserved():
    start = {"w": np.array([2.0]), "b": np.array([0.0]), "ignored": np.array([1.0]), "stat": np.array([0.0])}
    model = _Model()
    batches = [{"x": np.array([1.0, 3.0])}]
    taps = {t: {"out": batches[0]["x"] * 2.0} for t in (False, True)}
    grads = {"w": np.array([1.0]), "b": np.array([0.0]), "ignored": np.array([0.0])}
    seen = agreement.Observed(start=start, params=start, taps=taps, loss=0.0, grads=grads, steps=[])
    # b: zero gradient here but it moves the tap; stat: no gradient (a running statistic) and no effect
    assert agreement.unobserved_params(model, start, batches, seen) == ["ignored", "stat"]


@pytest.mark.parametrize("case", [SGD, ADAM], ids=["sgd", "adam"])
def test_the_toy_cases_observe_every_parameter(case):
    grad = by_kind(agreement.run_case(TOY, case, "float32"))["grad"]
    assert grad.unobserved == []


class _LiveParams:
    """A model whose get_params returns views of its live weights, as torch's .numpy() does."""

    def __init__(self):
        self.w = np.zeros(2)

    def set_params(self, params):
        self.w[:] = params["w"]

    def get_params(self):
        return {"w": self.w}

    def forward(self, batch, training=False):
        return {"out": self.w * batch["x"]}

    def grads(self, batch):
        return 0.0, {"w": batch["x"].copy()}

    def train_step(self, batch):
        self.w += 1.0  # in place, like an optimizer step
        return {"loss": 0.0}


def test_observed_trajectory_keeps_each_steps_parameters_not_views_of_the_live_weights():
    seen = agreement._observe(_LiveParams(), {"w": np.zeros(2)}, [{"x": np.ones(2)}], steps=3)
    assert [float(p["w"][0]) for _, p in seen.steps] == [1.0, 2.0, 3.0]
    assert float(seen.params["w"][0]) == 0.0


def test_a_ratio_of_sub_ulp_errors_is_not_a_finding():
    x64 = np.linspace(-1, 1, 50)
    a32 = x64.astype(np.float32)  # rounding only: <= half an ulp
    d = compare_with_reference("b", a32, x64.astype(np.float32), x64, x64.copy(), FLOOR)
    d.tf_err, d.torch_err = 5e-8, 1e-10  # a 500x ratio, but both below one float32 ulp
    assert agreement.precision_findings([d], "grad") == []


def test_a_layout_conversion_that_is_not_its_own_inverse_fails_the_torch_round_trip(monkeypatch):
    """Both models are given the start through set_params; a from-torch conversion that does not undo
    the to-torch one would cancel inside torch, so the round trip itself is checked."""
    torch_impl = importlib.import_module("tests.toy.torch_impl")
    real = torch_impl.layout.dense_from_torch
    # the square first kernel forgets its transpose on the way out of torch (shapes still match)
    monkeypatch.setattr(torch_impl, "layout", type("Layout", (), {
        "dense_to_torch": staticmethod(torch_impl.layout.dense_to_torch),
        "dense_from_torch": staticmethod(lambda w: np.array(w, copy=True) if w.shape[0] == w.shape[1] else real(w)),
    }))
    params = by_kind(agreement.run_case(TOY, SGD, "float64"))["params"]
    assert not params.passed
    assert params.first_divergence == "dense1/kernel (torch round trip)"
