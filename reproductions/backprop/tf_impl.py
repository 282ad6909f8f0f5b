"""Rumelhart, Hinton & Williams 1986 in TensorFlow/Keras (see paper.py for the tasks and claims).

Units are logistic, y_j = 1 / (1 + exp(-x_j)) with x_j = sum_i y_i w_ji + b_j (Eqs. 1-2). The error is
E = 1/2 sum_c sum_j (y_jc - d_jc)^2, SUMMED over cases (Eq. 3), optionally with the family-trees margin
(no error when an on-unit is above 0.8 or an off-unit below 0.2). Weights change once per sweep by
Delta w(t) = -epsilon dE/dw + alpha Delta w(t-1) (Eq. 9), which is exactly keras.optimizers.SGD's
m = momentum m - lr g; w += m. Then every weight is decayed by `weight_decay` (0.2% for family trees).

Every default that differs from PyTorch is written out (docs/pitfalls.md): the init range (not
glorot_uniform, and biases not zero), SGD's nesterov, and float64 hyperparameters (harness.conventions:
Keras would otherwise round the learning rate and momentum through float32).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar
from harness.converted_batch import ConvertedBatch

from .paper import PARAM_RENAME

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read when the model is built.
LOGISTIC = tf.math.sigmoid
REDUCE_CASES = tf.reduce_sum  # Eq. 3: summed over cases and output units, not averaged


def decay_weights(variables, rate: float) -> None:
    """w <- (1 - rate) w for every weight and bias, after the update (p. 535: "decayed by 0.2%")."""
    if rate:
        for v in variables:
            v.assign(v * (1.0 - rate))


def _uniform(c):
    """A NEW initializer per variable: an unseeded Keras 3 initializer takes a fixed seed when it is built,
    so one instance shared by kernel and bias draws the same numbers twice (the bias would equal the
    kernel's first entries; docs/pitfalls-found.md)."""
    return keras.initializers.RandomUniform(-c.init_range, c.init_range)


def _dense(units, c, dtype, name):
    # weights AND biases U[-r, r] (not Keras's glorot_uniform kernel and zero bias)
    return keras.layers.Dense(units, activation=LOGISTIC, use_bias=True, kernel_initializer=_uniform(c),
                              bias_initializer=_uniform(c), dtype=dtype, name=name)


class SymmetryNet(keras.Model):
    """Fig. 1: 6 inputs -> n_hidden logistic units -> 1 logistic output (n_hidden=0: no hidden layer)."""

    def __init__(self, c, dtype):
        super().__init__(dtype=dtype)
        self.hidden = _dense(c.n_hidden, c, dtype, "hidden") if c.n_hidden else None
        self.output_layer = _dense(1, c, dtype, "output")

    def call(self, batch):
        x, taps = batch["x"], {}
        if self.hidden is not None:
            x = taps["hidden"] = self.hidden(x)
        taps["output"] = self.output_layer(x)
        return taps


class FamilyTreesNet(keras.Model):
    """Fig. 3: person (24) -> 6 and relation (12) -> 6 local encodings, both -> 12 central units ->
    6 units encoding person 2 -> 24 outputs, every unit logistic."""

    def __init__(self, c, dtype):
        super().__init__(dtype=dtype)
        self.person_encoding = _dense(c.n_encoding, c, dtype, "person_encoding")
        self.relation_encoding = _dense(c.n_encoding, c, dtype, "relation_encoding")
        self.central = _dense(c.n_central, c, dtype, "central")
        self.output_encoding = _dense(c.n_encoding, c, dtype, "output_encoding")
        self.output_layer = _dense(c.n_people, c, dtype, "output")

    def call(self, batch):
        taps = {"person_encoding": self.person_encoding(batch["person"]),
                "relation_encoding": self.relation_encoding(batch["relation"])}
        both = tf.concat([taps["person_encoding"], taps["relation_encoding"]], axis=1)
        taps["central"] = self.central(both)
        taps["output_encoding"] = self.output_encoding(taps["central"])
        taps["output"] = self.output_layer(taps["output_encoding"])
        return taps


def summed_squared_error(output, target, margin):
    """Eq. 3, with the family-trees margin (off, on): zero error where the unit is already close enough."""
    err2 = tf.square(output - target)
    if margin is not None:
        off, on = margin
        inside = tf.where(target > 0.5, output > on, output < off)
        err2 = tf.where(inside, tf.zeros_like(err2), err2)
    return 0.5 * REDUCE_CASES(err2)


def _fit(output, target):
    """The largest |o - d|, and the fraction of cases with every output within 0.5."""
    err = tf.abs(output - target)
    return tf.reduce_max(err), tf.reduce_mean(tf.cast(tf.reduce_all(err < 0.5, axis=1), tf.float64))


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.dtype = dtype
        if config.task == "symmetry":
            self.net = SymmetryNet(config, dtype)
            self.net({"x": np.zeros((1, config.n_inputs), dtype)})
        else:
            self.net = FamilyTreesNet(config, dtype)
            self.net({"person": np.zeros((1, config.n_people), dtype),
                      "relation": np.zeros((1, config.n_relations), dtype)})
        self.params = KerasParams(self.net, "backprop tf Model", rename=PARAM_RENAME)
        self._lr, self._momentum = config.phase(1)
        with keras_floatx(dtype):  # the learning-rate variable in the model's dtype
            self.opt = keras.optimizers.SGD(learning_rate=self._lr, momentum=keras_scalar(self._momentum, dtype),
                                            nesterov=False, weight_decay=None)
        self.opt.build(self.params.trainable())  # its variables exist before tracing: one trace, not two
        # Positional tensors with a fixed signature: no retracing, and far less per-call dispatch than a dict.
        self._keys = ("x", "target") if config.task == "symmetry" else ("person", "relation", "target")
        self._signature = [tf.TensorSpec([None, n], dtype) for n in self._widths(config)]
        self._step = self._compile()
        self.sweeps = 0
        self._train_tensors = ConvertedBatch(self._tensors)  # the same full batch every sweep: converted once

    @staticmethod
    def _widths(c):
        if c.task == "symmetry":
            return (c.n_inputs, 1)
        return (c.n_people, c.n_relations, c.n_people)

    def _compile(self):
        # a fixed signature: `compiled` gives the concrete function, called without per-call argument matching
        return self.compiled(lambda *tensors: self._train_step(dict(zip(self._keys, tensors, strict=True))),
                             input_signature=self._signature, autograph=True)

    # --- computation --------------------------------------------------------------------------------------

    def _tensors(self, batch):
        return {k: tf.convert_to_tensor(v, dtype=self.dtype) for k, v in batch.items()}

    def _loss(self, batch):
        output = self.net(batch)["output"]
        return summed_squared_error(output, batch["target"], self.config.margin), output

    def forward(self, batch, training=False):
        return {k: v.numpy() for k, v in self.net(self._tensors(batch)).items()}

    def grads(self, batch):
        batch = self._tensors(batch)
        with tf.GradientTape() as tape:
            loss, _ = self._loss(batch)
        return float(loss), self.params.name_grads(tape.gradient(loss, self.params.trainable()))

    def _train_step(self, batch):
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            loss, output = self._loss(batch)
        self.opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        decay_weights(variables, self.config.weight_decay)
        # one float64 tensor for the three, so train_step reads them back in one call (the cast is exact)
        return tf.stack([tf.cast(v, tf.float64) for v in (loss, *_fit(output, batch["target"]))])

    def _set_phase(self, lr: float, momentum: float) -> None:
        if lr != self._lr:
            self.opt.learning_rate = lr  # a variable: assigned, no retracing
            self._lr = lr
        if momentum != self._momentum:
            # Keras reads `momentum` as a Python number while tracing: retrace for the new value.
            self.opt.momentum = keras_scalar(momentum, self.dtype)
            self._momentum = momentum
            self._step = self._compile()

    def train_step(self, batch):
        """One sweep: the gradient of E over the whole batch, one Eq. 9 update, then the weight decay.
        The returned loss and fit are measured before the update."""
        self.sweeps += 1
        self._set_phase(*self.config.phase(self.sweeps))
        batch = self._train_tensors(batch)
        loss, max_err, accuracy = self._step(*(batch[k] for k in self._keys)).numpy().tolist()
        return {"loss": loss, "max_abs_error": max_err, "accuracy": accuracy}

    def evaluate(self, batches):
        losses, errs, correct, n = 0.0, 0.0, 0.0, 0
        for batch in batches:
            batch = self._tensors(batch)
            loss, output = self._loss(batch)
            max_err, accuracy = _fit(output, batch["target"])
            losses += float(loss)
            errs = max(errs, float(max_err))
            correct += float(accuracy) * int(output.shape[0])
            n += int(output.shape[0])
        return {"loss": losses, "max_abs_error": errs, "accuracy": correct / n}
