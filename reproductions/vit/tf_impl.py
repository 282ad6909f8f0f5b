"""Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words" (ViT), in TensorFlow/Keras; and the small
pre-activation GroupNorm ResNet it is compared with (see paper.py for the claims, configs.py for the layout).

ViT (Sec. 3.1), for an image x split into N = HW / P^2 patches x_p^1..x_p^N of P x P x C pixels:
  z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos                      (Eq. 1)
  z'_l = MSA(LN(z_{l-1})) + z_{l-1}                                     (Eq. 2)
  z_l = MLP(LN(z'_l)) + z'_l,  MLP = dense(GELU(dense(.)))              (Eq. 3)
  y = LN(z_L^0)                                                         (Eq. 4)
then the head: pre-training MLP head tanh(y W_r + b_r) W_h + b_h (Sec. 3.1), or a linear head.
MSA (App. A, Eqs. 5-8): per head h, q, k, v = z U_q, z U_k, z U_v; A = softmax(q k^T / sqrt(D_h)); SA = A v;
the heads concatenated and projected by U_msa. No attention mask, so the mask-fill pitfall does not arise.
Dropout after the embedding, the attention projection, the GELU and the second MLP dense, with the masks
that come in the batch ("mask/...": 0 or 1 / (1 - rate)), drawn by the experiment with NumPy.

Defaults written out (docs/pitfalls.md): LayerNorm epsilon 1e-6 (the paper's flax code; Keras's
LayerNormalization default is 1e-3), exact erf GELU (tf.nn.gelu(approximate=False); keras.ops.gelu defaults
to the tanh approximation), softmax over the key axis, attention scale applied to q, patch flatten order
(i, j, c) matching the (P, P, C, D) kernel, the initialisers of the paper's code, and Adam:
keras.optimizers.AdamW with beta_1 0.9, beta_2 0.999, decoupled weight decay p -= lr * wd * p on every
variable, amsgrad off, hyperparameters through harness.conventions.keras_scalar and the optimizer built
inside keras_floatx (float64 runs). Keras adds epsilon to sqrt(v) BEFORE bias correction ("epsilon hat");
the paper's code (and torch) add 1e-8 after it, so Keras's epsilon is a variable set before each step to
eps * sqrt(1 - beta_2^t) (harness.conventions.keras_adam_eps_matching_torch).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams, Layout
from harness.conventions import keras_adam_eps_matching_torch, keras_floatx, keras_scalar

from .configs import learning_rate, param_rename, param_shapes, resnet_blocks

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
LN_EPS = 1e-6  # ViT LayerNorm epsilon (flax default, the paper's code)
GN_EPS = 1e-5  # ResNet GroupNorm epsilon (Keras GroupNormalization's default would be 1e-3)
GELU_APPROXIMATE = False  # exact erf GELU
PATCH_AXES = (0, 1, 3, 2, 4, 5)  # (b, gh, i, gw, j, c) -> (b, gh, gw, i, j, c): patches row-major, (i, j, c)
ADAM_EPSILON_HAT = keras_adam_eps_matching_torch  # the paper's epsilon, in Keras's convention per step

INIT = {
    "lecun_normal": lambda: keras.initializers.LecunNormal(),  # truncated normal at 2 std, var 1 / fan_in
    "he_normal": lambda: keras.initializers.HeNormal(),  # truncated normal at 2 std, var 2 / fan_in
    "xavier": lambda: keras.initializers.GlorotUniform(),
    "pos": lambda: keras.initializers.RandomNormal(mean=0.0, stddev=0.02),
    "mlp_bias": lambda: keras.initializers.RandomNormal(mean=0.0, stddev=1e-6),
    "zeros": lambda: keras.initializers.Zeros(),
    "ones": lambda: keras.initializers.Ones(),
}


def dropout(x, batch, key, training):
    """Inverted dropout with the batch's mask (values 0 or 1 / (1 - rate)); identity in eval mode."""
    mask = batch.get("mask/" + key)
    if not training or mask is None:
        return x
    return x * mask


class LayerNorm(keras.layers.Layer):
    """(x - mean) / sqrt(var + LN_EPS) * gamma + beta over the last axis; biased variance."""

    def __init__(self, dim, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.gamma = self.add_weight(shape=(dim,), initializer=INIT["ones"](), name="gamma", dtype=dtype)
        self.beta = self.add_weight(shape=(dim,), initializer=INIT["zeros"](), name="beta", dtype=dtype)

    def call(self, x):
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + LN_EPS) * self.gamma + self.beta


def gelu(x):
    """GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt(2))), exact (GELU_APPROXIMATE False). Written out: in float64
    tf.nn.gelu(approximate=False) is off by up to 5e-9 on this TensorFlow (2.21, CPU), a float32-grade error
    that the float64 agreement check catches; tf.math.erf is exact to the last bit."""
    if GELU_APPROXIMATE:
        return tf.nn.gelu(x, approximate=True)  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    return 0.5 * x * (1.0 + tf.math.erf(x * 0.7071067811865476))


def _dense(units, in_dim, dtype, name, kernel="xavier", bias="zeros", use_bias=True):
    layer = keras.layers.Dense(units, activation=None, use_bias=use_bias, kernel_initializer=INIT[kernel](),
                               bias_initializer=INIT[bias](), dtype=dtype, name=name)
    layer.build((None, in_dim))
    return layer


# --- ViT --------------------------------------------------------------------------------------------------


class PatchEmbedding(keras.layers.Layer):
    """x_p E + b: non-overlapping P x P patches, flattened (i, j, c), times the (P, P, C, D) kernel."""

    def __init__(self, c, dtype, name="patch_embed"):
        super().__init__(dtype=dtype, name=name)
        self.patch = c.patch
        self.kernel = self.add_weight(shape=(c.patch, c.patch, c.channels, c.dim), initializer=INIT["lecun_normal"](),
                                      name="kernel", dtype=dtype)
        self.bias = self.add_weight(shape=(c.dim,), initializer=INIT["zeros"](), name="bias", dtype=dtype)

    def call(self, x):  # x: NHWC
        _, h, w, ch = x.shape
        p = self.patch
        b = tf.shape(x)[0]
        patches = tf.transpose(tf.reshape(x, (b, h // p, p, w // p, p, ch)), PATCH_AXES)
        patches = tf.reshape(patches, (b, (h // p) * (w // p), p * p * ch))
        return tf.matmul(patches, tf.reshape(self.kernel, (p * p * ch, -1))) + self.bias


class Attention(keras.layers.Layer):
    """Multi-head self-attention written out (App. A), or keras.layers.MultiHeadAttention (builtin=True)."""

    def __init__(self, c, dtype, builtin, name="attn"):
        super().__init__(dtype=dtype, name=name)
        self.heads, self.dim, self.builtin = c.heads, c.dim, builtin
        if builtin:
            self.mha = keras.layers.MultiHeadAttention(num_heads=c.heads, key_dim=c.head_dim, value_dim=c.head_dim,
                                                       dropout=0.0, use_bias=True, output_shape=None,
                                                       kernel_initializer=INIT["xavier"](),
                                                       bias_initializer=INIT["zeros"](), dtype=dtype, name="mha")
            # Keras scales the query by ops.cast(1 / sqrt(key_dim), dtype), and a Python float goes through
            # float32 on the way: in float64 the attention logits would carry a 1e-8 relative error (the
            # float64 agreement check caught it). A float64 NumPy scalar casts exactly (harness.conventions).
            self.mha._inverse_sqrt_key_dim = keras_scalar(1.0 / np.sqrt(float(c.head_dim)), dtype)
        else:
            self.query = _dense(c.dim, c.dim, dtype, "query")
            self.key = _dense(c.dim, c.dim, dtype, "key", use_bias=False)  # no key bias: configs.py
            self.value = _dense(c.dim, c.dim, dtype, "value")
            self.out = _dense(c.dim, c.dim, dtype, "out")

    def call(self, x):
        if self.builtin:
            out, weights = self.mha(query=x, value=x, key=x, return_attention_scores=True, training=False)
            return out, weights
        b, n = tf.shape(x)[0], x.shape[1]
        h, dh = self.heads, self.dim // self.heads

        def split(t):  # (B, N, D) -> (B, H, N, D_h); column h * D_h + j is head h's unit j
            return tf.transpose(tf.reshape(t, (b, n, h, dh)), (0, 2, 1, 3))

        q = split(self.query(x)) * dh**-0.5
        k, v = split(self.key(x)), split(self.value(x))
        weights = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)  # (B, H, N, N), over keys
        context = tf.reshape(tf.transpose(tf.matmul(weights, v), (0, 2, 1, 3)), (b, n, self.dim))
        return self.out(context), weights

class EncoderBlock(keras.layers.Layer):
    def __init__(self, c, dtype, builtin, name):
        super().__init__(dtype=dtype, name=name)
        self.ln1 = LayerNorm(c.dim, dtype, "ln1")
        self.attn = Attention(c, dtype, builtin)
        self.ln2 = LayerNorm(c.dim, dtype, "ln2")
        self.dense1 = _dense(c.mlp, c.dim, dtype, "dense1", bias="mlp_bias")
        self.dense2 = _dense(c.dim, c.mlp, dtype, "dense2", bias="mlp_bias")

    def run(self, x, batch, training, taps):
        """The block; fills `taps` under the block's name (a plain method: Keras's __call__ takes only tensors
        positionally)."""
        name = self.name
        h = taps[f"{name}/ln1"] = self.ln1(x)
        a, taps[f"{name}/attn_weights"] = self.attn(h)
        a = taps[f"{name}/attn_out"] = dropout(a, batch, f"{name}/attn", training)
        x = taps[f"{name}/residual1"] = x + a  # Eq. 2
        h = taps[f"{name}/ln2"] = self.ln2(x)
        m = dropout(gelu(self.dense1(h)), batch, f"{name}/mlp_hidden", training)
        taps[f"{name}/mlp_hidden"] = m
        m = taps[f"{name}/mlp_out"] = dropout(self.dense2(m), batch, f"{name}/mlp_out", training)
        x = taps[f"{name}/out"] = x + m  # Eq. 3
        return x

class ViT(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="vit")
        self.c = c
        self.patch_embed = PatchEmbedding(c, dtype)
        self.cls = self.add_weight(shape=(1, 1, c.dim), initializer=INIT["zeros"](), name="cls", dtype=dtype)
        self.pos = self.add_weight(shape=(1, c.n_patches + 1, c.dim), initializer=INIT["pos"](), name="pos",
                                   dtype=dtype) if c.pos_embed else None
        self.blocks = [EncoderBlock(c, dtype, c.attention_impl == "builtin_tf", f"block{i}") for i in range(c.depth)]
        self.final_norm = LayerNorm(c.dim, dtype, "final_norm")
        width = c.dim
        self.pre_logits = None
        if c.head_hidden:
            self.pre_logits = _dense(c.head_hidden, c.dim, dtype, "pre_logits", kernel="lecun_normal")
            width = c.head_hidden
        self.head = _dense(c.classes, width, dtype, "head", kernel="zeros" if c.zero_head else "xavier")

    def call(self, batch, training=False):
        taps = {}
        x = taps["patch_embed"] = self.patch_embed(batch["x"])
        cls = tf.tile(self.cls, (tf.shape(x)[0], 1, 1))
        z = tf.concat([cls, x], axis=1)  # Eq. 1
        if self.pos is not None:
            z = z + self.pos
        z = taps["embed"] = dropout(z, batch, "embed", training)
        for block in self.blocks:
            z = block.run(z, batch, training, taps)
        y = taps["final_norm"] = self.final_norm(z)  # Eq. 4 (LN of every token; y = token 0)
        y = y[:, 0]
        if self.pre_logits is not None:
            y = taps["pre_logits"] = tf.math.tanh(self.pre_logits(y))
        taps["output"] = self.head(y)
        return taps

    def build(self, input_shape=None):  # every weight is created in __init__
        self.built = True

    def _dummy_batch(self):
        c = self.c
        return {"x": np.zeros((1, c.image_size, c.image_size, c.channels), self.dtype)}


# --- ResNet -----------------------------------------------------------------------------------------------


class GroupNorm(keras.layers.Layer):
    """Group normalization (Wu & He 2018) written out: channels c // (C / G) share statistics; biased variance."""

    def __init__(self, channels, groups, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.groups = groups
        self.gamma = self.add_weight(shape=(channels,), initializer=INIT["ones"](), name="gamma", dtype=dtype)
        self.beta = self.add_weight(shape=(channels,), initializer=INIT["zeros"](), name="beta", dtype=dtype)

    def call(self, x):  # NHWC
        _, h, w, ch = x.shape
        g = self.groups
        x5 = tf.reshape(x, (tf.shape(x)[0], h, w, g, ch // g))
        mean, var = tf.nn.moments(x5, axes=[1, 2, 4], keepdims=True)
        x5 = (x5 - mean) * tf.math.rsqrt(var + GN_EPS)
        return tf.reshape(x5, tf.shape(x)) * self.gamma + self.beta


class Conv(keras.layers.Layer):
    """k x k convolution without bias, explicit symmetric zero padding `pad`, then VALID (never 'same')."""

    def __init__(self, cin, cout, k, stride, pad, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.stride, self.pad = stride, pad
        self.kernel = self.add_weight(shape=(k, k, cin, cout), initializer=INIT["he_normal"](), name="kernel",
                                      dtype=dtype)

    def call(self, x):
        if self.pad:
            x = tf.pad(x, [[0, 0], [self.pad, self.pad], [self.pad, self.pad], [0, 0]])
        return tf.nn.conv2d(x, self.kernel, strides=self.stride, padding="VALID", data_format="NHWC")


class PreActBlock(keras.layers.Layer):
    """GN, ReLU, 3x3 conv (stride s, pad 1), GN, ReLU, 3x3 conv (pad 1) + shortcut (He et al. 2016 v2)."""

    def __init__(self, c, cin, cout, stride, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.gn1 = GroupNorm(cin, c.groups, dtype, "gn1")
        self.conv1 = Conv(cin, cout, 3, stride, 1, dtype, "conv1")
        self.gn2 = GroupNorm(cout, c.groups, dtype, "gn2")
        self.conv2 = Conv(cout, cout, 3, 1, 1, dtype, "conv2")
        self.shortcut = Conv(cin, cout, 1, stride, 0, dtype, "shortcut") if cin != cout or stride != 1 else None

    def call(self, x):
        h = tf.nn.relu(self.gn1(x))
        short = self.shortcut(h) if self.shortcut is not None else x  # projection of the pre-activation (v2)
        h = self.conv1(h)
        h = self.conv2(tf.nn.relu(self.gn2(h)))
        return h + short

class ResNet(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="resnet")
        self.c = c
        self.stem = Conv(c.channels, c.stem_width, 3, c.stem_stride, 1, dtype, "stem")
        self.blocks = [PreActBlock(c, cin, cout, s, dtype, name) for name, cin, cout, s in resnet_blocks(c)]
        self.final_norm = GroupNorm(c.widths[-1], c.groups, dtype, "final_norm")
        self.head = _dense(c.classes, c.widths[-1], dtype, "head")

    def call(self, batch, training=False):
        taps = {}
        x = taps["stem"] = self.stem(batch["x"])
        for block in self.blocks:
            x = taps[block.name] = block(x)
        x = taps["final_norm"] = tf.nn.relu(self.final_norm(x))
        x = taps["pooled"] = tf.reduce_mean(x, axis=[1, 2])
        taps["output"] = self.head(x)
        return taps

    def build(self, input_shape=None):  # every weight is created in __init__
        self.built = True

    def _dummy_batch(self):
        c = self.c
        return {"x": np.zeros((1, c.image_size, c.image_size, c.channels), self.dtype)}


def builtin_attention_layouts(c) -> dict[str, Layout]:
    """keras.layers.MultiHeadAttention keeps per-head kernels, (D, H, D_h) and (H, D_h, D), and biases (H, D_h);
    canonical are the (D, D) kernels and (D,) biases: a reshape, columns h * D_h + j on both sides."""
    d, h, dh = c.dim, c.heads, c.dim // c.heads

    def reshape(canonical_shape, keras_shape):
        return Layout(lambda a: np.reshape(a, canonical_shape).copy(), lambda a: np.reshape(a, keras_shape))

    return {"*/attn/query/kernel": reshape((d, d), (d, h, dh)), "*/attn/key/kernel": reshape((d, d), (d, h, dh)),
            "*/attn/value/kernel": reshape((d, d), (d, h, dh)), "*/attn/out/kernel": reshape((d, d), (h, dh, d)),
            "*/attn/query/bias": reshape((d,), (h, dh)), "*/attn/value/bias": reshape((d,), (h, dh))}


# --- the common interface ---------------------------------------------------------------------------------


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.dtype = dtype
        self.net = (ViT if config.arch == "vit" else ResNet)(config, dtype)
        self.net(self.net._dummy_batch())
        builtin = config.arch == "vit" and config.attention_impl == "builtin_tf"
        self.params = KerasParams(self.net, f"vit tf Model ({config.arch})", rename=param_rename(config),
                                  layouts=builtin_attention_layouts(config) if builtin else {},
                                  skip=lambda name: builtin and name.endswith("/attn/key/bias"),
                                  order=param_shapes(config))
        self._vars = self.params.trainable()
        c = config
        with keras_floatx(dtype):  # the learning-rate variable in the model's dtype
            self.opt = keras.optimizers.AdamW(
                learning_rate=learning_rate(c, 1), weight_decay=keras_scalar(c.weight_decay, dtype),
                beta_1=keras_scalar(c.beta1, dtype), beta_2=keras_scalar(c.beta2, dtype),
                epsilon=keras_scalar(ADAM_EPSILON_HAT(c.adam_eps, c.beta2, 1), dtype), amsgrad=False)
        self.opt.build(self._vars)
        # Keras reads `epsilon` when tracing: a variable, so the per-step epsilon hat needs no retracing.
        self._eps_hat = tf.Variable(ADAM_EPSILON_HAT(c.adam_eps, c.beta2, 1), dtype=dtype, trainable=False)
        self.opt.epsilon = self._eps_hat
        self._step = self.compiled(self._train_step, autograph=True)
        self._predict = self.compiled(lambda x: self.net({"x": x}, training=False)["output"], reduce_retracing=True,
                                      autograph=True)
        self.steps = 0

    # --- computation --------------------------------------------------------------------------------------

    def _tensors(self, batch):
        return {k: tf.convert_to_tensor(v, dtype=tf.int64 if k == "y" else self.dtype) for k, v in batch.items()}

    def _loss(self, batch, training):
        taps = self.net(batch, training=training)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=batch["y"], logits=taps["output"])
        return tf.reduce_mean(losses), taps

    def forward(self, batch, training=False):
        return {k: v.numpy() for k, v in self.net(self._tensors(batch), training=training).items()}

    def predict(self, batch):
        """Logits only (inference benchmark)."""
        return self._predict(tf.convert_to_tensor(batch["x"], dtype=self.dtype)).numpy()

    def grads(self, batch):
        batch = self._tensors(batch)
        with tf.GradientTape() as tape:
            loss, _ = self._loss(batch, training=True)
        g = tape.gradient(loss, self._vars)
        return float(loss), self.params.name_grads(g)

    def _train_step(self, batch, lr, eps_hat):
        self.opt.learning_rate = lr
        self._eps_hat.assign(eps_hat)
        with tf.GradientTape() as tape:
            loss, _ = self._loss(batch, training=True)
        self.opt.apply_gradients(zip(tape.gradient(loss, self._vars), self._vars, strict=True))
        return loss

    def train_step(self, batch):
        self.steps += 1
        c = self.config
        lr = tf.constant(learning_rate(c, self.steps), dtype=self.dtype)
        eps_hat = tf.constant(ADAM_EPSILON_HAT(c.adam_eps, c.beta2, self.steps), dtype=self.dtype)
        return {"loss": float(self._step(self._tensors(batch), lr, eps_hat))}

    def evaluate(self, batches):
        total, correct, n = 0.0, 0, 0
        for batch in batches:
            logits = self._predict(tf.convert_to_tensor(batch["x"], dtype=self.dtype))
            y = np.asarray(batch["y"])
            # the training loss's cross-entropy (as torch's evaluate uses its training loss)
            total += float(tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)))
            correct += int((logits.numpy().argmax(axis=1) == y).sum())
            n += len(y)
        return {"loss": total / n, "accuracy": correct / n}
