"""Plain reference loops for the benchmark: the impl's recurrent network, the weighted squared error and its
optimizer (SGD or Adam, as configured), no Model wrapper (no per-step epsilon adjustment, no loss read back per
step in torch).

`model`, when given, is a harness Model of the same framework whose network the loop trains (its weights), so a
test can compare the loop's first loss with the harness step's; without one the loop builds its own."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy

_KEYS = ("x", "y", "w", "m")


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    return (_torch if framework == "torch" else _tf)(config, batch, dtype, model)


def _torch(config, batch, dtype, model):
    import torch

    from . import torch_impl

    net = (model or torch_impl.Model(config, 0, dtype)).net
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        return [torch.from_numpy(np.asarray(batch[k])).to(device) for k in _KEYS]

    params = [p for p in net.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=config.lr)
    else:
        opt = torch.optim.Adam(params, lr=config.lr, eps=config.adam_epsilon)
    mean = config.loss == "step_mean"

    def step(t):
        x, y, w, m = t
        opt.zero_grad(set_to_none=True)
        out = net.run(x, m, with_taps=False)[1]
        loss = (0.5 * w * ((out - y) ** 2).sum(-1)).sum()
        if mean:
            loss = loss / w.sum()
        loss.backward()
        opt.step()
        return loss

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    net = (model or tf_impl.Model(config, 0, dtype)).net

    def inputs(batch):
        return [tf.constant(np.asarray(batch[k])) for k in _KEYS]

    variables = net.trainable_variables
    if config.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=config.lr)
    else:
        opt = keras.optimizers.Adam(learning_rate=config.lr, epsilon=config.adam_epsilon)
    opt.build(variables)
    mean = config.loss == "step_mean"

    @plain_function(model)
    def step(t):
        x, y, w, m = t
        with tf.GradientTape() as tape:
            out = net.run(x, m, with_taps=False)[1]
            loss = tf.reduce_sum(0.5 * w * tf.reduce_sum((out - y) ** 2, axis=-1))
            if mean:
                loss = loss / tf.reduce_sum(w)
        grads = tape.gradient(loss, variables)
        # a weight that does not reach the loss (recurrent=False) gets no update, as the harness's zero gradient
        opt.apply_gradients([(g, v) for g, v in zip(grads, variables, strict=True) if g is not None])
        return loss

    return PlainLoop(inputs, step, tf_numpy)
