"""Goodfellow et al. 2014, "Generative Adversarial Nets", in TensorFlow/Keras (see paper.py for the setup).

Generator: h_l = ReLU(h_{l-1} W_l + b_l), x = sigmoid(h W_y + b_y) (or linear for 1-D toys).
Discriminator (maxout, Goodfellow et al. 2013): the input of every layer is multiplied by the batch's
inverted-dropout mask (training only), then h_l = max_p (h_{l-1} W_l + b_l)[:, unit, p] with the pieces of a
unit in consecutive columns (pylearn2's Maxout), and D(x) = sigmoid(h W_y + b_y).
Algorithm 1: k steps on the discriminator loss
    L_D = -(1/m) sum log D(x) - (1/m) sum log(1 - D(G(z)))  =  mean softplus(-l(x)) + mean softplus(l(G(z)))
(l: D's logit), then one generator step on
    non-saturating: L_G = -(1/m) sum log D(G(z)) = mean softplus(-l(G(z)))      (Sec. 3)
    saturating:     L_G =  (1/m) sum log(1 - D(G(z))) = -mean softplus(l(G(z)))  (Eq. 1)

Defaults written out (docs/pitfalls.md): weights U(-irange, irange) with a NEW initializer per variable
and zero biases (not glorot_uniform); softplus written exactly as max(l, 0) + log1p(exp(-|l|)); SGD with
nesterov off, the lr decayed per update by a keras ExponentialDecay schedule (lr * (1/1.000004)^t, t = the
optimizer's iterations), Keras's momentum rule m = mu m - lr g; p += m being pylearn2's. Optimizers are
built inside keras_floatx and their hyperparameters passed through keras_scalar (float64 runs).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar

from .paper import PARAM_RENAME, mean_loss


def softplus(x):
    """log(1 + exp(x)), exact everywhere."""
    return tf.maximum(x, tf.zeros_like(x)) + tf.math.log1p(tf.exp(-tf.abs(x)))


def maxout(h, units: int, pieces: int):
    """(B, units * pieces) -> (B, units): the max over each unit's `pieces` consecutive columns."""
    return tf.reduce_max(tf.reshape(h, [-1, units, pieces]), axis=2)


def generator_loss(logit_fake, kind: str):
    if kind == "non-saturating":
        return tf.reduce_mean(softplus(-logit_fake))
    if kind == "saturating":
        return -tf.reduce_mean(softplus(logit_fake))
    raise ValueError(f"unknown generator loss {kind!r}")


def _dense(units, irange, dtype, name):
    return keras.layers.Dense(units, activation=None, use_bias=True, dtype=dtype, name=name,
                              kernel_initializer=keras.initializers.RandomUniform(-irange, irange),
                              bias_initializer=keras.initializers.Zeros())


class Generator(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="generator")
        self.hidden = [_dense(w, c.g_irange, dtype, f"h{j}") for j, w in enumerate(c.g_hidden)]
        self.y = _dense(c.x_dim, c.g_irange, dtype, "y")
        self.output_kind = c.g_output

    def call(self, z):
        return self.run(z)

    def run(self, z, taps=None):
        """G(z); fills `taps` when given (a plain method: Keras's __call__ would copy the dict)."""
        h = z
        for j, layer in enumerate(self.hidden):
            h = tf.nn.relu(layer(h))
            if taps is not None:
                taps[f"G/h{j}"] = h
        x = self.y(h)
        return tf.math.sigmoid(x) if self.output_kind == "sigmoid" else x


class Discriminator(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="discriminator")
        self.units, self.pieces = tuple(c.d_units), c.d_pieces
        self.hidden = [_dense(w * c.d_pieces, c.d_irange, dtype, f"h{j}") for j, w in enumerate(c.d_units)]
        self.y = _dense(1, c.d_irange, dtype, "y")

    def call(self, x, masks=None):
        return self.run(x, masks)

    def run(self, x, masks=None, taps=None):
        """The logit l(x); `masks` (one per layer input) applied when given (training); fills `taps`."""
        h = x
        for j, layer in enumerate(self.hidden):
            if masks is not None:
                h = h * masks[j]
            h = maxout(layer(h), self.units[j], self.pieces)
            if taps is not None:
                taps[f"D/h{j}"] = h
        if masks is not None:
            h = h * masks[-1]
        return self.y(h)


def _sgd(c, dtype):
    if c.lr_decay == 1.0:
        lr = c.lr
    else:
        lr = keras.optimizers.schedules.ExponentialDecay(
            initial_learning_rate=keras_scalar(c.lr, dtype), decay_steps=1,
            decay_rate=keras_scalar(1.0 / c.lr_decay, dtype), staircase=False)
    with keras_floatx(dtype):
        return keras.optimizers.SGD(learning_rate=lr, momentum=keras_scalar(c.momentum, dtype), nesterov=False,
                                    weight_decay=None)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = c = config
        self.dtype = dtype
        self.G = Generator(c, dtype)
        self.D = Discriminator(c, dtype)
        self.G(np.zeros((1, c.z_dim), dtype))
        self.D(np.zeros((1, c.x_dim), dtype))
        self.params = KerasParams({"generator": self.G, "discriminator": self.D}, "gan tf Model",
                                  rename=PARAM_RENAME)
        self._g_vars, self._d_vars = self.params.trainable("generator/"), self.params.trainable("discriminator/")
        self.opt_d, self.opt_g = _sgd(c, dtype), _sgd(c, dtype)
        self.opt_d.build(self._d_vars)
        self.opt_g.build(self._g_vars)
        self._n_masks = len(c.d_units) + 1
        self._keys = ("x", "z", "z_g", *(f"d_mask{j}" for j in range(self._n_masks)),
                      *(f"g_mask{j}" for j in range(self._n_masks)))
        self._step = self.compiled_batch(self._train_step)  # nine small arrays a step: one conversion
        self._generate = self.compiled(lambda z: self.G(z), reduce_retracing=True, autograph=False)

    # --- computation --------------------------------------------------------------------------------------

    def _t(self, a):
        if isinstance(a, tf.Tensor):
            return tf.convert_to_tensor(a, dtype=self.dtype)
        # tf.constant: half of convert_to_tensor's cost per array
        return tf.constant(np.asarray(a), dtype=self.dtype)

    def _masks(self, batch, prefix, index=None):
        return [batch[f"{prefix}{j}"] if index is None else batch[f"{prefix}{j}"][index]
                for j in range(self._n_masks)]

    def _d_loss(self, batch, i):
        x = batch["x"][i]
        fake = tf.stop_gradient(self.G(batch["z"][i]))
        logits = self.D(tf.concat([x, fake], axis=0), self._masks(batch, "d_mask", i))
        m = tf.shape(x)[0]
        return tf.reduce_mean(softplus(-logits[:m])) + tf.reduce_mean(softplus(logits[m:]))

    def _g_loss(self, batch):
        logit = self.D(self.G(batch["z_g"]), self._masks(batch, "g_mask"))
        return generator_loss(logit, self.config.generator_loss)

    def _tensors(self, batch):
        return {k: self._t(batch[k]) for k in self._keys}

    def forward(self, batch, training=False):
        """Taps of G on the first D step's z, then of D on [x; G(z)] (m real rows, then m generated)."""
        b = self._tensors(batch)
        taps = {}
        fake = self.G.run(b["z"][0], taps)
        taps["G/output"] = fake
        masks = self._masks(b, "d_mask", 0) if training else None
        logit = self.D.run(tf.concat([b["x"][0], fake], axis=0), masks, taps)
        taps["D/logit"] = logit
        taps["output"] = tf.math.sigmoid(logit)
        return {k: v.numpy() for k, v in taps.items()}

    def grads(self, batch):
        """The first D step's loss, with dL_D/d(D's parameters) and dL_G/d(G's parameters), both at the
        current parameters (Algorithm 1 would take the G step after the D steps)."""
        b = self._tensors(batch)
        with tf.GradientTape() as tape:
            d_loss = self._d_loss(b, 0)
        gd = tape.gradient(d_loss, self._d_vars)
        with tf.GradientTape() as tape:
            g_loss = self._g_loss(b)
        gg = tape.gradient(g_loss, self._g_vars)
        by_var = {id(v): g for v, g in zip(self._d_vars + self._g_vars, gd + gg, strict=True)}
        return float(d_loss), self.params.name_grads([by_var[id(v)] for v in self.params.trainable()])

    def _train_step(self, b):
        c = self.config
        d_losses = []
        for i in range(c.k):
            with tf.GradientTape() as tape:
                loss = self._d_loss(b, i)
            self.opt_d.apply_gradients(zip(tape.gradient(loss, self._d_vars), self._d_vars, strict=True))
            d_losses.append(loss)
        g_losses = []
        for _ in range(c.g_steps):
            with tf.GradientTape() as tape:
                loss = self._g_loss(b)
            self.opt_g.apply_gradients(zip(tape.gradient(loss, self._g_vars), self._g_vars, strict=True))
            g_losses.append(loss)
        return tf.stack(d_losses), tf.stack(g_losses) if g_losses else tf.zeros([0], self.dtype)

    def train_step(self, batch):
        """One iteration of Algorithm 1: k D updates, then g_steps G updates (the same z_g)."""
        d_losses, g_losses = self._step({k: np.asarray(batch[k], self.dtype) for k in self._keys})
        out = {"loss": mean_loss(d_losses.numpy().tolist())}
        if self.config.g_steps:
            out["g_loss"] = float(g_losses.numpy()[-1])
        return out

    def generate(self, batch):
        return self._generate(self._t(batch["z"])).numpy()

    def discriminate(self, batch):
        return tf.math.sigmoid(self.D(self._t(batch["x"]))).numpy()

    def evaluate(self, batches):
        losses, g = [], []
        for batch in batches:
            b = self._tensors(batch)
            losses.append(float(self._d_loss(b, 0)))
            g.append(float(self._g_loss(b)))
        return {"loss": float(np.mean(losses)), "g_loss": float(np.mean(g))}
