"""Krizhevsky, Sutskever & Hinton 2012, "ImageNet Classification with Deep Convolutional Neural Networks",
in TensorFlow/Keras (the same networks and maths as torch_impl.py; see its docstring for the equations).

Every default that differs from PyTorch is written out (docs/pitfalls.md):
- LRN (section 3.3) is written by hand (`LocalResponseNorm` below): tf.nn.local_response_normalization
  has no float64 kernel (it silently computes in float32). The paper's alpha is used as is (no division
  by n, unlike torch); the window is n = 5 channels centred on i (depth_radius 2), zero beyond the ends.
- grouped convs (`Conv` below): one kernel (kh, kw, in / 2, out) whose output channels [0, out / 2) see the
  first half of the input maps (torch's grouping, the canonical layout), run as the paper's two halves:
  input and kernel split in two, two tf.nn.conv2d, outputs concatenated. keras.layers.Conv2D(groups=2)
  computes the same but takes a fallback path on CPU that is ~100x slower (measured: 613 ms vs 7 ms).
- padding: explicit and symmetric (tf.nn.conv2d's explicit padding, never 'SAME'); max-pool 'valid'.
- flatten: NHWC (h, w, c), the canonical order of the fc kernel rows.
- dropout: the batch's masks (values 0 or 1 / (1 - p)), not keras.layers.Dropout's RNG.
- init: weights N(0, init_std), or N(0, init_gain / fan_in) with init_std None (not glorot_uniform), biases 1 or
  0 as the config says (not all zero).
- SGD: keras.optimizers.SGD(momentum=0.9, nesterov=False) is m = mu m - lr g; w += m, the paper's rule;
  its `weight_decay` is decoupled, so it is None and the coupled g + wd w is added by hand.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar

from .paper import PARAM_RENAME

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read when the model is built.
ACTIVATIONS = {"relu": tf.nn.relu, "tanh": tf.math.tanh}
PADDING = "explicit"  # "same" is the porting bug (asymmetric at stride > 1)
# With op determinism on (harness.numerics), XLA refuses the training step: "GPU MaxPool gradient ops do not yet have
# a deterministic XLA implementation" (UnimplementedError, on the CPU too; results/modes.md).
UNSUPPORTED_MODES = {"xla": "XLA has no deterministic MaxPool gradient: tf raises UnimplementedError with op "
                            "determinism on"}


class LocalResponseNorm(keras.layers.Layer):
    """b_i = a_i / (k + alpha sum_{j=i-n/2}^{i+n/2} a_j^2)^beta over channels (section 3.3)."""

    def __init__(self, n, k, alpha, beta, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.n, self.k, self.alpha, self.beta = n, k, alpha, beta

    def call(self, x):
        channels = int(x.shape[-1])
        half = self.n // 2
        sq = tf.pad(tf.square(x), [[0, 0], [0, 0], [0, 0], [half, (self.n - 1) // 2]])
        window = tf.add_n([sq[..., j:j + channels] for j in range(self.n)])
        return x / tf.pow(self.k + self.alpha * window, self.beta)


def weight_std(c, fan_in: int) -> float:
    """The config's N(0, init_std) (the paper: 0.01), or with init_std None sqrt(init_gain / fan_in)
    (gain 1: LeCun, 2: He et al. 2015)."""
    return c.init_std if c.init_std is not None else math.sqrt(c.init_gain / fan_in)


class Conv(keras.layers.Layer):
    """k x k conv with bias, `groups` groups, explicit symmetric padding `pad`."""

    def __init__(self, spec, c, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.spec, self.c = spec, c
        p = spec.pad
        self.padding = "SAME" if (PADDING == "same" and p > 0) else [[0, 0], [p, p], [p, p], [0, 0]]

    def build(self, input_shape):
        s = self.spec
        cin = int(input_shape[-1]) // s.groups
        std = weight_std(self.c, s.kernel * s.kernel * cin)
        self.kernel = self.add_weight(shape=(s.kernel, s.kernel, cin, s.filters),
                                      initializer=keras.initializers.RandomNormal(0.0, std), name="kernel")
        self.bias = self.add_weight(shape=(s.filters,), initializer=keras.initializers.Constant(
            1.0 if s.bias_one else 0.0), name="bias")

    def call(self, x):
        s = self.spec
        xs = tf.split(x, s.groups, axis=-1) if s.groups > 1 else [x]
        ks = tf.split(self.kernel, s.groups, axis=-1) if s.groups > 1 else [self.kernel]
        ys = [tf.nn.conv2d(xg, kg, strides=s.stride, padding=self.padding) for xg, kg in zip(xs, ks, strict=True)]
        return (tf.concat(ys, axis=-1) if s.groups > 1 else ys[0]) + self.bias


class AlexNet(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype)
        self.c = c
        self.act = ACTIVATIONS[c.activation]
        self.convs, self.lrns = {}, {}
        for i, s in enumerate(c.convs, start=1):
            self.convs[f"conv{i}"] = Conv(s, c, dtype, f"conv{i}")
            if s.lrn and c.use_lrn:
                self.lrns[f"lrn{i}"] = LocalResponseNorm(c.lrn_n, c.lrn_k, c.lrn_alpha, c.lrn_beta, dtype, f"lrn{i}")
        self.pool = keras.layers.MaxPooling2D(c.pool_size, strides=c.pool_stride, padding="valid", dtype=dtype)
        self.flatten = keras.layers.Flatten(data_format="channels_last", dtype=dtype)
        self.fcs = {}
        fin = c.flat_features
        for j, (name, width) in enumerate(zip(c.fc_names, (*c.fc, c.num_classes), strict=True)):
            hidden = j < len(c.fc)
            std = weight_std(c, fin)
            fin = width
            self.fcs[name] = keras.layers.Dense(
                width, use_bias=True, kernel_initializer=keras.initializers.RandomNormal(0.0, std),
                bias_initializer=keras.initializers.Constant(1.0 if (c.fc_bias_one and hidden) else 0.0),
                dtype=dtype, name=name)
        # Keras tracks layers assigned as attributes or in lists; the dicts above are for lookup only.
        self.layer_list = [*self.convs.values(), *self.lrns.values(), *self.fcs.values()]

    def call(self, x, masks=None):
        c, taps = self.c, {}
        for i, s in enumerate(c.convs, start=1):
            x = taps[f"conv{i}"] = self.act(self.convs[f"conv{i}"](x))
            if f"lrn{i}" in self.lrns:
                x = taps[f"lrn{i}"] = self.lrns[f"lrn{i}"](x)
            if s.pool:
                x = taps[f"pool{i}"] = self.pool(x)
        x = self.flatten(x)  # NHWC order: (h, w, c)
        names = c.fc_names
        for name in names[:-1]:
            x = self.act(self.fcs[name](x))
            if masks is not None and c.dropout > 0:
                x = x * masks[name]
            taps[name] = x
        taps["output"] = self.fcs[names[-1]](x)
        return taps


def cross_entropy(logits, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.dtype = dtype
        self.net = AlexNet(config, dtype)
        self.net(np.zeros((1, config.image_size, config.image_size, config.in_channels), dtype))
        self.params = KerasParams(self.net, "alexnet tf Model", rename=PARAM_RENAME)
        self.steps = 0
        self.lr = config.lr_at(0)
        variables = self.params.trainable()
        with keras_floatx(dtype):  # the learning-rate variable in the model's dtype
            self.opt = keras.optimizers.SGD(learning_rate=self.lr, momentum=keras_scalar(config.momentum, dtype),
                                            nesterov=False, weight_decay=None)
        self.opt.build(variables)
        self._wd = tf.constant(config.weight_decay, dtype=dtype)
        self._step = self.compiled(self._train_step, autograph=False)
        self._logits = self.compiled(lambda x: self.net(x)["output"], reduce_retracing=True, autograph=False)

    # --- computation --------------------------------------------------------------------------------------

    def _x(self, batch):
        return tf.convert_to_tensor(batch["x"], dtype=self.dtype)

    def _y(self, batch):
        return tf.convert_to_tensor(batch["y"], dtype=tf.int64)

    def _masks(self, batch):
        if self.config.dropout <= 0:
            return None
        return {n: tf.convert_to_tensor(batch[f"mask_{n}"], dtype=self.dtype) for n in self.config.fc_names[:-1]}

    def forward(self, batch, training=False):
        return {k: v.numpy() for k, v in self.net(self._x(batch), self._masks(batch) if training else None).items()}

    def predict(self, batch):
        """Logits only, no dropout, in the model's mode: the inference the benchmark times (forward returns every
        tap, eagerly)."""
        return self._logits(self._x(batch)).numpy()

    def grads(self, batch):
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            loss = cross_entropy(self.net(self._x(batch), self._masks(batch))["output"], self._y(batch))
        g = tape.gradient(loss, variables)
        return float(loss), self.params.name_grads(g)

    def _train_step(self, x, y, masks):
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            logits = self.net(x, masks)["output"]
            loss = cross_entropy(logits, y)
        grads = tape.gradient(loss, variables)
        grads = [g + self._wd * v for g, v in zip(grads, variables, strict=True)]  # coupled weight decay
        self.opt.apply_gradients(zip(grads, variables, strict=True))
        return loss, tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) != y, tf.float64))

    def train_step(self, batch):
        lr = self.config.lr_at(self.steps)
        if lr != self.lr:
            self.opt.learning_rate = lr  # a variable: assigned, no retracing
            self.lr = lr
        self.steps += 1
        loss, error = self._step(self._x(batch), self._y(batch), self._masks(batch))
        return {"loss": float(loss), "error": float(error)}

    def evaluate(self, batches):
        total, wrong, n = 0.0, 0.0, 0
        for batch in batches:
            y = self._y(batch)
            logits = self._logits(self._x(batch))
            total += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)))
            wrong += float(tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) != y, tf.float64)))
            n += int(y.shape[0])
        return {"loss": total / n, "error": wrong / n}
