"""Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", in idiomatic TensorFlow/Keras (see paper.py).

Same equations as torch_impl.py (its docstring has them in full):
    1997 block: i, o = sigmoid(net_in), sigmoid(net_out); g = 4 sigmoid(net_c) - 2; s(t) = s(t-1) + i g (CEC,
    no forget gate); y^c = o h(s), h = 2 sigmoid - 1; gates shared by the cells of a block; truncated gradient:
    y^c(t-1) enters the net inputs under tf.stop_gradient, so s = cumsum(i g) and the gradient is one
    vectorised pass over time after a sequential forward pass.
    modern LSTM (forget gate), gates i, f, c, o in Keras's order (= torch's i, f, g, o), one bias;
    or keras.layers.LSTM itself (cell_impl == "builtin_tf").
    tanh RNN: h(t) = tanh(x W + h(t-1) U + b).
Variables are stored in the canonical layout natively (kernel (in, G), recurrent_kernel (H, G), bias (G,)).
Steps run in tf.function (no jit_compile, autograph=False: every loop and branch is plain Python over static
shapes and config flags, so AutoGraph's source conversion would only add tracing time); time loops are unrolled
at trace time (shapes are static).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from harness.adapters import AdaptedModel, KerasParams
from harness.conventions import keras_floatx, keras_scalar

from .paper import PARAM_RENAME, step_taps

# g(z) = 4 sigmoid(z) - 2 in [-2, 2] and h(z) = 2 sigmoid(z) - 1 in [-1, 1], written as the identical
# (G/2) tanh(z/2): "2 sigmoid - 1" cancels catastrophically near 0 (float32 relative errors of 1e-3 there).
G_SCALE = 4.0  # g's range is [-G_SCALE/2, G_SCALE/2]
H_SCALE = 2.0  # h's range is [-H_SCALE/2, H_SCALE/2]
GATE = tf.math.sigmoid
OUTPUT_ACTIVATION = tf.math.sigmoid
TRUNCATE_RECURRENT = True
CARRY_CEC_PARTIALS = True  # per-step schedule: ds/dw accumulate over the sequence (App. A.2), never reset per step
FORGET_GATE = tf.math.sigmoid
MODERN_GATE = tf.math.sigmoid
MODERN_CELL = tf.math.tanh
RNN_ACTIVATION = tf.math.tanh
tanh = tf.math.tanh
hard_sigmoid = keras.activations.hard_sigmoid


def g_squash(z):
    return (0.5 * G_SCALE) * tf.math.tanh(0.5 * z)  # = G_SCALE sigmoid(z) - G_SCALE / 2


def h_squash(z):
    return (0.5 * H_SCALE) * tf.math.tanh(0.5 * z)  # = H_SCALE sigmoid(z) - H_SCALE / 2


def _init(r, seed):
    return keras.initializers.RandomUniform(-r, r, seed=seed)


class Memory1997(keras.layers.Layer):
    """Recurrent input r(t-1): y^c(t-1), or with config.gate_feedback [y^in | y^c | y^out](t-1) (Sec. 5.1's
    fully connected hidden layer); without config.cell_bias the cell-input biases are masked to zero."""

    def __init__(self, c, seed, **kw):
        super().__init__(**kw)
        self.c, self.nb, self.cs, self.nc = c, c.n_blocks, c.cells_per_block, c.n_cells
        G = 2 * self.nb + self.nc
        self.kernel = self.add_weight(name="kernel", shape=(c.n_in, G), initializer=_init(c.init_range, seed))
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(G if c.gate_feedback else self.nc, G),
                                                initializer=_init(c.init_range, seed + 1))
        self.bias = self.add_weight(name="bias", shape=(G,), initializer=_init(c.init_range, seed + 2))
        mask = np.ones(G, dtype=self.bias.dtype)
        if not c.cell_bias:
            mask[self.nb:self.nb + self.nc] = 0.0
        self.bias_mask = tf.constant(mask)
        self.cell_block = tf.constant(np.repeat(np.arange(self.nb), self.cs))  # block of each cell
        b = self.bias.numpy() * mask
        for j, v in enumerate(c.input_gate_bias):
            b[j] = v
        for j, v in enumerate(c.output_gate_bias):
            b[self.nb + self.nc + j] = v
        self.bias.assign(b)

    def _per_cell(self, gate):
        """A block's gate value for each of its cells: one gather (tf.repeat builds ~10 ops per call, which made
        tracing the unrolled time loop slow)."""
        return tf.gather(gate, self.cell_block, axis=-1)

    def recur(self, r):
        return tf.matmul(r, self.recurrent_kernel) if self.c.recurrent else tf.zeros((), r.dtype)

    def source(self, i, h, o):
        return tf.concat([i, h, o], axis=-1) if self.c.gate_feedback else h

    def zx(self, x):
        return tf.matmul(x, self.kernel) + self.bias * self.bias_mask

    def gates(self, z):
        nb, nc = self.nb, self.nc
        return GATE(z[..., :nb]), g_squash(z[..., nb:nb + nc]), GATE(z[..., nb + nc:])

    def loop(self, x, m, with_taps):
        """The sequential pass: per-step taps (when with_taps), the cells' outputs y^c (B, T, C) and the
        recurrent sources r (B, T, R). Steps outside a sequence (m = 0) hold the state and outputs."""
        T = x.shape[1]
        zx = self.zx(x)
        s = tf.zeros((tf.shape(x)[0], self.nc), x.dtype)
        r = tf.zeros((tf.shape(x)[0], self.recurrent_kernel.shape[0]), x.dtype)
        taps, hs, rs = {}, [], []
        for t in range(T):
            i, g, o = self.gates(zx[:, t] + self.recur(r))
            mt = m[:, t, None]
            s = s + mt * self._per_cell(i) * g
            r = tf.where(mt > 0, self.source(i, self._per_cell(o) * h_squash(s), o), r)
            h = r[:, self.nb:self.nb + self.nc] if self.c.gate_feedback else r
            if with_taps:
                taps.update(step_taps(t, i, g, s, o, h))
            hs.append(h)
            rs.append(r)
        return taps, tf.stack(hs, 1), tf.stack(rs, 1)

    def sequence(self, x, m, with_taps=False):
        """Per-step taps (when with_taps) and y^c(t) for all t: the loss, the gradients and the forward taps all
        come from here."""
        if self.c.truncate and TRUNCATE_RECURRENT:  # the paper's truncated gradient
            _, held, rs = self.loop(x, m, with_taps=False)
            held, rs = tf.stop_gradient(held), tf.stop_gradient(rs)
            r_prev = tf.concat([tf.zeros_like(rs[:, :1]), rs[:, :-1]], axis=1)  # r(t-1), constants
            i, g, o = self.gates(self.zx(x) + self.recur(r_prev))
            s = tf.cumsum(m[..., None] * self._per_cell(i) * g, axis=1)  # the CEC
            # Steps outside a sequence (m = 0, no loss weight) hold the last output as the loop does, so that
            # truncation changes gradients only, never a forward value (Sec. 4: an approximation of the gradient).
            h = tf.where(m[..., None] > 0, self._per_cell(o) * h_squash(s), held)
            taps = {}
            if with_taps:
                for t in range(x.shape[1]):
                    taps.update(step_taps(t, i[:, t], g[:, t], s[:, t], o[:, t], h[:, t]))
            return taps, h
        taps, hs, _ = self.loop(x, m, with_taps)  # full BPTT through the sequential pass
        return taps, hs



class ModernLSTM(keras.layers.Layer):
    def __init__(self, c, seed, **kw):
        super().__init__(**kw)
        H, r = c.n_hidden, c.init_range
        self.H = H
        self.kernel = self.add_weight(name="kernel", shape=(c.n_in, 4 * H), initializer=_init(r, seed))
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(H, 4 * H),
                                                initializer=_init(r, seed + 1))
        self.bias = self.add_weight(name="bias", shape=(4 * H,), initializer=_init(r, seed + 2))

    def run(self, x, m, with_taps):
        T, H = x.shape[1], self.H
        zx = tf.matmul(x, self.kernel) + self.bias
        h = c = tf.zeros((tf.shape(x)[0], H), x.dtype)
        taps, hs = {}, []
        for t in range(T):
            z = zx[:, t] + tf.matmul(h, self.recurrent_kernel)
            i, f = MODERN_GATE(z[:, :H]), FORGET_GATE(z[:, H:2 * H])
            g, o = MODERN_CELL(z[:, 2 * H:3 * H]), MODERN_GATE(z[:, 3 * H:])
            mt = m[:, t, None] > 0
            c = tf.where(mt, f * c + i * g, c)
            h = tf.where(mt, o * MODERN_CELL(c), h)
            if with_taps:
                taps.update({f"t{t:03d}/lstm/input_gate": i, f"t{t:03d}/lstm/forget_gate": f,
                             f"t{t:03d}/lstm/cell_input": g, f"t{t:03d}/lstm/cell_state": c,
                             f"t{t:03d}/lstm/output_gate": o, f"t{t:03d}/lstm/hidden": h})
            hs.append(h)
        return taps, tf.stack(hs, 1), c


class BuiltinLSTM(keras.layers.Layer):
    def __init__(self, c, seed, **kw):
        super().__init__(**kw)
        r = c.init_range
        self.lstm = keras.layers.LSTM(
            c.n_hidden, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
            kernel_initializer=_init(r, seed), recurrent_initializer=_init(r, seed + 1),
            bias_initializer=_init(r, seed + 2), unit_forget_bias=False, dropout=0.0, recurrent_dropout=0.0,
            return_sequences=True, return_state=True, go_backwards=False, stateful=False, unroll=False,
            use_cudnn=False, dtype=kw.get("dtype"))
        self.lstm.build((None, None, c.n_in))

    def run(self, x, m, with_taps):
        hs, _, c = self.lstm(x)
        return {}, hs, c


class TanhRNN(keras.layers.Layer):
    def __init__(self, c, seed, **kw):
        super().__init__(**kw)
        H, r = c.n_hidden, c.init_range
        self.H = H
        self.kernel = self.add_weight(name="kernel", shape=(c.n_in, H), initializer=_init(r, seed))
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(H, H), initializer=_init(r, seed + 1))
        self.bias = self.add_weight(name="bias", shape=(H,), initializer=_init(r, seed + 2))

    def run(self, x, m, with_taps):
        zx = tf.matmul(x, self.kernel) + self.bias
        h = tf.zeros((tf.shape(x)[0], self.H), x.dtype)
        taps, hs = {}, []
        for t in range(x.shape[1]):
            h = tf.where(m[:, t, None] > 0, RNN_ACTIVATION(zx[:, t] + tf.matmul(h, self.recurrent_kernel)), h)
            if with_taps:
                taps[f"t{t:03d}/rnn/hidden"] = h
            hs.append(h)
        return taps, tf.stack(hs, 1)


class Net(keras.Model):
    def __init__(self, c, seed, dtype):
        super().__init__(dtype=dtype)
        self.c = c
        if c.model == "lstm1997":
            self.memory = Memory1997(c, seed, dtype=dtype)
        elif c.model == "modern":
            self.lstm = (BuiltinLSTM if c.cell_impl == "builtin_tf" else ModernLSTM)(c, seed, dtype=dtype)
        elif c.model == "rnn":
            self.rnn = TanhRNN(c, seed, dtype=dtype)
        else:
            raise ValueError(f"unknown model {c.model!r}")
        self.output_layer = keras.layers.Dense(c.n_out, use_bias=c.output_bias,
                                               kernel_initializer=_init(c.init_range, seed + 3),
                                               bias_initializer=_init(c.init_range, seed + 4), dtype=dtype)
        self.output_layer.build((None, c.n_cells))
        if c.shortcut:
            self.shortcut = keras.layers.Dense(c.n_out, use_bias=False, dtype=dtype,
                                               kernel_initializer=_init(c.init_range, seed + 5))
            self.shortcut.build((None, c.n_in))

    def head(self, hs, x):
        z = tf.matmul(hs, self.output_layer.kernel)
        if self.c.output_bias:
            z = z + self.output_layer.bias
        if self.c.shortcut:
            z = z + tf.matmul(x, self.shortcut.kernel)
        return OUTPUT_ACTIVATION(z)

    def run(self, x, m, with_taps):
        """(taps, outputs): the forward taps (when with_taps) and the outputs the loss is computed from, from
        one pass."""
        c = self.c
        if c.model == "lstm1997":
            taps, hs = self.memory.sequence(x, m, with_taps)
        elif c.model == "modern":
            taps, hs, c_last = self.lstm.run(x, m, with_taps=with_taps and c.cell_impl == "hand")
            if with_taps and c.cell_impl != "hand":  # the built-ins expose the hidden sequence, last cell state
                taps = {"lstm/hidden": hs, "lstm/cell_state_last": c_last}
        else:
            taps, hs = self.rnn.run(x, m, with_taps)
        out = self.head(hs, x)
        if with_taps:
            taps["output"] = out
        return taps, out


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.dtype = dtype
        self.net = Net(config, seed, dtype)
        self.params = KerasParams(self.net, "lstm tf Model", rename=PARAM_RENAME)
        with keras_floatx(dtype):
            if config.optimizer == "sgd":
                self.opt = keras.optimizers.SGD(learning_rate=config.lr, momentum=keras_scalar(0.0, dtype),
                                                nesterov=False)
            else:
                self.opt = keras.optimizers.Adam(
                    learning_rate=config.lr, beta_1=keras_scalar(0.9, dtype), beta_2=keras_scalar(0.999, dtype),
                    epsilon=keras_scalar(config.adam_epsilon, dtype), amsgrad=False)
        self._train = self.compiled_batch(lambda b: self._train_step(b["x"], b["y"], b["w"], b["m"]))
        self._grads = self.compiled(self._grad_fn, autograph=False)
        self._taps = self.compiled(lambda x, m: self.net.run(x, m, with_taps=True)[0], autograph=False)
        self._eval = self.compiled(lambda *args: self._loss(*args)[0], autograph=False)

    def _loss(self, x, y, w, m):
        """(loss, the outputs it is computed from)."""
        out = self.net.run(x, m, with_taps=False)[1]
        total = tf.reduce_sum(0.5 * w * tf.reduce_sum((out - y) ** 2, axis=-1))
        return (total / tf.reduce_sum(w) if self.config.loss == "step_mean" else total), out

    def _grad_fn(self, x, y, w, m):
        variables = self.params.trainable()
        with tf.GradientTape() as tape:
            loss, out = self._loss(x, y, w, m)
        grads = tape.gradient(loss, variables)  # None for a weight that does not reach the loss (recurrent=False)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables, strict=True)]
        return loss, grads, out

    def _train_step(self, x, y, w, m):
        variables = self.params.trainable()
        loss, grads, _ = self._grad_fn(x, y, w, m)
        self.opt.apply_gradients(zip(grads, variables, strict=True))
        return loss

    @staticmethod
    def _args(batch):
        # Tensors, not the NumPy arrays: a tf.function converts array arguments itself at about 3x the cost of
        # tf.constant, which on the small sequence tasks was a quarter of a whole step (lag p=20: 1,220 -> 1,650
        # steps/s on the development machine).
        return tuple(tf.constant(batch[k]) for k in ("x", "y", "w", "m"))

    def forward(self, batch, training=False):
        return {k: v.numpy() for k, v in self._taps(batch["x"], batch["m"]).items()}

    def grads(self, batch):
        loss, g, _ = self._grads(*self._args(batch))
        return float(loss), self.params.name_grads(g)

    def train_step(self, batch):
        if self.config.schedule == "per_step":  # a weight change after every time step (PerStep1997)
            loss, updates, _ = per_step_run(self, batch, apply=True)
            return {"loss": loss, "updates": updates}
        return {"loss": float(self._train({k: batch[k] for k in ("x", "y", "w", "m")}))}

    def _per_step_walker(self):
        """The per-step stepper, built once (its compiled step is traced once per batch size and dtype)."""
        if getattr(self, "_walker", None) is None:
            self._walker = PerStep1997(self)
        return self._walker

    def evaluate(self, batches):
        return {"loss": float(np.mean([float(self._eval(*self._args(b))) for b in batches]))}


# --- weight changes at every time step (Sec. 5.1's online learning, App. A's truncated RTRL-like rule) ------


class PerStep1997:
    """The 1997 net trained with a weight change after every time step (config.schedule == "per_step"); the
    rule and the running partials ds_c(t)/dw of App. A.2 are those of torch_impl.PerStep1997 (its docstring has
    the equations). One compiled step per time step; the state (s, r, y^c, the partials) is passed in and out."""

    def __init__(self, model):
        if model.config.optimizer != "sgd":
            raise ValueError("per-step updates are implemented for plain SGD (the paper's rule), not "
                             f"{model.config.optimizer!r}: set optimizer='sgd'")
        self.model, self.mem, self.net = model, model.net.memory, model.net
        self.compiled_step = model.compiled(self.step, autograph=False)
        self.compiled_apply = model.compiled(self._apply, autograph=False)

    def begin(self, B, dtype):
        mem = self.mem
        R = mem.recurrent_kernel.shape[0]
        K = mem.kernel.shape[0] + R + 1
        return (tf.zeros((B, mem.nc), dtype), tf.zeros((B, R), dtype), tf.zeros((B, mem.nc), dtype),
                tf.zeros((B, mem.nc, K), dtype), tf.zeros((B, mem.nc, K), dtype))

    def step(self, x, y, w, m, state):
        """One time step: (loss, outputs, canonical-order gradients, the state at t)."""
        s, r, h_prev, p_cell, p_in = state
        mem, nb, nc = self.mem, self.mem.nb, self.mem.nc
        variables = self.model.params.trainable()
        with tf.GradientTape() as tape:
            net = mem.zx(x) + mem.recur(r)  # r(t-1) is a constant: the truncation
            o = GATE(net[..., nb + nc:])  # the output gates' own (untruncated) path
        net_d = tf.stop_gradient(net)
        with tf.GradientTape() as local:
            local.watch(net_d)
            i, g, o_d = mem.gates(net_d)
            total = tf.reduce_sum(i) + tf.reduce_sum(g) + tf.reduce_sum(o_d)
        d = local.gradient(total, net_d)  # f'(net) of each unit
        di, dg = d[:, :nb], d[:, nb:nb + nc]
        i_c, di_c = mem._per_cell(i), mem._per_cell(di)
        z = tf.concat([x, r, tf.ones_like(x[:, :1])], axis=-1)
        keep = float(CARRY_CEC_PARTIALS)
        p_cell = keep * p_cell + (m * i_c * dg)[..., None] * z[:, None, :]
        p_in = keep * p_in + (m * g * di_c)[..., None] * z[:, None, :]
        s = s + m * i_c * g  # the CEC
        with tape:
            tape.watch(s)
            h = tf.where(m > 0, mem._per_cell(o) * h_squash(s), h_prev)
            out = self.net.head(h, x)
            loss = tf.reduce_sum(0.5 * w * tf.reduce_sum((out - y) ** 2, axis=-1))
        grads = tape.gradient(loss, variables + [s])
        e_s = grads[-1]  # dE(t)/ds(t) (B, C)
        K = z.shape[-1]
        through_cec = tf.concat([
            tf.reduce_sum(tf.reshape(e_s[..., None] * p_in, (-1, nb, mem.cs, K)), axis=(0, 2)),
            tf.reduce_sum(e_s[..., None] * p_cell, axis=0),
            tf.zeros((nb, K), z.dtype)], axis=0)  # (G, K): rows in-gates | cells | outs
        I = x.shape[-1]
        extra = {id(mem.kernel): tf.transpose(through_cec[:, :I]),
                 id(mem.recurrent_kernel): tf.transpose(through_cec[:, I:-1]) * float(mem.c.recurrent),
                 id(mem.bias): through_cec[:, -1] * mem.bias_mask}
        out_grads = []
        for v, gr in zip(variables, grads[:-1], strict=True):
            gr = tf.zeros(v.shape, v.dtype) if gr is None else gr
            out_grads.append(gr + extra[id(v)] if id(v) in extra else gr)
        r = tf.where(m > 0, mem.source(i, h, o_d), r)
        return loss, out, out_grads, (s, r, h, p_cell, p_in)

    def _apply(self, grads):
        self.model.opt.apply_gradients(zip(grads, self.model.params.trainable(), strict=True))


def per_step_run(model, batch, apply: bool, on_step=None):
    """Walk a batch's sequences step by step; with `apply`, one optimizer step after every time step at which
    any sequence is active (m > 0). Returns (summed loss, updates, [canonical gradient of each step])."""
    walker = model._per_step_walker()
    x, y, w, m = (tf.constant(batch[k]) for k in ("x", "y", "w", "m"))
    state = walker.begin(x.shape[0], x.dtype)
    total, updates, per_step = 0.0, 0, []
    for t in range(x.shape[1]):
        if not bool(np.any(batch["m"][:, t] > 0)):
            continue
        loss, _, grads, state = walker.compiled_step(x[:, t], y[:, t], w[:, t], m[:, t, None], state)
        total += float(loss)
        if apply:
            walker.compiled_apply(grads)
            updates += 1
            if on_step is not None:
                on_step(t)
        else:
            per_step.append(model.params.name_grads(grads))
    return total, updates, per_step
