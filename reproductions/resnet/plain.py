"""Plain reference loops for the benchmark: the impls' ResNet classes and optimizers, tensors built once,
no Model wrapper (no numpy conversion per call, no lr schedule, no loss/error read back).
The interface (and `model=`) is harness.bench_plain's."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import plain_function


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
    device = next(net.parameters()).device  # the model's: the tensors are put there once
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(batch["x"]).transpose(0, 3, 1, 2))).to(device,
                                                                                                getattr(torch, dtype))
    y = torch.as_tensor(np.asarray(batch["y"]), dtype=torch.int64, device=device)
    if not train:
        net.eval()

        def forward():
            with torch.no_grad():
                net(x)

        return forward
    opt = torch.optim.SGD(net.parameters(), lr=config.lr_at(0), momentum=config.momentum,
                          weight_decay=config.weight_decay)
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x)["output"], y)
        loss.backward()
        opt.step()
        return loss

    return step


def _tf(config, batch, dtype, train, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    x = tf.constant(np.asarray(batch["x"], dtype=dtype))
    y = tf.constant(np.asarray(batch["y"]), dtype=tf.int64)
    if model is not None:
        net = model.net
    else:
        net = tf_impl.ResNet(config, dtype)
        net(x[:2])
    if not train:
        forward = plain_function(model)(lambda: net(x, training=False)["output"])
        return lambda: forward().numpy()
    opt = keras.optimizers.SGD(learning_rate=config.lr_at(0), momentum=config.momentum)
    variables = net.trainable_variables
    opt.build(variables)
    wd = tf.constant(config.weight_decay, dtype=dtype)

    @plain_function(model)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, net(x, training=True)["output"]))
        grads = tape.gradient(loss, variables)
        opt.apply_gradients(zip([g + wd * v for g, v in zip(grads, variables, strict=True)], variables, strict=True))
        return loss

    return lambda: step().numpy()  # .numpy(): wait for the step, as the harness's float(loss) does
