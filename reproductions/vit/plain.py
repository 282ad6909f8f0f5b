"""Plain reference loops for the benchmark: the impl's ViT (or its ResNet baseline), cross-entropy and AdamW,
no Model wrapper (no lr schedule, no loss read back per step in torch). torch's ViT still holds its key bias at
zero (the network's own rule, not the harness's). The interface (and `model=`) is harness.bench_plain's."""

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
    from .configs import learning_rate

    net = (model or torch_impl.Model(config, 0, dtype)).net
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        t = {}
        for k, v in batch.items():
            if not train and k != "x":  # inference reads the images alone, as the harness's predict does
                continue
            v = np.asarray(v)
            if k == "y":
                t[k] = torch.from_numpy(v.astype(np.int64)).to(device)
            else:
                t[k] = torch.from_numpy(np.ascontiguousarray(v.transpose(0, 3, 1, 2)) if k == "x" else v).to(
                    device, getattr(torch, dtype))
        return t

    if not train:

        def predict(x):
            with torch.no_grad():
                return net(x)["output"]

        return PlainLoop(inputs, predict)
    opt = torch.optim.AdamW(net.parameters(), lr=learning_rate(config, 1), betas=(config.beta1, config.beta2),
                            eps=config.adam_eps, weight_decay=config.weight_decay)
    attentions = [block.attn for block in net.blocks] if config.arch == "vit" else []

    def step(t):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(t, training=True)["output"], t["y"])
        loss.backward()
        for attn in attentions:
            attn._zero_key_bias_grad()
        opt.step()
        return loss

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, train, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl
    from .configs import learning_rate

    net = (model or tf_impl.Model(config, 0, dtype)).net

    def inputs(batch):
        return {k: tf.constant(np.asarray(v), dtype=tf.int64 if k == "y" else dtype) for k, v in batch.items()
                if train or k == "x"}

    if not train:
        return PlainLoop(inputs, plain_function(model)(lambda x: net(x, training=False)["output"]), tf_numpy)
    variables = net.trainable_variables
    opt = keras.optimizers.AdamW(learning_rate=learning_rate(config, 1), weight_decay=config.weight_decay,
                                 beta_1=config.beta1, beta_2=config.beta2,
                                 epsilon=tf_impl.ADAM_EPSILON_HAT(config.adam_eps, config.beta2, 1))
    opt.build(variables)

    @plain_function(model)
    def step(t):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=t["y"], logits=net(t, training=True)["output"]))
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return PlainLoop(inputs, step, tf_numpy)
