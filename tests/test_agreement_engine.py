"""The agreement engine must be able to fail: injected porting bugs are caught and located.

Uses the toy MLP in tests/toy (written twice like a paper) so the engine is tested on its own; the
registered papers' own mutations are tested in test_papers.py.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from harness import agreement, conventions

TOY = importlib.import_module("tests.toy.paper").PAPER
SGD, ADAM = TOY.agreement


def by_kind(checks):
    return {c.kind: c for c in checks}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", [SGD, ADAM], ids=["sgd", "adam"])
def test_faithful_twins_agree(case, dtype):
    checks = agreement.run_case(TOY, case, dtype)
    assert [c.kind for c in checks] == ["params", "forward", "forward_train", "grad", "trajectory",
                                        "forward_trained"]
    for c in checks:
        assert c.passed, c.detail
    if dtype == "float64":  # identical maths: rounding-level agreement, far inside the rule
        assert max(c.max_rel for c in checks) < 1e-13


def test_changed_epsilon_is_caught_at_the_norm_tap(monkeypatch):
    monkeypatch.setattr(importlib.import_module("tests.toy.tf_impl"), "LN_EPS", 1e-3)
    checks = by_kind(agreement.run_case(TOY, SGD, "float32"))
    assert not checks["forward"].passed
    assert checks["forward"].first_divergence == "norm"
    assert checks["params"].passed  # the weights were copied fine; the maths differs


def test_swapped_activation_is_caught_at_the_activation_tap(monkeypatch, torch):
    monkeypatch.setattr(importlib.import_module("tests.toy.torch_impl"), "ACTIVATION", torch.sigmoid)
    checks = by_kind(agreement.run_case(TOY, SGD, "float64"))
    assert checks["forward"].first_divergence == "act"
    assert not checks["grad"].passed and not checks["trajectory"].passed


def test_transposed_kernel_is_caught_at_its_layer():
    def transpose_first_kernel(params):
        params = dict(params)
        params["dense1/kernel"] = params["dense1/kernel"].T.copy()  # square: shapes still match
        return params

    checks = by_kind(agreement.run_case(TOY, SGD, "float64", tamper=transpose_first_kernel))
    assert checks["forward"].first_divergence == "dense1"
    assert "dense1" in checks["forward"].detail


def test_adam_epsilon_convention_matters_in_float64(monkeypatch):
    """Without the per-step epsilon conversion (PITFALLS: Adam), float64 trajectories part at step 1."""
    monkeypatch.setattr(conventions, "torch_adam_eps_matching_keras", lambda eps, b2, t: eps)
    check = by_kind(agreement.run_case(TOY, ADAM, "float64"))["trajectory"]
    assert not check.passed
    assert check.first_divergence.startswith("step 1 ")


def test_keras_float32_hyperparameters_are_caught_in_float64(monkeypatch):
    """Keras casts a Python-float momentum through float32 (0.9 -> 0.89999998): visible from step 2."""
    monkeypatch.setattr(importlib.import_module("tests.toy.tf_impl"), "keras_scalar", lambda v, d: float(v))
    check = by_kind(agreement.run_case(TOY, SGD, "float64"))["trajectory"]
    assert not check.passed
    assert check.first_divergence.startswith("step 2 ")


def test_nan_on_one_side_is_a_mask_failure_not_a_zero(monkeypatch):
    tf_impl = importlib.import_module("tests.toy.tf_impl")
    real = tf_impl.ACTIVATION
    monkeypatch.setattr(tf_impl, "ACTIVATION", lambda x: real(x) * np.nan)
    check = by_kind(agreement.run_case(TOY, SGD, "float32"))["forward"]
    assert check.first_divergence == "act"
    assert "NaN masks differ" in check.detail


def test_set_params_refuses_bad_keys_naming_each():
    from harness import registry
    from harness.errors import ParamsError

    model = registry.model_class(TOY, "tf")(SGD.config, seed=0)
    params = model.get_params()
    params.pop("dense1/bias")
    params["extra/kernel"] = np.zeros(2)
    params["dense2/kernel"] = np.zeros((1, 1))
    with pytest.raises(ParamsError) as err:
        model.set_params(params)
    message = str(err.value)
    assert "missing: dense1/bias" in message and "unexpected: extra/kernel" in message
    assert "dense2/kernel: shape (1, 1), expected (4, 3)" in message


def test_skip_slow_leaves_out_only_the_cases_marked_slow():
    import dataclasses

    from tests.toy.paper import PAPER

    slow = dataclasses.replace(PAPER.agreement[0], name="slow-one", slow=True)
    paper = dataclasses.replace(PAPER, agreement=(*PAPER.agreement, slow))
    assert [c.name for c in agreement.cases(paper)] == ["sgd", "adam", "slow-one"]
    assert [c.name for c in agreement.cases(paper, skip_slow=True)] == ["sgd", "adam"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_gradient_that_is_zero_in_exact_arithmetic_is_judged_against_the_models_gradient_scale(dtype):
    """Whether the rounding leaves noise or an exact 0.0 in `shift`'s gradient depends on the CPU: the
    test checks which one this machine produced instead of assuming noise."""
    from dataclasses import replace

    from harness.compare import compare_named

    case = replace(SGD, name="pre-norm-shift", config=replace(SGD.config, pre_norm_shift=True))
    checks = by_kind(agreement.run_case(TOY, case, dtype))
    assert checks["grad"].passed, checks["grad"].detail
    shift = next(e for e in checks["grad"].entries if e["name"] == "shift")
    assert shift["note"] and "largest gradient" in shift["note"]
    start, batches = agreement.case_inputs(case, TOY)
    models = [agreement.registry.model_class(TOY, fw)(case.config, seed=0, dtype=dtype) for fw in ("torch", "tf")]
    for m in models:
        m.set_params(agreement._cast(start, dtype))
    (_, ga), (_, gb) = (m.grads(agreement._cast(batches, dtype)[0]) for m in models)
    largest = max(np.abs(g).max() for g in ga.values())
    assert max(abs(ga["shift"][0]), abs(gb["shift"][0])) < 1e-6 * largest
    own_scale = {d.name: d for d in compare_named("grad", ga, gb, lambda k: checks["grad"].tol)}["shift"]
    if ga["shift"][0] == gb["shift"][0]:  # e.g. both exactly 0.0: nothing to normalise, on any scale
        assert own_scale.passed and own_scale.max_abs == 0.0
    else:  # two different noise values judged on their own rms, as before the zero rule, are O(1) apart
        assert own_scale.note is None and not own_scale.passed and own_scale.max_rel >= 0.5


def test_a_gradient_one_framework_drops_is_not_excused_as_zero():
    from harness.compare import compare_arrays

    real = np.array([3e-3, -2e-3])
    dropped = compare_arrays("bias", real, np.zeros(2), tol=1e-5, zero_scale=1.0)
    assert not dropped.passed and dropped.note is None  # 3e-3 > tol * scale: judged on its own scale
    noise = compare_arrays("bias", np.array([3e-7, -1e-7]), np.array([-2e-7, 4e-7]), tol=1e-5, zero_scale=1.0)
    assert noise.passed and noise.note
    assert not compare_arrays("bias", np.array([3e-7, -1e-7]), np.array([-2e-7, 4e-7]), tol=1e-5).passed
