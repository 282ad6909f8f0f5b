"""Plain reference loops for the benchmark: the impl's denoising network and diffusion process (Algorithm 1's
training step, Algorithm 2's sampling chain), Adam and global-norm clipping, no Model wrapper
(no warmup schedule, no loss read back per step in torch).

`model`, when given, is a harness Model of the same framework whose network the loop trains (its weights), so a
test can compare the loop's first loss with the harness step's; without one the loop builds its own."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    sample = "-sample" in case_name
    if framework == "torch":
        return (_torch_sample if sample else _torch_train)(config, batch, dtype, model)
    return (_tf_sample if sample else _tf_train)(config, batch, dtype, model)


def _image(config) -> bool:
    return config.arch == "unet"


def _torch_tensor(config, a, dtype, device):
    import torch

    a = np.asarray(a)
    if _image(config):
        a = np.ascontiguousarray(np.moveaxis(a, -1, -3))  # NHWC (or T x NHWC) -> NCHW
    return torch.from_numpy(a).to(device, getattr(torch, dtype))


def _torch_train(config, batch, dtype, model):
    import torch

    from . import torch_impl

    model = model or torch_impl.Model(config, 0, dtype)
    net, diffusion, c = model.net, model.diffusion, config
    device = next(net.parameters()).device  # the model's

    def inputs(batch):
        b = {k: _torch_tensor(c, batch[k], dtype, device) for k in ("x0", "noise")}
        b["t"] = torch.as_tensor(np.asarray(batch["t"]), dtype=torch.int64, device=device)
        b["masks"] = {k: _torch_tensor(c, v, dtype, device) for k, v in batch.items() if k.startswith("mask/")}
        return b

    opt = torch.optim.Adam(net.parameters(), lr=c.lr, eps=c.adam_eps)
    params = list(net.parameters())

    def step(b):
        opt.zero_grad(set_to_none=True)
        xt = diffusion.q_sample(b["x0"], b["t"], b["noise"])
        loss = diffusion.loss(net.run(xt, b["t"], b["masks"], None), b["x0"], xt, b["t"], b["noise"])
        loss.backward()
        if c.grad_clip:
            torch_impl.clip_global_norm([p.grad for p in params], c.grad_clip)
        opt.step()
        return loss

    return PlainLoop(inputs, step)


def _torch_sample(config, batch, dtype, model):
    import torch

    from . import torch_impl

    model = model or torch_impl.Model(config, 0, dtype)
    net, diffusion = model.net, model.diffusion
    device = next(net.parameters()).device
    n = len(batch["x_T"])
    ts = [torch.full((n,), i, dtype=torch.int64, device=device) for i in range(config.T)]  # the loop's own

    def inputs(batch):
        return _torch_tensor(config, batch["x_T"], dtype, device), _torch_tensor(config, batch["z"], dtype, device)

    def sample(b):
        x, z = b
        with torch.no_grad():
            for i in reversed(range(config.T)):
                x = diffusion.p_step(net.run(x, ts[i]), x, ts[i], z[i])
            return x

    return PlainLoop(inputs, sample)


def _tf_train(config, batch, dtype, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    model = model or tf_impl.Model(config, 0, dtype)
    net, diffusion, c = model.net, model.diffusion, config

    def inputs(batch):
        return {k: tf.constant(np.asarray(v), dtype=tf.int64 if k == "t" else dtype) for k, v in batch.items()}

    variables = net.trainable_variables
    opt = keras.optimizers.Adam(learning_rate=c.lr, epsilon=c.adam_eps,
                                **({"global_clipnorm": c.grad_clip} if c.grad_clip else {}))
    opt.build(variables)

    @plain_function(model)
    def step(b):
        masks = {k: v for k, v in b.items() if k.startswith("mask/")}
        with tf.GradientTape() as tape:
            xt = diffusion.q_sample(b["x0"], b["t"], b["noise"])
            loss = diffusion.loss(net.run(xt, b["t"], masks, None), b["x0"], xt, b["t"], b["noise"])
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return PlainLoop(inputs, step, tf_numpy)


def _tf_sample(config, batch, dtype, model):
    import tensorflow as tf

    from . import tf_impl

    model = model or tf_impl.Model(config, 0, dtype)
    net, diffusion = model.net, model.diffusion

    def inputs(batch):
        return tf.constant(np.asarray(batch["x_T"], dtype=dtype)), tf.constant(np.asarray(batch["z"], dtype=dtype))

    @plain_function(model)
    def sample(b):
        x_T, z = b

        def body(i, x):
            t = tf.fill([tf.shape(x)[0]], i)
            return i - 1, diffusion.p_step(net.run(x, t), x, t, tf.gather(z, i))

        return tf.while_loop(lambda i, x: i >= 0, body, (tf.constant(config.T - 1, tf.int64), x_T))[1]

    return PlainLoop(inputs, sample, tf_numpy)
