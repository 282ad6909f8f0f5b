"""Plain reference loops for the benchmark: one iteration of Algorithm 1 (k discriminator updates, then the
generator's) with the impl's networks, losses and SGD with momentum, no Model wrapper (no learning-rate decay,
no losses read back per update).

`model`, when given, is a harness Model of the same framework whose networks the loop trains (its weights), so a
test can compare the loop's first losses with the harness step's; without one the loop builds its own. The
step returns the mean discriminator loss, as the harness step's "loss"."""

from __future__ import annotations

import numpy as np

from harness.bench_plain import PlainLoop, plain_function, tf_numpy


def plain_step(case_name: str, framework: str, config, batch, dtype: str, model=None):
    if case_name.endswith("-generate"):
        return (_torch_generate if framework == "torch" else _tf_generate)(config, batch, dtype, model)
    return (_torch if framework == "torch" else _tf)(config, batch, dtype, model)


def _n_masks(config) -> int:
    return len(config.d_units) + 1


def _torch_generate(config, batch, dtype, model):
    import torch

    from . import torch_impl

    G = (model or torch_impl.Model(config, 0, dtype)).G
    device = next(G.parameters()).device

    def inputs(batch):
        return torch.as_tensor(np.asarray(batch["z"]), dtype=getattr(torch, dtype), device=device)

    def generate(z):
        with torch.no_grad():
            return G(z)

    return PlainLoop(inputs, generate)


def _tf_generate(config, batch, dtype, model):
    import tensorflow as tf

    from . import tf_impl

    G = (model or tf_impl.Model(config, 0, dtype)).G
    generate = plain_function(model)(lambda z: G(z))
    return PlainLoop(lambda batch: tf.constant(np.asarray(batch["z"], dtype=dtype)), generate, tf_numpy)


def _torch(config, batch, dtype, model):
    import torch

    from . import torch_impl

    model = model or torch_impl.Model(config, 0, dtype)
    G, D, c = model.G, model.D, config
    device = next(G.parameters()).device  # the model's
    n = _n_masks(c)

    def inputs(batch):
        t = {k: torch.as_tensor(np.asarray(v), dtype=getattr(torch, dtype), device=device) for k, v in batch.items()}
        t["d_masks"] = [[t[f"d_mask{j}"][i] for j in range(n)] for i in range(c.k)]
        t["g_masks"] = [t[f"g_mask{j}"] for j in range(n)]
        return t

    opt_d = torch.optim.SGD(D.parameters(), lr=c.lr, momentum=c.momentum)
    opt_g = torch.optim.SGD(G.parameters(), lr=c.lr, momentum=c.momentum)
    g_params = list(G.parameters())

    def step(t):
        d_total = 0.0
        for i in range(c.k):
            opt_d.zero_grad(set_to_none=True)
            x = t["x"][i]
            with torch.no_grad():
                fake = G(t["z"][i])
            logits = D(torch.cat([x, fake]), t["d_masks"][i])
            m = x.shape[0]
            loss = torch_impl.softplus(-logits[:m]).mean() + torch_impl.softplus(logits[m:]).mean()
            loss.backward()
            opt_d.step()
            d_total = d_total + loss.detach()
        for _ in range(c.g_steps):
            opt_g.zero_grad(set_to_none=True)
            torch_impl.generator_loss(D(G(t["z_g"]), t["g_masks"]), c.generator_loss).backward(inputs=g_params)
            opt_g.step()
        return d_total / c.k

    return PlainLoop(inputs, step)


def _tf(config, batch, dtype, model):
    import tensorflow as tf
    from tensorflow import keras

    from . import tf_impl

    model = model or tf_impl.Model(config, 0, dtype)
    G, D, c = model.G, model.D, config
    n = _n_masks(c)

    def inputs(batch):
        return {k: tf.constant(np.asarray(v, dtype=dtype)) for k, v in batch.items()}

    d_vars, g_vars = D.trainable_variables, G.trainable_variables
    opt_d = keras.optimizers.SGD(learning_rate=c.lr, momentum=c.momentum)
    opt_g = keras.optimizers.SGD(learning_rate=c.lr, momentum=c.momentum)
    opt_d.build(d_vars)
    opt_g.build(g_vars)

    @plain_function(model)
    def step(t):
        d_losses = []
        for i in range(c.k):
            with tf.GradientTape() as tape:
                x = t["x"][i]
                fake = tf.stop_gradient(G(t["z"][i]))
                logits = D(tf.concat([x, fake], axis=0), [t[f"d_mask{j}"][i] for j in range(n)])
                m = tf.shape(x)[0]
                loss = tf.reduce_mean(tf_impl.softplus(-logits[:m])) + tf.reduce_mean(tf_impl.softplus(logits[m:]))
            opt_d.apply_gradients(zip(tape.gradient(loss, d_vars), d_vars, strict=True))
            d_losses.append(loss)
        for _ in range(c.g_steps):
            with tf.GradientTape() as tape:
                g_loss = tf_impl.generator_loss(D(G(t["z_g"]), [t[f"g_mask{j}"] for j in range(n)]), c.generator_loss)
            opt_g.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars, strict=True))
        return tf.reduce_mean(tf.stack(d_losses))

    return PlainLoop(inputs, step, tf_numpy)
