"""Execution modes and devices (harness/execution.py, harness/adapters.py AdaptedModel): the plumbing, the
refusals (exit 2), and agreement in every mode a paper declares for its reproductions."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from harness import agreement, bench_modes, execution, executor, registry
from harness.errors import ConfigError
from harness.modes import probe_case
from tests.conftest import papers
from tests.test_cli import harness


def _gpu() -> bool:
    from harness import numerics

    torch = numerics.import_framework("torch")
    return torch.cuda.is_available()


def test_modes_contract():
    assert execution.MODES == {"torch": ("eager", "channels_last", "compile"), "tf": ("eager", "function", "xla")}
    assert execution.DEFAULT_MODE == {"torch": "eager", "tf": "function"}
    assert execution.framework_of_mode("eager") == ("torch", "tf")
    assert execution.framework_of_mode("xla") == ("tf",)


def test_channels_last_only_for_convolutional_papers():
    assert "channels_last" in execution.modes_for(registry.get("resnet"), "torch")
    assert "channels_last" not in execution.modes_for(registry.get("backprop"), "torch")
    assert execution.modes_for(registry.get("backprop"), "tf") == ("eager", "function", "xla")


def test_a_mode_an_impl_declares_unsupported_is_not_offered_and_really_cannot_run():
    """AlexNet tf declares XLA unsupported (no deterministic MaxPool gradient): it is not offered, `bench --mode xla`
    is refused with the reason, `--mode all` says it was not timed; and building it anyway still fails on the first
    train step, so the declaration cannot outlive its cause unnoticed."""
    paper = registry.get("alexnet")
    cls = registry.model_class(paper, "tf")
    assert "xla" in execution.unsupported_modes(cls) and "xla" not in execution.modes_for(paper, "tf")
    with pytest.raises(ConfigError, match=r"mode 'xla' is not supported here \(XLA has no deterministic MaxPool.*"
                                          r"supported: eager, function"):
        bench_modes.modes(paper, "tf", "xla")
    case = probe_case(paper)
    model = cls(case.config, seed=0, dtype="float32", mode="function")
    model.mode = "xla"  # past the constructor's check, as if the declaration were missing
    model._step = model.compiled(model._train_step)
    batch = case.make_batches(np.random.default_rng(0), "float32", 1)[0]
    with pytest.raises(Exception, match="MaxPool"):
        model.train_step(batch)


def test_resolve_device():
    assert execution.resolve_device("cpu") == "cpu"
    assert execution.resolve_device(None) == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        execution.resolve_device("tpu")
    with pytest.raises(ConfigError, match="not available"):
        execution.resolve_device("cuda:99")
    assert execution.resolve_device("auto") == ("cuda:0" if _gpu() else "cpu")


def test_models_expose_mode_and_device_with_todays_defaults():
    paper = registry.get("backprop")
    case = probe_case(paper)
    for fw in ("torch", "tf"):
        model = registry.model_class(paper, fw)(case.config, seed=0, dtype="float64")
        assert (model.mode, model.device) == (execution.DEFAULT_MODE[fw], "cpu")
        assert model.execution["mode"] == execution.DEFAULT_MODE[fw]


def test_tf_models_enter_a_device_scope_only_where_an_op_could_go_elsewhere(monkeypatch):
    """The tf.device scope around every public method pins ops to the model's device; where tensorflow sees no
    GPU it could not change anything and is not entered (a cost per call of the tiny nets' steps)."""
    paper = registry.get("backprop")
    case = probe_case(paper)
    model = registry.model_class(paper, "tf")(case.config, seed=0, dtype="float64")
    batch = case.make_batches(np.random.default_rng(0), "float64", 1)[0]
    monkeypatch.setattr(execution, "tf_sees_gpu", lambda: False)
    assert isinstance(model.device_scope(), contextlib.nullcontext)
    unscoped = model.forward(batch)
    monkeypatch.setattr(execution, "tf_sees_gpu", lambda: True)  # a GPU beside the CPU the model is on
    assert not isinstance(model.device_scope(), contextlib.nullcontext)
    scoped = model.forward(batch)  # run inside tf.device("/CPU:0")
    assert unscoped.keys() == scoped.keys() and all(np.array_equal(unscoped[k], scoped[k]) for k in scoped)
    torch_model = registry.model_class(paper, "torch")(case.config, seed=0, dtype="float64")
    assert isinstance(torch_model.device_scope(), contextlib.nullcontext)


def test_unsupported_mode_is_a_config_error_naming_the_supported_ones():
    paper = registry.get("backprop")
    case = probe_case(paper)
    with pytest.raises(ConfigError, match="no execution mode 'channels_last'; supported: eager, compile"):
        registry.model_class(paper, "torch")(case.config, seed=0, mode="channels_last")
    with pytest.raises(ConfigError, match="supported: eager, function, xla"):
        registry.model_class(paper, "tf")(case.config, seed=0, mode="compile")


def test_agree_refuses_bad_modes_and_devices_with_exit_2(tmp_path):
    bad_mode = harness("agree", "toy", "--mode", "warp", results=tmp_path)
    assert bad_mode.returncode == 2 and "unknown execution mode 'warp'" in bad_mode.stderr
    # the toy registry's Model is not an AdaptedModel: it runs only as before, and says so
    not_adapted = harness("agree", "toy", "--mode", "xla", results=tmp_path)
    assert not_adapted.returncode == 2 and "no execution mode 'xla'; supported: function" in not_adapted.stderr
    if not _gpu():
        no_gpu = harness("agree", "toy", "--device", "cuda", results=tmp_path)
        assert no_gpu.returncode == 2 and "not available" in no_gpu.stderr
    assert not (tmp_path / "records.jsonl").exists()  # refused before anything ran


def test_sides_for():
    paper = registry.get("resnet")
    assert agreement.sides_for(paper) == [agreement.DEFAULT_SIDES]
    assert agreement.sides_for(paper, "compile") == [(agreement.Side("torch", "compile"), agreement.Side("tf"))]
    assert agreement.sides_for(paper, "eager") == [(agreement.Side("torch", "eager"), agreement.Side("tf", "eager"))]
    assert agreement.sides_for(paper, mode_tf="xla", against="eager") == [
        (agreement.Side("tf", "xla"), agreement.Side("tf", "eager"))]
    assert agreement.sides_for(paper, against="cpu") == [
        (agreement.Side("torch"), agreement.Side("torch")), (agreement.Side("tf"), agreement.Side("tf"))]
    with pytest.raises(ConfigError, match="disagree"):
        agreement.sides_for(paper, "compile", mode_torch="channels_last")
    with pytest.raises(ConfigError, match="no execution mode 'xla'"):
        agreement.sides_for(paper, mode_torch="eager", against="xla")


def test_default_sides_leave_records_as_they_were():
    assert agreement.sides_label(agreement.DEFAULT_SIDES) is None
    assert agreement.sides_label((agreement.Side("torch", "compile"), agreement.Side("tf"))) == \
        "torch:compile@cpu vs tf:function@cpu"


def test_tf_eager_agrees_with_tf_function_and_checks_say_so():
    paper = registry.get("backprop")
    checks = agreement.run_case(paper, probe_case(paper), "float64",
                                sides=(agreement.Side("tf", "eager"), agreement.Side("tf", "function")))
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]
    assert {c.sides for c in checks} == {"tf:eager@cpu vs tf:function@cpu"}
    assert checks[0].to_record({})["config"]["sides"] == "tf:eager@cpu vs tf:function@cpu"


def test_channels_last_places_conv_weights_and_agrees_with_eager():
    paper = registry.get("resnet")
    case = next(c for c in paper.agreement if c.name == "resnet8")
    model = registry.model_class(paper, "torch")(case.config, seed=0, dtype="float64", mode="channels_last")
    import torch

    conv = model.net.stem.conv.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    checks = agreement.run_case(paper, case, "float64",
                                sides=(agreement.Side("torch", "channels_last"), agreement.Side("torch", "eager")))
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]


def test_a_run_in_another_mode_is_another_run(monkeypatch):
    """resume never mixes modes: the mode is in the run identity, so in the run key."""
    paper = registry.get("backprop")
    exp = paper.experiments[0]
    key = executor.run_key(paper, exp, "tf", 0, "tiny", exp.configs["tiny"],
                           executor.run_identity(paper, exp, "tiny", None))
    monkeypatch.setattr(execution, "repro_mode", lambda p, fw: "eager")
    other = executor.run_key(paper, exp, "tf", 0, "tiny", exp.configs["tiny"],
                             executor.run_identity(paper, exp, "tiny", None))
    assert key[:-1] == other[:-1] and key[-1] != other[-1]


def test_executor_builds_models_in_the_declared_mode_and_identity_names_it():
    paper = registry.get("backprop")
    make = executor._model_factory(registry.model_class(paper, "tf"), "eager", "cpu")
    assert make(probe_case(paper).config, 0, "float64").mode == "eager"
    identity = executor.run_identity(paper, paper.experiments[0], "tiny", None)
    assert identity["execution"] == (f"torch:{execution.repro_mode(paper, 'torch')}@cpu "
                                     f"tf:{execution.repro_mode(paper, 'tf')}@cpu")


def _declared(paper) -> tuple[str, str]:
    return execution.repro_mode(paper, "torch"), execution.repro_mode(paper, "tf")


def _declared_params():
    out = []
    for paper in papers():
        modes = _declared(paper)
        marks = [pytest.mark.slow] if "compile" in modes else []  # torch.compile takes tens of seconds
        out.append(pytest.param(paper, id=paper.key, marks=marks))
    return out


@pytest.mark.parametrize("paper", _declared_params())
def test_reproductions_train_in_a_mode_that_agrees(paper):
    """The mode each paper's reproductions train in (REPRO_MODE), torch against tf on a small case in both
    dtypes: a declared mode that stops agreeing fails here."""
    torch_mode, tf_mode = _declared(paper)
    assert torch_mode in execution.modes_for(paper, "torch") and tf_mode in execution.modes_for(paper, "tf")
    if (torch_mode, tf_mode) == (execution.DEFAULT_MODE["torch"], execution.DEFAULT_MODE["tf"]):
        pytest.skip("default modes: the agreement tests cover them")
    case = probe_case(paper)
    per_dtype = agreement.run_dtypes(paper, case, case.dtypes,
                                     sides=(agreement.Side("torch", torch_mode), agreement.Side("tf", tf_mode)))
    failed = [c.name + ": " + str(c.detail) for checks in per_dtype.values() for c in checks if not c.passed]
    assert not failed, failed


@pytest.mark.slow
def test_torch_compile_agrees_with_eager_and_names_its_backend():
    paper = registry.get("backprop")
    model = registry.model_class(paper, "torch")(probe_case(paper).config, seed=0, mode="compile")
    assert model.execution["backend"] == execution.TORCH_COMPILE_BACKEND
    checks = agreement.run_case(paper, probe_case(paper), "float64",
                                sides=(agreement.Side("torch", "compile"), agreement.Side("torch", "eager")))
    assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]


@pytest.mark.skipif("not _gpu()", reason="no CUDA GPU visible to torch (CPU-only build or none)")
def test_gpu_agrees_with_cpu():
    paper = registry.get("backprop")
    for fw in ("torch", "tf"):
        checks = agreement.run_case(paper, probe_case(paper), "float64",
                                    sides=(agreement.Side(fw, device="cuda:0"), agreement.Side(fw)))
        assert all(c.passed for c in checks), [c.detail for c in checks if not c.passed]
    assert np.isfinite([c.max_rel for c in checks]).all()
