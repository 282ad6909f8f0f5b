"""Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models", in TensorFlow/Keras (see paper.py).

Forward process (Eqs. 2, 4): beta_t linear from beta_1 to beta_T, alpha_t = 1 - beta_t, alpha_bar_t = prod alpha_s,
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.
Posterior (Eqs. 6-7): q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I),
    mu~_t = beta_t sqrt(alpha_bar_{t-1}) / (1 - alpha_bar_t) x_0
            + (1 - alpha_bar_{t-1}) sqrt(alpha_t) / (1 - alpha_bar_t) x_t,
    beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t.
Objectives (Table 2): eps_simple = L_simple (Eq. 14) = mean ||eps - eps_theta(x_t, t)||^2; mu_mse = unweighted
mean ||mu~_t - mu_theta||^2; *_true = the bound's L_{t-1} (Eq. 8) with fixed Sigma: mean ||mu~_t - mu_theta||^2 /
(2 sigma_t^2) / ln 2 (bits per dim), eps models giving mu_theta = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps_theta)
/ sqrt(alpha_t) (Eq. 11). Ancestral sampling (Algorithm 2), as the official p_sample: x_0 predicted from the
model, clipped to [-1, 1], mean = mu~(x_0 pred, x_t), x_{t-1} = mean + sigma_t z (no noise at t = 0), with
the injected z. Indices t are 0-based (t = 0 is the paper's t = 1), as in the official code.

The U-Net is the official one (diffusion_tf/models/unet.py), NHWC, built from configs.unet_plan: residual
blocks (GroupNorm, swish, 3x3 conv, + Dense(swish(temb)), GroupNorm, swish, dropout, 3x3 conv, 1x1 'nin'
shortcut), self-attention, stride-2 conv downsampling, nearest x2 + conv upsampling, skip concatenation.

Defaults written out (docs/pitfalls.md): GroupNorm by hand with eps 1e-6 (official; Keras's
GroupNormalization default is 1e-3); swish = x * sigmoid(x); the stride-2 conv padded explicitly by one
pixel at the bottom/right ('SAME' of the official code) and run 'valid'; attention softmax over keys, scaled
by C^-1/2; VarianceScaling(fan_avg, uniform), a NEW initializer per variable, scale 1e-10 for
conv2/proj_out/conv_out, zero biases; keras Adam with beta_1 0.9, beta_2 0.999, epsilon 1e-8 (the official
TF1 convention: epsilon added before bias correction), global_clipnorm (not the per-variable clipnorm),
lr warmup lr * min(t / warmup, 1) as a schedule of the optimizer's iterations (t = iterations + 1);
optimizers built inside keras_floatx, hyperparameters through keras_scalar.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar

from .configs import unet_plan

# Reproductions train in XLA (tf.function(jit_compile=True)): at the reduced scale (bench cases, float32, one
# thread, the same host and hour) the digits U-Net's train step runs 1,699 images/s against 966 under plain
# tf.function and its T = 100 sampling chain 71 samples/s against 45; the first call costs 8.4 s against 3.6 s,
# recovered within 170 steps (28 ms saved a step) of the 500 a digits seed takes. The moons MLP's train step is
# slower in XLA (159k against 187k points/s), but a moons seed is 4 s of CPU against 52 s for a digits seed. XLA
# agrees with eager (results/modes.md) and with torch (tests/test_execution.py runs the agreement protocol in it).
REPRO_MODE = "xla"

# Module-level so that tests can inject porting bugs (paper.py `mutations`); read at call time.
GN_EPS = 1e-6
ATTN_SOFTMAX_AXIS = 2  # w[b, i, j]: normalise over the keys j


def CLIP_OPTION(c) -> dict:  # noqa: N802 (a module-level setting that mutations replace)
    return {"global_clipnorm": c.grad_clip} if c.grad_clip else {}


def swish(x):
    return x * tf.math.sigmoid(x)


def timestep_embedding(t, dim: int, dtype):
    """Sinusoidal embedding [sin(t w_i), cos(t w_i)], w_i = exp(-i ln(10000) / (dim/2 - 1))."""
    half = dim // 2
    freqs = tf.exp(tf.range(half, dtype=tf.float64) * -(math.log(10000.0) / (half - 1)))
    args = tf.cast(t, tf.float64)[:, None] * freqs[None, :]
    return tf.cast(tf.concat([tf.sin(args), tf.cos(args)], axis=1), dtype)


def _init(scale=1.0):
    return keras.initializers.VarianceScaling(scale=scale, mode="fan_avg", distribution="uniform")


def _conv(cout, k, dtype, name, scale=1.0, stride=1, padding="same", bias=True):
    return keras.layers.Conv2D(cout, k, strides=stride, padding=padding, use_bias=bias, dtype=dtype, name=name,
                               kernel_initializer=_init(scale), bias_initializer=keras.initializers.Zeros())


def _dense(n_out, dtype, name, scale=1.0):
    return keras.layers.Dense(n_out, use_bias=True, dtype=dtype, name=name, kernel_initializer=_init(scale),
                              bias_initializer=keras.initializers.Zeros())


class GroupNorm(keras.layers.Layer):
    """(x - mean) / sqrt(var + GN_EPS) * gamma + beta, statistics over (H, W, C/G) per group; biased variance."""

    def __init__(self, groups, channels, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.groups = groups
        self.gamma = self.add_weight(shape=(channels,), initializer=keras.initializers.Ones(), name="gamma",
                                     dtype=dtype)
        self.beta = self.add_weight(shape=(channels,), initializer=keras.initializers.Zeros(), name="beta",
                                    dtype=dtype)

    def call(self, x):
        shape = tf.shape(x)
        c = x.shape[-1]
        g = tf.reshape(x, tf.concat([shape[:-1], [self.groups, c // self.groups]], axis=0))
        mean, var = tf.nn.moments(g, axes=[1, 2, 4], keepdims=True)
        g = (g - mean) * tf.math.rsqrt(var + GN_EPS)
        return tf.reshape(g, shape) * self.gamma + self.beta



class ResBlock(keras.layers.Layer):
    def __init__(self, cin, cout, c, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.norm1 = GroupNorm(c.groups, cin, dtype, "norm1")
        self.conv1 = _conv(cout, 3, dtype, "conv1")
        self.temb_proj = _dense(cout, dtype, "temb_proj")
        self.norm2 = GroupNorm(c.groups, cout, dtype, "norm2")
        self.conv2 = _conv(cout, 3, dtype, "conv2", scale=c.zero_init_scale)
        self.nin_shortcut = _conv(cout, 1, dtype, "nin_shortcut") if cin != cout else None

    def call(self, x, temb, mask=None):
        h = self.conv1(swish(self.norm1(x)))
        h = h + self.temb_proj(swish(temb))[:, None, None, :]
        h = swish(self.norm2(h))
        if mask is not None:
            h = h * mask
        h = self.conv2(h)
        if self.nin_shortcut is not None:
            x = self.nin_shortcut(x)
        return x + h



class AttnBlock(keras.layers.Layer):
    def __init__(self, ch, c, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.norm = GroupNorm(c.groups, ch, dtype, "norm")
        self.q, self.k, self.v = (_conv(ch, 1, dtype, n, bias=n != "k") for n in ("q", "k", "v"))  # no key bias
        self.proj_out = _conv(ch, 1, dtype, "proj_out", scale=c.zero_init_scale)

    def call(self, x):
        shape = tf.shape(x)
        C = x.shape[-1]
        h = self.norm(x)
        q, k, v = (tf.reshape(f(h), [shape[0], -1, C]) for f in (self.q, self.k, self.v))
        w = tf.einsum("bic,bjc->bij", q, k) * (C ** -0.5)
        w = tf.nn.softmax(w, axis=ATTN_SOFTMAX_AXIS)
        h = tf.reshape(tf.einsum("bij,bjc->bic", w, v), shape)
        return x + self.proj_out(h)



class Downsample(keras.layers.Layer):
    def __init__(self, ch, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.conv = _conv(ch, 3, dtype, "conv", stride=2, padding="valid")

    def call(self, x):
        return self.conv(tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]))  # one pixel bottom/right ('SAME')



class Upsample(keras.layers.Layer):
    def __init__(self, ch, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.conv = _conv(ch, 3, dtype, "conv")

    def call(self, x):
        return self.conv(tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2))  # nearest x2



class Out(keras.layers.Layer):
    def __init__(self, cin, cout, c, dtype, name):
        super().__init__(dtype=dtype, name=name)
        self.norm_out = GroupNorm(c.groups, cin, dtype, "norm_out")
        self.conv_out = _conv(cout, 3, dtype, "conv_out", scale=c.zero_init_scale)

    def call(self, x):
        return self.conv_out(swish(self.norm_out(x)))



class UNet(keras.Model):
    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="unet")
        self.c, self.plan = c, unet_plan(c)
        self.temb = {"dense0": _dense(4 * c.ch, dtype, "dense0"), "dense1": _dense(4 * c.ch, dtype, "dense1")}
        self.blocks = {}
        for b in self.plan:
            label = b.name.replace("/", "_")
            if b.kind == "conv_in":
                self.blocks[b.name] = _conv(b.cout, 3, dtype, label)
            elif b.kind == "res":
                self.blocks[b.name] = ResBlock(b.cin, b.cout, c, dtype, label)
            elif b.kind == "attn":
                self.blocks[b.name] = AttnBlock(b.cin, c, dtype, label)
            elif b.kind == "down":
                self.blocks[b.name] = Downsample(b.cin, dtype, label)
            elif b.kind == "up":
                self.blocks[b.name] = Upsample(b.cin, dtype, label)
            else:
                self.blocks[b.name] = Out(b.cin, b.cout, c, dtype, label)

    def call(self, x, t, masks=None):
        return self.run(x, t, masks)

    def run(self, x, t, masks=None, taps=None):
        """x NHWC, t (B,) int -> the model output (eps or mu). `masks` by name; fills `taps` when given."""
        temb = self.temb["dense1"](swish(self.temb["dense0"](timestep_embedding(t, self.c.ch, self.compute_dtype))))
        if taps is not None:
            taps["temb"] = temb
        hs, h = [], x
        for b in self.plan:
            layer = self.blocks[b.name]
            if b.pop:
                h = tf.concat([h, hs.pop()], axis=-1)
            if b.kind == "res":
                h = layer(h, temb, None if masks is None else masks[f"mask/{b.name}"])
            else:
                h = layer(h)
            if b.push:
                hs.append(h)
            if taps is not None:
                taps[b.name] = h
        return h



class MLP(keras.Model):
    """2-D toys: [x, sinusoidal(t)] -> (Dense, swish) x L -> Dense."""

    def __init__(self, c, dtype):
        super().__init__(dtype=dtype, name="mlp")
        self.c = c
        self.dense = [_dense(c.mlp_hidden, dtype, f"dense{j}") for j in range(c.mlp_layers)]
        self.out = _dense(c.shape[0], dtype, "out")

    def call(self, x, t, masks=None):
        return self.run(x, t)

    def run(self, x, t, masks=None, taps=None):
        h = tf.concat([x, timestep_embedding(t, self.c.temb_dim, self.compute_dtype)], axis=1)
        for j, layer in enumerate(self.dense):
            h = swish(layer(h))
            if taps is not None:
                taps[f"mlp/dense{j}"] = h
        h = self.out(h)
        if taps is not None:
            taps["out"] = h
        return h



class Diffusion:
    """The schedule's tables (computed in float64, then cast) and the process's maths."""

    def __init__(self, c, dtype):
        f64 = tf.float64
        betas = tf.linspace(tf.constant(c.beta_1, f64), tf.constant(c.beta_T, f64), c.T)
        alphas = 1.0 - betas
        ab = tf.math.cumprod(alphas)
        ab_prev = tf.concat([tf.ones([1], f64), ab[:-1]], axis=0)
        post_var = betas * (1.0 - ab_prev) / (1.0 - ab)
        model_var = betas if c.sigma2 == "beta" else post_var
        model_var = tf.concat([post_var[1:2], model_var[1:]], axis=0)  # official: t = 0 takes beta~_1
        self.tables64 = {
            "betas": betas, "alpha_bar": ab, "sqrt_ab": tf.sqrt(ab), "sqrt_1m_ab": tf.sqrt(1.0 - ab),
            "sqrt_recip_ab": tf.sqrt(1.0 / ab), "sqrt_recipm1_ab": tf.sqrt(1.0 / ab - 1.0),
            "coef1": betas * tf.sqrt(ab_prev) / (1.0 - ab),
            "coef2": (1.0 - ab_prev) * tf.sqrt(alphas) / (1.0 - ab),
            "model_var": model_var, "model_sd": tf.exp(0.5 * tf.math.log(model_var)),
        }
        self.tab = {k: tf.cast(v, dtype) for k, v in self.tables64.items()}
        self.c = c

    def at(self, name, t, ndim):
        return tf.reshape(tf.gather(self.tab[name], t), [-1] + [1] * (ndim - 1))

    def q_sample(self, x0, t, noise):
        n = len(x0.shape)
        return self.at("sqrt_ab", t, n) * x0 + self.at("sqrt_1m_ab", t, n) * noise

    def posterior_mean(self, x0, xt, t):
        n = len(xt.shape)
        return self.at("coef1", t, n) * x0 + self.at("coef2", t, n) * xt

    def predict_x0(self, out, xt, t):
        n = len(xt.shape)
        if self.c.objective.startswith("eps"):
            return self.at("sqrt_recip_ab", t, n) * xt - self.at("sqrt_recipm1_ab", t, n) * out
        return out / self.at("coef1", t, n) - (self.at("coef2", t, n) / self.at("coef1", t, n)) * xt

    def loss(self, out, x0, xt, t, noise):
        c = self.c
        if c.objective == "eps_simple":
            return tf.reduce_mean(tf.square(noise - out))
        mu_true = self.posterior_mean(x0, xt, t)
        mu_model = out if c.objective.startswith("mu") else self.posterior_mean(self.predict_x0(out, xt, t), xt, t)
        if c.objective == "mu_mse":
            return tf.reduce_mean(tf.square(mu_true - mu_model))
        var = self.at("model_var", t, len(xt.shape))
        return tf.reduce_mean(tf.square(mu_true - mu_model) / (2.0 * var)) / math.log(2.0)

    def p_step(self, out, xt, t, z):
        x0 = self.predict_x0(out, xt, t)
        if self.c.clip_denoised:
            x0 = tf.clip_by_value(x0, -1.0, 1.0)
        mean = self.posterior_mean(x0, xt, t)
        n = len(xt.shape)
        noisy = tf.reshape(tf.cast(t > 0, xt.dtype), [-1] + [1] * (n - 1))
        return mean + noisy * self.at("model_sd", t, n) * z


def chain_taps(T: int) -> list[int]:
    """Which chain steps (1-based, of T) forward() reports: all for short chains, else about ten."""
    return list(range(1, T + 1)) if T <= 20 else sorted({*range(T // 10, T + 1, T // 10), T})


class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """lr * min(t / warmup, 1) with t = iterations + 1, in float64 (Keras casts it to each variable's dtype)."""

    def __init__(self, lr: float, warmup: int):
        self.lr, self.warmup = lr, warmup

    def __call__(self, step):
        t = tf.cast(step, tf.float64) + 1.0
        return tf.constant(self.lr, tf.float64) * tf.minimum(t / float(self.warmup), 1.0)

    def get_config(self):
        return {"lr": self.lr, "warmup": self.warmup}


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = c = config
        self.dtype = dtype
        self.image = c.arch == "unet"
        self.net = UNet(c, dtype) if self.image else MLP(c, dtype)
        self.net(np.zeros((1, *c.shape), dtype), np.zeros((1,), np.int64))
        self.diffusion = Diffusion(c, dtype)
        self.params = KerasParams(self.net, "ddpm tf Model")
        self._var_list = self.params.trainable()
        with keras_floatx(dtype):
            self.opt = keras.optimizers.Adam(
                learning_rate=Warmup(c.lr, c.warmup) if c.warmup else c.lr, beta_1=keras_scalar(0.9, dtype),
                beta_2=keras_scalar(0.999, dtype), epsilon=keras_scalar(c.adam_eps, dtype), amsgrad=False,
                **CLIP_OPTION(c))
        self.opt.build(self._var_list)
        self._step = self.compiled(self._train_step, autograph=False)
        self._sample = self.compiled(self._sample_graph, autograph=False)
        self._p_step_fn = self.compiled(self._p_step, autograph=False)  # one trace: i is a tensor

    # --- computation --------------------------------------------------------------------------------------

    def _tensors(self, batch):
        out = {}
        for k, v in batch.items():
            out[k] = tf.constant(np.asarray(v), dtype=tf.int64 if k == "t" else self.dtype)  # convert_to_tensor: 2x
        return out

    def _loss(self, b, training=True, taps=None):
        xt = self.diffusion.q_sample(b["x0"], b["t"], b["noise"])
        if taps is not None:
            taps["x_t"] = xt
        masks = {k: v for k, v in b.items() if k.startswith("mask/")} if training else None
        out = self.net.run(xt, b["t"], masks, taps)
        return self.diffusion.loss(out, b["x0"], xt, b["t"], b["noise"])

    def _p_step(self, x, i, z):
        t = tf.fill([tf.shape(x)[0]], tf.cast(i, tf.int64))
        return self.diffusion.p_step(self.net.run(x, t), x, t, z)

    def forward(self, batch, training=False):
        """Taps of the network on x_t = q_sample(x0, t, noise), then (when the batch carries x_T and z) the
        ancestral sampling chain from x_T with the injected z (always in eval mode); "output" ends it."""
        b = self._tensors({k: v for k, v in batch.items() if k not in ("x_T", "z")})
        taps = {}
        taps["loss"] = tf.reshape(self._loss(b, training, taps), [1])
        if "x_T" in batch:
            T = self.config.T
            keep = set(chain_taps(T))
            x = tf.convert_to_tensor(np.asarray(batch["x_T"]), self.dtype)
            z = np.asarray(batch["z"])
            for k, i in enumerate(reversed(range(T)), start=1):
                x = self._p_step_fn(x, tf.constant(i, tf.int64), tf.convert_to_tensor(z[i], self.dtype))
                if k in keep:
                    taps[f"chain/step{k}"] = x
            taps["output"] = x
        else:
            taps["output"] = taps["out"]
        return {k: v.numpy() for k, v in taps.items()}

    def grads(self, batch):
        b = self._tensors({k: v for k, v in batch.items() if k not in ("x_T", "z")})
        with tf.GradientTape() as tape:
            loss = self._loss(b)
        g = tape.gradient(loss, self._var_list)
        return float(loss), self.params.name_grads(g)

    def _train_step(self, b):
        with tf.GradientTape() as tape:
            loss = self._loss(b)
        self.opt.apply_gradients(zip(tape.gradient(loss, self._var_list), self._var_list, strict=True))
        return loss

    def train_step(self, batch):
        b = self._tensors({k: v for k, v in batch.items() if k not in ("x_T", "z")})
        return {"loss": float(self._step(b))}

    def _sample_graph(self, x, z):
        T = self.config.T

        def body(i, x):
            return i - 1, self._p_step(x, i, tf.gather(z, i))

        _, x = tf.while_loop(lambda i, x: i >= 0, body, (tf.constant(T - 1, tf.int64), x))
        return x

    def sample(self, batch):
        """Algorithm 2 from batch["x_T"] with the injected noise batch["z"] (T, B, ...): x_0, NHWC / (B, D)."""
        x = tf.convert_to_tensor(np.asarray(batch["x_T"]), self.dtype)
        z = tf.convert_to_tensor(np.asarray(batch["z"]), self.dtype)
        return self._sample(x, z).numpy()

    def schedule(self):
        return {k: v.numpy().copy() for k, v in self.diffusion.tables64.items()}

    def evaluate(self, batches):
        return {"loss": float(np.mean([float(self._loss(self._tensors(
            {k: v for k, v in b.items() if k not in ("x_T", "z")}), training=False)) for b in batches]))}
