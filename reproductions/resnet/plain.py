"""Plain reference loops for the benchmark: the impls' ResNet classes and optimizers, no Model wrapper
(no lr schedule, no loss/error read back).
The interface (and `model=`) is harness.bench_plain's."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    train = case_name.endswith("-train")
    return (_torch if framework == "torch" else _tf)(config, batch, dtype, train, model)


def _torch(config, batch, dtype, train, model):
    import torch
    import torch.nn.functional as F

    from . import torch_impl

    if model is not None:
        net = model.net
    else:
        net = torch_impl.ResNet(config).to(getattr(torch, dtype))
        torch_impl.init_weights(net)
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        x = torch.from_numpy(np.ascontiguousarray(np.asarray(batch["x"]).transpose(0, 3, 1, 2)))
        t = {"x": x.to(device, getattr(torch, dtype))}
        if train:
            t["y"] = torch.as_tensor(np.asarray(batch["y"]), dtype=torch.int64, device=device)
        return t

    if not train:
        net.eval()

        def forward(t):
            with torch.no_grad():
                return net(t["x"])["output"]

        return PlainLoop(inputs, forward)
    opt = torch.optim.SGD(net.parameters(), lr=config.lr_at(0), momentum=config.momentum,
                          weight_decay=config.weight_decay)
    net.train()

    def step(t):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(t["x"])["output"], t["y"])
        loss.backward()
        opt.step()
        return loss

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, train, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    def inputs(batch):
        t = {"x": tf.constant(np.asarray(batch["x"], dtype=dtype))}
        if train:
            t["y"] = tf.constant(np.asarray(batch["y"]), dtype=tf.int64)
        return t

    if model is not None:
        net = model.net
    else:
        net = tf_impl.ResNet(config, dtype)
        net(inputs(batch)["x"][:2])
    if not train:
        return PlainLoop(inputs, plain_function(model)(lambda t: net(t["x"], training=False)["output"]), tf_numpy)
    opt = keras.optimizers.SGD(learning_rate=config.lr_at(0), momentum=config.momentum)
    variables = net.trainable_variables
    opt.build(variables)
    wd = tf.constant(config.weight_decay, dtype=dtype)

    @plain_function(model)
    def step(t):
        with tf.GradientTape() as tape:
            logits = net(t["x"], training=True)["output"]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(t["y"], logits))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip([g + wd * v for g, v in zip(grads, variables, strict=True)], variables, strict=True))
        return loss

    return PlainLoop(inputs, step, tf_numpy)
