"""Each paper's plain reference loop does the harness's work: on the same weights and batch (float64, where the
same maths agree to rounding), the loop's first step computes the harness train step's loss, on tensors made
once and on tensors made every call alike, and its step changes the weights (the next loss differs)."""

import importlib

import numpy as np
import pytest

from harness import bench_plain, registry


def _first_train_case(paper):
    return next((c for c in paper.benchmarks if c.method == "train_step"), None)


PAPERS = [key for key, paper in registry.papers().items() if _first_train_case(paper) is not None]


def _loss(value) -> float:
    return float(value.detach() if hasattr(value, "detach") else value)  # a torch loss still holds its graph


def test_every_paper_has_a_plain_loop():
    for paper in registry.papers().values():
        module = importlib.import_module(f"{paper.package}.plain")  # a missing plain.py fails here, named
        assert callable(module.plain_step), paper.key


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize("key", PAPERS)
def test_plain_loop_step_matches_the_harness_train_step_loss(key, framework):
    paper = registry.get(key)
    case = _first_train_case(paper)
    cls = registry.model_class(paper, framework)
    batch = case.make_batch(np.random.default_rng(0), "float64")
    harness_loss = cls(case.config, seed=0, dtype="float64").train_step(batch)["loss"]
    for variant in ("once", "fed"):
        plain_model = cls(case.config, seed=0, dtype="float64")
        loop = bench_plain.plain_step(paper, case, framework, batch, dtype="float64", model=plain_model)
        step = dict(zip(("once", "fed"), loop.calls(batch), strict=True))[variant]
        first, second = _loss(step()), _loss(step())
        assert np.isfinite(first) and first == pytest.approx(harness_loss, rel=1e-10, abs=1e-12), variant
        assert second != first, variant  # the loop updates the weights it was given


PREDICT_CASES = [(key, case.name) for key, paper in registry.papers().items() for case in paper.benchmarks
                 if case.method == "predict"]


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize(("key", "case_name"), PREDICT_CASES)
def test_predict_is_the_eval_forward_output(key, case_name, framework):
    """The inference benchmark times `predict`, not `forward` (which returns every tap): it must compute the
    same eval-mode output. float64, where graph and eager runs of the same maths agree to rounding."""
    paper = registry.get(key)
    case = next(c for c in paper.benchmarks if c.name == case_name)
    model = registry.model_class(paper, framework)(case.config, seed=0, dtype="float64")
    batch = case.make_batch(np.random.default_rng(0), "float64")
    expected = model.forward(batch)["output"]
    np.testing.assert_allclose(model.predict(batch), expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


OUTPUT_CASES = [(key, case.name) for key, paper in registry.papers().items() for case in paper.benchmarks
                if case.method != "train_step"]


def _numpy(value, like):
    """A plain loop's output as the harness returns it: NumPy, and NHWC where torch's loop computed NCHW."""
    a = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    return np.moveaxis(a, 1, -1) if a.ndim == 4 and a.shape != like.shape else a


@pytest.mark.parametrize("framework", ["torch", "tf"])
@pytest.mark.parametrize(("key", "case_name"), OUTPUT_CASES)
def test_plain_loop_computes_the_harness_output(key, case_name, framework):
    """Inference, generation and sampling cases: the loop's output, from tensors made once and made every call,
    is the harness method's on the same weights and batch (float64)."""
    paper = registry.get(key)
    case = next(c for c in paper.benchmarks if c.name == case_name)
    model = registry.model_class(paper, framework)(case.config, seed=0, dtype="float64")
    batch = case.make_batch(np.random.default_rng(0), "float64")
    expected = np.asarray(getattr(model, case.method)(batch))
    for call in bench_plain.plain_step(paper, case, framework, batch, dtype="float64", model=model).calls(batch):
        np.testing.assert_allclose(_numpy(call(), expected), expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max())


MODE_CASES = [("backprop", "tf", "eager"), ("ddpm", "tf", "xla"), ("resnet", "torch", "channels_last")]


@pytest.mark.parametrize(("key", "framework", "mode"), MODE_CASES)
def test_plain_loop_runs_in_the_mode_of_the_model_it_is_given(key, framework, mode):
    """A benchmark row's plain loop runs in the row's mode (its "vs plain" is then the harness's cost, not the
    mode's): given a model built in `mode`, the loop still computes the harness step's loss in that mode."""
    paper = registry.get(key)
    case = _first_train_case(paper)
    cls = registry.model_class(paper, framework)
    batch = case.make_batch(np.random.default_rng(0), "float64")
    harness_model = cls(case.config, seed=0, dtype="float64", mode=mode)
    plain_model = cls(case.config, seed=0, dtype="float64", mode=mode)
    harness_loss = harness_model.train_step(batch)["loss"]
    once, _ = bench_plain.plain_step(paper, case, framework, batch, dtype="float64", model=plain_model).calls(batch)
    assert _loss(once()) == pytest.approx(harness_loss, rel=1e-10, abs=1e-12)


def test_once_makes_the_tensors_once_and_fed_every_call():
    made, seen = [], []

    def inputs(batch):
        made.append(dict(batch))
        return {"x": batch["x"] * 2}

    once, fed = bench_plain.PlainLoop(inputs, lambda t: seen.append(t["x"]) or t["x"]).calls({"x": 1})
    assert len(made) == 1
    once(), once()
    assert len(made) == 1
    fed(), fed()
    assert len(made) == 3 and seen == [2, 2, 2, 2]


def test_a_tf_function_step_is_called_through_one_concrete_function():
    """tf.function matches its arguments on every call; the plain loop calls the concrete function of the batch's
    tensors, as the harness does (harness.adapters), and so traces once."""
    import tensorflow as tf

    traces = []

    @tf.function
    def step(t):
        traces.append(1)
        return t["x"] * 2.0

    once, fed = bench_plain.PlainLoop(lambda b: {"x": tf.constant(b["x"])}, step, bench_plain.tf_numpy).calls(
        {"x": np.ones(3)})
    assert once().tolist() == fed().tolist() == fed().tolist() == [2.0] * 3
    assert len(traces) == 1


def test_plain_function_compiles_as_the_models_mode_does():
    import tensorflow as tf

    class Model:
        def __init__(self, mode):
            self.mode = mode

    def step():
        return tf.constant(1.0) + 1.0

    assert bench_plain.plain_function(Model("eager"))(step) is step  # eager: the Python function itself
    traced, compiled, default = (bench_plain.plain_function(m)(step) for m in (Model("function"), Model("xla"), None))
    assert float(traced()) == float(compiled()) == float(default()) == 2.0
    # only an XLA-compiled function has compiler IR to show
    assert "HloModule" in compiled.experimental_get_compiler_ir()(stage="hlo")
    with pytest.raises(Exception):  # noqa: B017 (tf raises its own error types for a function without jit_compile)
        traced.experimental_get_compiler_ir()(stage="hlo")
