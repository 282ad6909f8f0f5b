"""Plain reference loops for the benchmark: the impls' networks, loss and SGD, no Model wrapper (no phase
schedule, no fit statistics read back). One sweep = one step.

`model`, when given, is a harness Model of the same framework whose network the loop trains (its weights), so a
test can compare the loop's first loss with the harness step's; without one the loop builds its own."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    return (_torch if framework == "torch" else _tf)(config, batch, dtype, model)


def _torch(config, batch, dtype, model):
    import torch

    from . import torch_impl

    net_class = torch_impl.SymmetryNet if config.task == "symmetry" else torch_impl.FamilyTreesNet
    net = model.net if model is not None else net_class(config).to(getattr(torch, dtype))
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        return {k: torch.as_tensor(np.asarray(v), dtype=getattr(torch, dtype), device=device) for k, v in batch.items()}

    lr, momentum = config.phase(1)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)

    def step(t):
        opt.zero_grad(set_to_none=True)
        loss = torch_impl.summed_squared_error(net(t)["output"], t["target"], config.margin)
        loss.backward()
        opt.step()
        torch_impl.decay_weights(net, config.weight_decay)
        return loss

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    net_class = tf_impl.SymmetryNet if config.task == "symmetry" else tf_impl.FamilyTreesNet
    net = model.net if model is not None else net_class(config, dtype)

    def inputs(batch):
        return {k: tf.constant(np.asarray(v, dtype=dtype)) for k, v in batch.items()}

    net(inputs(batch))
    lr, momentum = config.phase(1)
    opt = keras.optimizers.SGD(learning_rate=lr, momentum=momentum)
    variables = net.trainable_variables
    opt.build(variables)

    @plain_function(model)
    def step(t):
        with tf.GradientTape() as tape:
            loss = tf_impl.summed_squared_error(net(t)["output"], t["target"], config.margin)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        tf_impl.decay_weights(variables, config.weight_decay)
        return loss

    return PlainLoop(inputs, step, tf_numpy)
