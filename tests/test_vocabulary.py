"""One vocabulary: the twins of every registered paper use the same names.

For each paper, its torch and tf implementations must define the same public methods on every class both
define, the same public methods and attributes on `Model`, and the same parameter and tap names in the same
order. Each framework's own entry points are the only names allowed on one side: torch's `forward` (and
`init_weights`, the explicit initialisation Keras layers take as initializer arguments), Keras's `call` and
`build`. Helper functions and the layers one framework has built in and the other writes by hand (a Keras
GroupNorm, torch's layout conversions) are not compared.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from harness import registry

PAPERS = list(registry.papers().values())
ENTRY_POINTS = {"torch": {"forward", "init_weights"}, "tf": {"call", "build"}}


def _classes(module) -> dict[str, type]:
    return {n: o for n, o in vars(module).items() if inspect.isclass(o) and o.__module__ == module.__name__}


def _public_methods(cls, framework: str) -> set[str]:
    """`Model` implements the common interface (its `forward` is the interface's); the layers' framework entry
    points are not compared."""
    public = {n for n, o in vars(cls).items() if callable(o) and not n.startswith("_")}
    return public if cls.__name__ == "Model" else public - ENTRY_POINTS[framework]


@pytest.mark.parametrize("paper", PAPERS, ids=lambda p: p.key)
def test_classes_both_frameworks_define_have_the_same_methods(paper):
    torch_mod, tf_mod = registry.impl_module(paper, "torch"), registry.impl_module(paper, "tf")
    torch_classes, tf_classes = _classes(torch_mod), _classes(tf_mod)
    assert "Model" in torch_classes and "Model" in tf_classes
    differ = {name: (sorted(_public_methods(torch_classes[name], "torch") - _public_methods(tf_classes[name], "tf")),
                     sorted(_public_methods(tf_classes[name], "tf") - _public_methods(torch_classes[name], "torch")))
              for name in torch_classes.keys() & tf_classes.keys()}
    differ = {k: v for k, v in differ.items() if v != ([], [])}
    assert not differ, f"{paper.key}: class -> (torch-only methods, tf-only methods): {differ}"


@pytest.mark.parametrize("paper", PAPERS, ids=lambda p: p.key)
def test_models_share_attributes_parameters_and_taps(paper):
    case = paper.agreement[0]
    models = {fw: registry.model_class(paper, fw)(case.config, seed=case.seed, dtype="float64")
              for fw in ("torch", "tf")}
    attrs = {fw: {n for n in vars(m) if not n.startswith("_")} for fw, m in models.items()}
    assert attrs["torch"] == attrs["tf"], (f"{paper.key}: torch-only attributes {attrs['torch'] - attrs['tf']}, "
                                           f"tf-only {attrs['tf'] - attrs['torch']}")
    params = {fw: list(m.get_params()) for fw, m in models.items()}
    assert params["torch"] == params["tf"], f"{paper.key}: parameter names or order differ: {params}"
    batch = case.make_batches(np.random.default_rng(0), "float64", 1)[0]
    taps = {fw: list(m.forward(batch)) for fw, m in models.items()}
    assert taps["torch"] == taps["tf"], f"{paper.key}: tap names or order differ: {taps}"
