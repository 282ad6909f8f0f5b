"""Plain reference loops for the benchmark: the impl's AlexNet with its dropout masks, cross-entropy and SGD,
no Model wrapper (no lr schedule, no error read back). The interface (and `model=`) is harness.bench_plain's."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    train = case_name.endswith("-train")
    return (_torch if framework == "torch" else _tf)(config, batch, dtype, train, model)


def _torch(config, batch, dtype, train, model):
    import torch

    from . import torch_impl

    if model is None:
        model = torch_impl.Model(config, 0, dtype)
    net, torch_dtype = model.net, getattr(torch, dtype)
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        t = {"x": torch.from_numpy(np.ascontiguousarray(np.asarray(batch["x"]).transpose(0, 3, 1, 2))).to(
            device, torch_dtype)}
        if train:
            t["y"] = torch.as_tensor(np.asarray(batch["y"]), dtype=torch.int64, device=device)
            t["masks"] = None if config.dropout <= 0 else {
                n: torch.as_tensor(np.asarray(batch[f"mask_{n}"]), dtype=torch_dtype, device=device)
                for n in config.fc_names[:-1]}
        return t

    if not train:

        def forward(t):
            with torch.no_grad():
                return net(t["x"])["output"]

        return PlainLoop(inputs, forward)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr_at(0), momentum=config.momentum,
                          weight_decay=config.weight_decay)

    def step(t):
        opt.zero_grad(set_to_none=True)
        loss = torch_impl.cross_entropy(net(t["x"], t["masks"])["output"], t["y"])
        loss.backward()
        opt.step()
        return loss

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, train, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    if model is None:
        model = tf_impl.Model(config, 0, dtype)
    net = model.net

    def inputs(batch):
        t = {"x": tf.constant(np.asarray(batch["x"], dtype=dtype))}
        if train:
            t["y"] = tf.constant(np.asarray(batch["y"]), dtype=tf.int64)
            if config.dropout > 0:
                t["masks"] = {n: tf.constant(np.asarray(batch[f"mask_{n}"], dtype=dtype))
                              for n in config.fc_names[:-1]}
        return t

    if not train:
        return PlainLoop(inputs, plain_function(model)(lambda t: net(t["x"])["output"]), tf_numpy)
    opt = keras.optimizers.SGD(learning_rate=config.lr_at(0), momentum=config.momentum)
    variables = net.trainable_variables
    opt.build(variables)
    wd = tf.constant(config.weight_decay, dtype=dtype)

    @plain_function(model)
    def step(t):
        with tf.GradientTape() as tape:
            loss = tf_impl.cross_entropy(net(t["x"], t.get("masks"))["output"], t["y"])
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip([g + wd * v for g, v in zip(grads, variables, strict=True)], variables, strict=True))
        return loss

    return PlainLoop(inputs, step, tf_numpy)
