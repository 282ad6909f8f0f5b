"""Toy MLP in TensorFlow/Keras (see tests/toy/paper.py)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.conventions import keras_floatx, keras_scalar
from harness.params import check_params

LN_EPS = 1e-5
ACTIVATION = tf.math.tanh


class Net(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype)
        init = keras.initializers.RandomUniform(-0.5, 0.5)
        self.dense1 = keras.layers.Dense(c.n_hidden, kernel_initializer=init, bias_initializer=init, dtype=dtype)
        self.norm = keras.layers.LayerNormalization(epsilon=LN_EPS, dtype=dtype)
        self.dense2 = keras.layers.Dense(c.n_out, kernel_initializer=init, bias_initializer=init, dtype=dtype)
        self.shift = self.add_weight(shape=(1,), initializer=init, name="shift") if c.pre_norm_shift else None

    def call(self, x):
        taps = {"dense1": self.dense1(x) if self.shift is None else self.dense1(x) + self.shift}
        self.norm.epsilon = LN_EPS  # read at call time, so a test can change it
        taps["norm"] = self.norm(taps["dense1"])
        taps["act"] = ACTIVATION(taps["norm"])
        taps["output"] = self.dense2(taps["act"])
        return taps


class Model:
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.net = Net(config, dtype)
        self.net(np.zeros((1, config.n_in), dtype))
        with keras_floatx(dtype):
            if config.optimizer == "sgd":
                self.opt = keras.optimizers.SGD(learning_rate=config.lr,
                                                momentum=keras_scalar(config.momentum, dtype), nesterov=False)
            else:
                self.opt = keras.optimizers.Adam(
                    learning_rate=config.lr, beta_1=keras_scalar(0.9, dtype), beta_2=keras_scalar(0.999, dtype),
                    epsilon=keras_scalar(config.adam_epsilon, dtype), amsgrad=False)
        self._vars = {"dense1/kernel": self.net.dense1.kernel, "dense1/bias": self.net.dense1.bias,
                      "norm/gamma": self.net.norm.gamma, "norm/beta": self.net.norm.beta,
                      "dense2/kernel": self.net.dense2.kernel, "dense2/bias": self.net.dense2.bias}
        if config.pre_norm_shift:
            self._vars["shift"] = self.net.shift
        self._step = tf.function(self._train_step)

    def get_params(self):
        return {k: v.numpy().copy() for k, v in self._vars.items()}

    def set_params(self, params):
        check_params({k: tuple(v.shape) for k, v in self._vars.items()}, params, "toy tf Model")
        for k, v in self._vars.items():
            v.assign(params[k])

    def _loss(self, batch):
        taps = self.net(batch["x"])
        return 0.5 * tf.reduce_mean(tf.reduce_sum((taps["output"] - batch["y"]) ** 2, axis=1))

    def forward(self, batch, training=False):
        return {k: v.numpy() for k, v in self.net(batch["x"]).items()}

    def grads(self, batch):
        with tf.GradientTape() as tape:
            loss = self._loss(batch)
        g = tape.gradient(loss, list(self._vars.values()))
        return float(loss), {k: t.numpy() for k, t in zip(self._vars, g, strict=True)}

    def _train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = self._loss({"x": x, "y": y})
        variables = list(self._vars.values())
        self.opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    def train_step(self, batch):
        return {"loss": float(self._step(batch["x"], batch["y"]))}

    def evaluate(self, batches):
        return {"loss": float(np.mean([float(self._loss(b)) for b in batches]))}
