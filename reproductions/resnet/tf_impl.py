"""He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image Recognition", in TensorFlow/Keras.

The same networks and maths as torch_impl.py (see its docstring for the equations): residual block
y = relu(F(x) + x) (Eq. 1) with option A (identity, subsampled and zero-padded in channels) or option B
(1x1 stride-2 projection + BN, Eq. 2) shortcuts, the plain counterpart, the CIFAR 6n+2 family and
ImageNet ResNet-18/34.

Every default that differs from PyTorch is written out (docs/pitfalls.md):
- padding: every conv pads k // 2 on each side explicitly (tf.nn.conv2d's explicit padding); 'SAME' at
  stride 2 would put the extra pixel at the bottom/right only. The max-pool pads -inf.
- batch norm is written by hand (`BatchNorm` below) because keras.layers.BatchNormalization stores the
  BIASED batch variance in moving_variance, eps defaults to 1e-3 and momentum to 0.99 (weight of the OLD
  value). Here: eps 1e-5, moving = 0.9 moving + 0.1 batch (torch's 0.1 converted by
  harness.layout.bn_momentum_torch_to_keras), and the moving variance gets the unbiased batch variance.
- init: conv N(0, 2 / (k*k*c_out)) (not glorot_uniform), fc kernel and bias U(+-1/sqrt(fan_in)).
- SGD: keras.optimizers.SGD(momentum=0.9, nesterov=False) is m = mu m - lr g; w += m, the paper's
  (Caffe's) convention. Keras's `weight_decay` is decoupled (w -= lr wd w outside the momentum), so it is
  left None and the coupled L2 gradient g + wd w is added by hand to every trainable variable.
- float64 hyperparameters through harness.conventions (keras_floatx, keras_scalar).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar
from harness.layout import bn_momentum_torch_to_keras, unbiased_variance

from .paper import PARAM_RENAME

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read when the model is built.
BN_EPS = 1e-5
BN_MOMENTUM = bn_momentum_torch_to_keras(0.1)  # Keras convention: moving = m moving + (1 - m) batch
BN_UNBIASED_MOVING_VARIANCE = True
ACTIVATION = tf.nn.relu
PADDING = "explicit"  # "explicit": k // 2 on every side; "same" is the porting bug
OPTION_A_PAD = "after"


class BatchNorm(keras.layers.Layer):
    """y = gamma (x - mean) / sqrt(var + eps) + beta over N, H, W; train mode uses the batch's biased
    variance and updates the moving statistics (moving variance: the unbiased batch variance)."""

    def __init__(self, channels, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.eps, self.momentum = BN_EPS, BN_MOMENTUM
        self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros", name="moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight(shape=(channels,), initializer="ones", name="moving_variance",
                                               trainable=False)

    def call(self, x, training=False):
        if not training:
            return (x - self.moving_mean) / tf.sqrt(self.moving_variance + self.eps) * self.gamma + self.beta
        mean = tf.reduce_mean(x, axis=(0, 1, 2))
        var = tf.reduce_mean(tf.square(x - mean), axis=(0, 1, 2))  # biased: normalises the batch
        n = int(x.shape[0]) * int(x.shape[1]) * int(x.shape[2])
        stored = unbiased_variance(var, n) if BN_UNBIASED_MOVING_VARIANCE else var
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + mean * (1.0 - m))
        self.moving_variance.assign(self.moving_variance * m + stored * (1.0 - m))
        return (x - mean) / tf.sqrt(var + self.eps) * self.gamma + self.beta


def conv_init(k: int, cout: int):
    return keras.initializers.RandomNormal(mean=0.0, stddev=math.sqrt(2.0 / (k * k * cout)))


class Conv(keras.layers.Layer):
    """k x k conv without bias, padded k // 2 on every side explicitly (tf.nn.conv2d's explicit padding;
    one layer rather than ZeroPadding2D + Conv2D keeps the graph small, which is what tracing pays for)."""

    def __init__(self, cout, k, stride, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.cout, self.k, self.stride = cout, k, stride
        p = k // 2
        self.padding = "SAME" if PADDING == "same" else [[0, 0], [p, p], [p, p], [0, 0]]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(self.k, self.k, int(input_shape[-1]), self.cout),
                                      initializer=conv_init(self.k, self.cout), name="kernel")

    def call(self, x):
        return tf.nn.conv2d(x, self.kernel, strides=self.stride, padding=self.padding)


class ConvBN(keras.layers.Layer):
    def __init__(self, cout, k, stride, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.conv = Conv(cout, k, stride, dtype, "conv")
        self.bn = BatchNorm(cout, dtype, "bn")

    def call(self, x, training=False):
        return self.bn(self.conv(x), training=training)



def option_a_shortcut(x, cout, stride):
    if stride > 1:
        x = x[:, ::stride, ::stride, :]
    extra = cout - int(x.shape[-1])
    if extra:
        pad = [0, extra] if OPTION_A_PAD == "after" else [extra, 0]
        x = tf.pad(x, [[0, 0], [0, 0], [0, 0], pad])
    return x


class BasicBlock(keras.layers.Layer):
    def __init__(self, cin, cout, stride, residual, shortcut, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.conv1 = Conv(cout, 3, stride, dtype, "conv1")
        self.bn1 = BatchNorm(cout, dtype, "bn1")
        self.conv2 = Conv(cout, 3, 1, dtype, "conv2")
        self.bn2 = BatchNorm(cout, dtype, "bn2")
        self.residual, self.cout, self.stride = residual, cout, stride
        changes = stride != 1 or cin != cout
        self.shortcut = (ConvBN(cout, 1, stride, dtype, "shortcut")
                         if residual and shortcut == "B" and changes else None)

    def call(self, x, training=False, responses=None):
        r1 = self.bn1(self.conv1(x), training=training)
        out = self.bn2(self.conv2(ACTIVATION(r1)), training=training)
        if responses is not None:  # Fig. 7's layer responses: after BN, before the addition and the relu
            responses.items += [r1, out]
        if self.residual:
            if self.shortcut is not None:
                out = out + self.shortcut(x, training=training)
            else:
                out = out + option_a_shortcut(x, self.cout, self.stride)
        return ACTIVATION(out)


class ResNet(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype)
        self.imagenet = c.family == "imagenet"
        self.stem = ConvBN(c.stem_width, 7 if self.imagenet else 3, 2 if self.imagenet else 1, dtype, "stem")
        self.stages = []
        cin = c.stem_width
        for s, (width, n) in enumerate(zip(c.widths, c.stage_blocks, strict=True)):
            blocks = []
            for b in range(n):
                stride = 2 if (s > 0 and b == 0) else 1
                blocks.append(BasicBlock(cin, width, stride, c.residual, c.shortcut, dtype, f"stage{s + 1}_block{b}"))
                cin = width
            self.stages.append(blocks)
        bound = 1.0 / math.sqrt(cin)
        # Two initializer objects: a reused unseeded Keras 3 initializer draws the same values every time.
        self.fc = keras.layers.Dense(c.num_classes, use_bias=True,
                                     kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                                     bias_initializer=keras.initializers.RandomUniform(-bound, bound),
                                     dtype=dtype, name="fc")

    def call(self, x, training=False, responses=None):
        taps = {}
        x = taps["stem"] = ACTIVATION(self.stem(x, training=training))
        if self.imagenet:  # max-pool 3x3/2, padded 1 with -inf on every side
            x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-math.inf)
            x = taps["maxpool"] = tf.nn.max_pool2d(x, 3, 2, padding="VALID")
        for s, blocks in enumerate(self.stages):
            for b, block in enumerate(blocks):
                x = taps[f"stage{s + 1}/block{b}"] = block(x, training=training, responses=responses)
        pooled = taps["pool"] = tf.reduce_mean(x, axis=(1, 2))
        taps["output"] = self.fc(pooled)
        return taps


class Collector:
    def __init__(self):
        self.items = []


def cross_entropy(logits, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.dtype = dtype
        self.net = ResNet(config, dtype)
        self.net(np.zeros((2, config.image_size, config.image_size, config.in_channels), dtype))
        self.params = KerasParams(self.net, "resnet tf Model", rename=PARAM_RENAME)
        self._moving = self.params.variables(trainable=False)
        self.steps = 0
        self.lr = config.lr_at(0)
        with keras_floatx(dtype):  # the learning-rate variable in the model's dtype
            self.opt = keras.optimizers.SGD(learning_rate=self.lr, momentum=keras_scalar(config.momentum, dtype),
                                            nesterov=False, weight_decay=None)
        self._wd = tf.constant(config.weight_decay, dtype=dtype)
        self.opt.build(self.params.trainable())  # slots now, so the step is traced once
        self._step = self.compiled(self._train_step, autograph=False)
        self._logits = self.compiled(lambda x: self.net(x, training=False)["output"], reduce_retracing=True,
                                   autograph=False)

    # --- computation --------------------------------------------------------------------------------------

    def _inputs(self, batch):
        return tf.convert_to_tensor(batch["x"], dtype=self.dtype), tf.convert_to_tensor(batch["y"], dtype=tf.int64)

    def _keep(self):
        return [v.numpy().copy() for v in self._moving]

    def _restore(self, saved):
        for v, s in zip(self._moving, saved, strict=True):
            v.assign(s)

    def forward(self, batch, training=False):
        x, _ = self._inputs(batch)
        saved = self._keep()
        taps = {k: v.numpy() for k, v in self.net(x, training=training).items()}
        self._restore(saved)  # a train-mode forward changes no state
        return taps

    def predict(self, batch):
        """Eval-mode logits only, in the model's mode: the inference the benchmark times (forward returns every
        tap, eagerly)."""
        return self._logits(tf.convert_to_tensor(batch["x"], dtype=self.dtype)).numpy()

    def grads(self, batch):
        x, y = self._inputs(batch)
        saved = self._keep()
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            loss = cross_entropy(self.net(x, training=True)["output"], y)
        g = tape.gradient(loss, variables)
        self._restore(saved)
        return float(loss), self.params.name_grads(g)

    def _train_step(self, x, y):
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            logits = self.net(x, training=True)["output"]
            loss = cross_entropy(logits, y)
        grads = tape.gradient(loss, variables)
        grads = [g + self._wd * v for g, v in zip(grads, variables, strict=True)]  # coupled L2 (see docstring)
        self.opt.apply_gradients(zip(grads, variables, strict=True))
        error = tf.reduce_mean(tf.cast(tf.argmax(logits, axis=1) != y, tf.float64))
        return loss, error

    def train_step(self, batch):
        lr = self.config.lr_at(self.steps)
        if lr != self.lr:
            self.opt.learning_rate = lr  # a variable: assigned, no retracing
            self.lr = lr
        self.steps += 1
        loss, error = self._step(*self._inputs(batch))
        return {"loss": float(loss), "error": float(error)}

    def response_stds(self, batch) -> list[float]:
        """Eval mode: the std (over images, pixels and channels) of each 3x3 conv layer's response, after
        BN and before the addition / relu, in depth order (Fig. 7)."""
        x, _ = self._inputs(batch)
        responses = Collector()  # not a list: Keras copies list arguments on their way into call()
        self.net(x, training=False, responses=responses)
        return [float(tf.math.reduce_std(tf.cast(r, tf.float64))) for r in responses.items]

    def evaluate(self, batches):
        total, wrong, n = 0.0, 0.0, 0
        for batch in batches:
            x, y = self._inputs(batch)
            logits = self._logits(x)
            total += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)))
            wrong += float(tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) != y, tf.float64)))
            n += int(y.shape[0])
        return {"loss": total / n, "error": wrong / n}
