"""harness.adapters: canonical names from module paths, the layout rule applied once, checked get/set."""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry
from harness.adapters import DENSE, SAME, Joint, KerasParams, Layout, TorchParams
from harness.errors import ParamsError

torch = pytest.importorskip("torch")
registry.model_class(registry.get("backprop"), "tf")  # pins threads and determinism before Keras builds anything
keras = pytest.importorskip("keras")


def _torch_net():
    net = torch.nn.Module()
    net.conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    net.bn = torch.nn.BatchNorm2d(4)
    net.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 5), torch.nn.Linear(5, 2)])
    return net


def test_torch_names_layouts_and_state_follow_the_layer_kind():
    adapter = TorchParams(_torch_net(), "toy torch")
    params = adapter.get()
    assert list(params) == ["conv/kernel", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance",
                            "blocks/0/kernel", "blocks/0/bias", "blocks/1/kernel", "blocks/1/bias"]
    assert params["conv/kernel"].shape == (3, 3, 3, 4)  # HWIO
    assert params["blocks/0/kernel"].shape == (4, 5)  # (in, out)
    assert len(adapter.trainable()) == 7  # the moving statistics are state, not trained


def test_torch_round_trip_is_exact_and_writes_the_framework_layout():
    net = _torch_net()
    adapter = TorchParams(net, "toy torch")
    rng = np.random.default_rng(0)
    new = {k: rng.standard_normal(v.shape) for k, v in adapter.get().items()}
    adapter.set(new)
    got = adapter.get()
    assert all(np.array_equal(got[k], new[k].astype(np.float32)) for k in new)
    assert np.array_equal(net.blocks[0].weight.detach().numpy(), new["blocks/0/kernel"].T.astype(np.float32))


def test_set_names_every_missing_unexpected_and_misshaped_key():
    adapter = TorchParams(_torch_net(), "toy torch")
    params = adapter.get()
    del params["bn/beta"]
    params["extra/bias"] = np.zeros(2)
    params["blocks/1/bias"] = np.zeros(3)
    with pytest.raises(ParamsError) as e:
        adapter.set(params)
    message = str(e.value)
    assert "toy torch" in message and "missing: bn/beta" in message and "unexpected: extra/bias" in message
    assert "blocks/1/bias: shape (3,), expected (2,)" in message


def test_rename_layouts_joints_and_order_are_the_declared_exceptions():
    net = torch.nn.Module()
    net.a = torch.nn.Linear(2, 3)
    net.w = torch.nn.Parameter(torch.arange(6.0).reshape(3, 2))
    sum_bias = Joint(("a/bias",), lambda a: {"a/b2": a["a/bias"] * 2}, lambda p: {"a/bias": p["a/b2"] / 2})
    adapter = TorchParams(net, "toy", rename=((r"^a/", "first/"), (r"^w$", "first/extra")),
                          layouts={"first/extra": DENSE}, joints=[sum_bias],
                          order=["first/extra", "a/b2", "first/kernel"])
    params = adapter.get()
    assert list(params) == ["first/extra", "a/b2", "first/kernel"]
    assert params["first/extra"].shape == (2, 3)
    assert np.array_equal(params["a/b2"], 2 * net.a.bias.detach().numpy())
    with pytest.raises(ValueError, match="not the declared ones"):
        TorchParams(net, "toy", order=["a/kernel"])
    with pytest.raises(ValueError, match="two parameters map to one canonical name"):
        TorchParams(net, "toy", rename=((r"^w$", "a/bias"),))
    with pytest.raises(ValueError, match="joint parameter sources not found"):
        TorchParams(net, "toy", joints=[Joint(("nope",), dict, dict)])


def test_keras_names_come_from_attribute_paths_and_variable_names():
    class Block(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)
            self.stages = [[keras.layers.Dense(2)], [keras.layers.Dense(2, use_bias=False)]]
            self.scale = self.add_weight(shape=(2,), initializer="ones", name="scale")

        def call(self, x):
            x = self.dense(x)
            for (layer,) in self.stages:
                x = layer(x)
            return x * self.scale

    block = Block()
    block(np.zeros((1, 4), "float32"))
    adapter = KerasParams(block, "toy tf", rename=((r"^stages/(\d+)/0/", r"stage\1/"),),
                          layouts={"scale": Layout(SAME.to_canonical, SAME.from_canonical)})
    params = adapter.get()
    assert list(params) == ["scale", "dense/kernel", "dense/bias", "stage0/kernel", "stage0/bias", "stage1/kernel"]
    adapter.set({k: np.full(v.shape, 0.5) for k, v in params.items()})
    assert float(block.dense.kernel.numpy()[0, 0]) == 0.5
    grads = adapter.name_grads([np.ones(v.shape) for v in adapter.trainable()])
    assert list(grads) == list(params)
    with pytest.raises(ValueError, match="gradients for"):
        adapter.name_grads([])
