"""Hochreiter & Schmidhuber 1997, "Long Short-Term Memory", in idiomatic PyTorch (see paper.py).

The 1997 memory block (Sec. 4, Eqs. 1-3 of the paper's notation), block j with cells c_j^v sharing gates:
    y^in_j(t)  = f(net_in_j(t)),   y^out_j(t) = f(net_out_j(t)),      f = logistic sigmoid      (gates)
    net_x(t)   = W_x [x(t); y^c(t-1)] + b_x                             (x in {in_j, c_j^v, out_j})
    s_c(t)     = s_c(t-1) + y^in_j(t) g(net_c(t)),   s_c(0) = 0          (constant error carousel, no forget gate)
    y^c(t)     = y^out_j(t) h(s_c(t))
    g(z) = 4 sigmoid(z) - 2  in [-2, 2],   h(z) = 2 sigmoid(z) - 1  in [-1, 1]
    output units: y^k(t) = sigmoid(W_k y^c(t) [+ V_k x(t)] + b_k)
Truncated gradient (Sec. 4, App. A.1): errors arriving at the gates' and cells' net inputs are not propagated
back in time through the recurrent weights; only the CEC carries error back. Here: y^c(t-1) enters net_x(t)
detached. Because the state is then a running sum, s = cumsum(y^in g), the gradient is computed by one
vectorised pass over time after a sequential forward pass (no-grad) that provides y^c(t-1).

The modern LSTM (forget gate; Gers et al. 2000), gates i, f, g, o as torch.nn.LSTM:
    c(t) = f c(t-1) + i g,  h(t) = o tanh(c(t)),  with weight_ih, weight_hh, bias_ih, bias_hh like nn.LSTM.
torch has two biases, Keras one: the canonical bias is bias_ih + bias_hh; bias_hh is kept at zero and frozen,
otherwise every optimizer step would move the effective bias twice (docs/pitfalls.md).

The tanh RNN baseline: h(t) = tanh(W x(t) + U h(t-1) + b), full BPTT.
Canonical layout (harness.layout): kernels (in, G), recurrent kernels (H, G), one bias (G,); the 1997 block
stacks its G = n_blocks + n_cells + n_blocks columns as [input gates | cell inputs | output gates].
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from harness import conventions, layout
from harness.adapters import DENSE, AdaptedModel, Joint, TorchParams

from .paper import PARAM_RENAME, step_taps

# g(z) = 4 sigmoid(z) - 2 in [-2, 2] and h(z) = 2 sigmoid(z) - 1 in [-1, 1], written as the identical
# (G/2) tanh(z/2): "2 sigmoid - 1" cancels catastrophically near 0 (float32 relative errors of 1e-3 there).
G_SCALE = 4.0  # g's range is [-G_SCALE/2, G_SCALE/2]
H_SCALE = 2.0  # h's range is [-H_SCALE/2, H_SCALE/2]
GATE = torch.sigmoid  # 1997 input/output gates
OUTPUT_ACTIVATION = torch.sigmoid  # output units
TRUNCATE_RECURRENT = True  # when config.truncate: the paper's truncated gradient
FORGET_GATE = torch.sigmoid  # modern LSTM
MODERN_GATE = torch.sigmoid
MODERN_CELL = torch.tanh
RNN_ACTIVATION = torch.tanh
GATE_ORDER = ("i", "f", "g", "o")  # torch.nn.LSTM's stacking of the four gate blocks (Keras: i, f, c, o)
TRAIN_BIAS_HH = False  # see the docstring: the second torch bias stays zero
CARRY_CEC_PARTIALS = True  # per-step schedule: ds/dw accumulate over the sequence (App. A.2), never reset per step
tanh = torch.tanh
hard_sigmoid = nn.functional.hardsigmoid


def g_squash(z):
    return (0.5 * G_SCALE) * torch.tanh(0.5 * z)  # = G_SCALE sigmoid(z) - G_SCALE / 2


def h_squash(z):
    return (0.5 * H_SCALE) * torch.tanh(0.5 * z)  # = H_SCALE sigmoid(z) - H_SCALE / 2


def canonical_bias_grad(g_ih, g_hh):
    """d loss / d (bias_ih + bias_hh) = d loss / d bias_ih (both enter as a sum): never their sum."""
    return g_ih


def _uniform(shape, r, dtype):
    return nn.Parameter(torch.empty(shape, dtype=dtype).uniform_(-r, r))


class Memory1997(nn.Module):
    """n_blocks memory blocks of cells_per_block cells; weight_ih (G, I), weight_hh (G, R), bias (G,).

    The recurrent input r(t-1) is y^c(t-1) (R = n_cells), or with config.gate_feedback the whole hidden layer
    [y^in(t-1) | y^c(t-1) | y^out(t-1)] (R = G; Sec. 5.1: "the hidden layer is fully connected"). Without
    config.cell_bias the cell-input biases are held at zero by a constant mask (Sec. 5.1: only gates biased).
    """

    def __init__(self, c, dtype):
        super().__init__()
        self.nb, self.cs, self.nc = c.n_blocks, c.cells_per_block, c.n_cells
        self.recurrent, self.feedback = c.recurrent, c.gate_feedback
        G, r = 2 * self.nb + self.nc, c.init_range
        self.weight_ih = _uniform((G, c.n_in), r, dtype)
        self.weight_hh = _uniform((G, G if self.feedback else self.nc), r, dtype)
        self.bias = _uniform((G,), r, dtype)
        mask = torch.ones(G, dtype=dtype)
        if not c.cell_bias:
            mask[self.nb:self.nb + self.nc] = 0.0
        self.register_buffer("bias_mask", mask)
        with torch.no_grad():
            self.bias.mul_(mask)
            for j, b in enumerate(c.input_gate_bias):
                self.bias[j] = b
            for j, b in enumerate(c.output_gate_bias):
                self.bias[self.nb + self.nc + j] = b

    def recur(self, r):
        """The recurrent input r(t-1) W_hh; none in nets without recurrent connections (config.recurrent)."""
        return r @ self.weight_hh.T if self.recurrent else torch.zeros((), dtype=r.dtype, device=r.device)

    def source(self, i, h, o):
        """r(t): what the next step's net inputs see."""
        return torch.cat([i, h, o], dim=-1) if self.feedback else h

    def zx(self, x):
        return x @ self.weight_ih.T + self.bias * self.bias_mask

    def gates(self, z):
        nb, nc = self.nb, self.nc
        i = GATE(z[..., :nb])
        g = g_squash(z[..., nb:nb + nc])
        o = GATE(z[..., nb + nc:])
        return i, g, o

    def _step(self, zx, r, s, m):
        """One time step: zx = x(t) W + b precomputed, r = r(t-1), s = s_c(t-1), m (B, 1) mask."""
        i, g, o = self.gates(zx + self.recur(r))
        s_new = s + m * i.repeat_interleave(self.cs, dim=-1) * g
        h_new = o.repeat_interleave(self.cs, dim=-1) * h_squash(s_new)
        return i, g, o, s_new, torch.where(m > 0, self.source(i, h_new, o), r)

    def loop(self, x, m, with_taps):
        """The sequential pass: per-step taps (when with_taps), the cells' outputs y^c (B, T, C) and the
        recurrent sources r (B, T, R). Steps outside a sequence (m = 0) hold the state and outputs."""
        B, T, _ = x.shape
        zx = self.zx(x)
        s = torch.zeros(B, self.nc, dtype=x.dtype, device=x.device)
        r = torch.zeros(B, 2 * self.nb + self.nc if self.feedback else self.nc, dtype=x.dtype, device=x.device)
        taps, hs, rs = {}, [], []
        for t in range(T):
            i, g, o, s, r = self._step(zx[:, t], r, s, m[:, t, None])
            h = r[:, self.nb:self.nb + self.nc] if self.feedback else r
            if with_taps:
                taps.update(step_taps(t, i, g, s, o, h))
            hs.append(h)
            rs.append(r)
        return taps, torch.stack(hs, 1), torch.stack(rs, 1)

    def sequence(self, x, m, truncate, with_taps=False):
        """Per-step taps (when with_taps) and y^c(t) for all t, differentiable: the truncated gradient, or full
        BPTT. The loss, the gradients and the forward taps all come from here."""
        if truncate and TRUNCATE_RECURRENT:  # the paper's truncated gradient
            with torch.no_grad():
                _, held, rs = self.loop(x, m, with_taps=False)
            r_prev = torch.cat([torch.zeros_like(rs[:, :1]), rs[:, :-1]], dim=1)  # r(t-1), constants
            i, g, o = self.gates(self.zx(x) + self.recur(r_prev))
            s = torch.cumsum(m[..., None] * i.repeat_interleave(self.cs, dim=-1) * g, dim=1)  # the CEC
            # Steps outside a sequence (m = 0, no loss weight) hold the last output as the loop does, so that
            # truncation changes gradients only, never a forward value (Sec. 4: an approximation of the gradient).
            h = torch.where(m[..., None] > 0, o.repeat_interleave(self.cs, dim=-1) * h_squash(s), held)
            taps = {}
            if with_taps:
                for t in range(x.shape[1]):
                    taps.update(step_taps(t, i[:, t], g[:, t], s[:, t], o[:, t], h[:, t]))
            return taps, h
        taps, hs, _ = self.loop(x, m, with_taps)  # full BPTT through the sequential pass
        return taps, hs



class ModernLSTM(nn.Module):
    """LSTM with forget gate, parameters exactly as torch.nn.LSTM (gates i, f, g, o)."""

    def __init__(self, c, dtype):
        super().__init__()
        H, r = c.n_hidden, c.init_range
        self.H = H
        self.weight_ih_l0 = _uniform((4 * H, c.n_in), r, dtype)
        self.weight_hh_l0 = _uniform((4 * H, H), r, dtype)
        self.bias_ih_l0 = _uniform((4 * H,), r, dtype)
        self.bias_hh_l0 = nn.Parameter(torch.zeros(4 * H, dtype=dtype))

    def run(self, x, m, with_taps):
        B, T, _ = x.shape
        H = self.H
        zx = x @ self.weight_ih_l0.T + self.bias_ih_l0 + self.bias_hh_l0
        h = c = torch.zeros(B, H, dtype=x.dtype, device=x.device)
        taps, hs = {}, []
        for t in range(T):
            z = dict(zip(GATE_ORDER, (zx[:, t] + h @ self.weight_hh_l0.T).split(H, dim=-1), strict=True))
            i, f = MODERN_GATE(z["i"]), FORGET_GATE(z["f"])
            g, o = MODERN_CELL(z["g"]), MODERN_GATE(z["o"])
            mt = m[:, t, None] > 0
            c = torch.where(mt, f * c + i * g, c)
            h = torch.where(mt, o * MODERN_CELL(c), h)
            if with_taps:
                taps.update({f"t{t:03d}/lstm/input_gate": i, f"t{t:03d}/lstm/forget_gate": f,
                             f"t{t:03d}/lstm/cell_input": g, f"t{t:03d}/lstm/cell_state": c,
                             f"t{t:03d}/lstm/output_gate": o, f"t{t:03d}/lstm/hidden": h})
            hs.append(h)
        return taps, torch.stack(hs, 1), c


class BuiltinLSTM(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        self.lstm = nn.LSTM(c.n_in, c.n_hidden, num_layers=1, bias=True, batch_first=True, dropout=0.0,
                            bidirectional=False, proj_size=0, dtype=dtype)

    def run(self, x, m, with_taps):
        hs, (_, c) = self.lstm(x)
        return {}, hs, c[0]


class TanhRNN(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        H, r = c.n_hidden, c.init_range
        self.H = H
        self.weight_ih = _uniform((H, c.n_in), r, dtype)
        self.weight_hh = _uniform((H, H), r, dtype)
        self.bias = _uniform((H,), r, dtype)

    def run(self, x, m, with_taps):
        B, T, _ = x.shape
        zx = x @ self.weight_ih.T + self.bias
        h = torch.zeros(B, self.H, dtype=x.dtype, device=x.device)
        taps, hs = {}, []
        for t in range(T):
            h = torch.where(m[:, t, None] > 0, RNN_ACTIVATION(zx[:, t] + h @ self.weight_hh.T), h)
            if with_taps:
                taps[f"t{t:03d}/rnn/hidden"] = h
            hs.append(h)
        return taps, torch.stack(hs, 1)


class Net(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        self.c = c
        if c.model == "lstm1997":
            self.memory = Memory1997(c, dtype)
        elif c.model == "modern":
            self.lstm = (BuiltinLSTM if c.cell_impl == "builtin_torch" else ModernLSTM)(c, dtype)
        elif c.model == "rnn":
            self.rnn = TanhRNN(c, dtype)
        else:
            raise ValueError(f"unknown model {c.model!r}")
        self.output_layer = nn.Linear(c.n_cells, c.n_out, bias=c.output_bias, dtype=dtype)
        nn.init.uniform_(self.output_layer.weight, -c.init_range, c.init_range)
        if c.output_bias:
            nn.init.uniform_(self.output_layer.bias, -c.init_range, c.init_range)
        if c.shortcut:
            self.shortcut = nn.Linear(c.n_in, c.n_out, bias=False, dtype=dtype)
            nn.init.uniform_(self.shortcut.weight, -c.init_range, c.init_range)

    def head(self, hs, x):
        z = self.output_layer(hs)
        if self.c.shortcut:
            z = z + self.shortcut(x)
        return OUTPUT_ACTIVATION(z)

    def run(self, x, m, with_taps):
        """(taps, outputs): the forward taps (when with_taps) and the outputs the loss is computed from, from
        one pass."""
        c = self.c
        if c.model == "lstm1997":
            taps, hs = self.memory.sequence(x, m, c.truncate, with_taps)
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


def modern_lstm_joint(prefix: str) -> Joint:
    """torch's four LSTM tensors -> the canonical kernel, recurrent kernel and one bias (harness.layout); the
    gradient of the summed bias is either bias's gradient, never their sum."""
    names = [prefix + k for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")]

    def to_canonical(a):
        return {f"lstm/{k}": v for k, v in layout.lstm_from_torch(*(a[n] for n in names)).items()}

    def from_canonical(p):
        t = layout.lstm_to_torch(p["lstm/kernel"], p["lstm/recurrent_kernel"], p["lstm/bias"])
        return dict(zip(names, (t["weight_ih"], t["weight_hh"], t["bias_ih"], t["bias_hh"]), strict=True))

    def grads(g):
        return {"lstm/kernel": layout.dense_from_torch(g[names[0]]),
                "lstm/recurrent_kernel": layout.dense_from_torch(g[names[1]]),
                "lstm/bias": canonical_bias_grad(g[names[2]], g[names[3]])}

    return Joint(tuple(names), to_canonical, from_canonical, grads)


class Model(AdaptedModel):
    def __init__(self, config, seed, dtype="float32"):
        torch.manual_seed(seed)
        self.config = config
        self.dtype = getattr(torch, dtype)
        self.net = Net(config, self.dtype)
        if config.model == "modern":
            self._bias_hh().data.zero_()
            self._bias_hh().requires_grad_(TRAIN_BIAS_HH)
        joints = [modern_lstm_joint("lstm/lstm/" if config.cell_impl == "builtin_torch" else "lstm/")
                  ] if config.model == "modern" else []
        # The hand-written cells keep torch's (out, in) storage: weight_ih, weight_hh are dense kernels.
        self.params = TorchParams(self.net, "lstm torch Model", rename=PARAM_RENAME, joints=joints,
                                  layouts={"*/kernel": DENSE, "*/recurrent_kernel": DENSE})
        params = [p for p in self.net.parameters() if p.requires_grad]
        if config.optimizer == "sgd":
            self.opt = torch.optim.SGD(params, lr=config.lr, momentum=0.0, dampening=0.0, nesterov=False,
                                       weight_decay=0.0)
        else:
            self.opt = torch.optim.Adam(params, lr=config.lr, betas=(0.9, 0.999), eps=config.adam_epsilon,
                                        weight_decay=0.0, amsgrad=False)
        self._steps = 0

    def _bias_hh(self):
        return dict(self.net.named_parameters())["lstm.lstm.bias_hh_l0" if self.config.cell_impl == "builtin_torch"
                                                 else "lstm.bias_hh_l0"]

    def _tensors(self, batch):
        return tuple(self.on_device(torch.from_numpy(batch[k])) for k in ("x", "y", "w", "m"))

    def _loss(self, batch):
        """(loss, the outputs it is computed from)."""
        x, y, w, m = self._tensors(batch)
        out = self.net.run(x, m, with_taps=False)[1]
        total = (0.5 * w * ((out - y) ** 2).sum(-1)).sum()
        return (total / w.sum() if self.config.loss == "step_mean" else total), out

    def forward(self, batch, training=False):
        x, _, _, m = self._tensors(batch)
        with torch.no_grad():
            return {k: v.cpu().numpy() for k, v in self.net.run(x, m, with_taps=True)[0].items()}

    def grads(self, batch):
        self.net.zero_grad(set_to_none=True)
        loss = self._loss(batch)[0]
        loss.backward()
        out = self.params.grads()
        self.net.zero_grad(set_to_none=True)
        return loss.item(), out

    def train_step(self, batch):
        if self.config.schedule == "per_step":  # a weight change after every time step (PerStep1997)
            loss, updates, _ = per_step_run(self, batch, apply=True)
            return {"loss": loss, "updates": updates}
        self._steps += 1
        if self.config.optimizer == "adam":
            for g in self.opt.param_groups:
                g["eps"] = conventions.torch_adam_eps_matching_keras(self.config.adam_epsilon, 0.999, self._steps)
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss(batch)[0]
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def evaluate(self, batches):
        with torch.no_grad():
            return {"loss": float(np.mean([self._loss(b)[0].item() for b in batches]))}


# --- weight changes at every time step (Sec. 5.1's online learning, App. A's truncated RTRL-like rule) ------


class PerStep1997:
    """The 1997 net trained with a weight change after every time step of a sequence (config.schedule ==
    "per_step"; the paper's online rule, App. A.2). With the truncated gradient (App. A.1) the error of step t
    reaches the weights only
      - directly, through the output units and the output gates (their net inputs see r(t-1) as a constant), and
      - through the CEC: dE(t)/dw = e_s(t) ds(t)/dw for the cells' and input gates' weights, where the partials
        ds_c(t)/dw are the running sums App. A.2 keeps (RTRL-like, O(W) per step):
            ds_c(t)/dw_{c,m}  = ds_c(t-1)/dw_{c,m}  + y^in(t) g'(net_c(t)) z_m(t)
            ds_c(t)/dw_{in,m} = ds_c(t-1)/dw_{in,m} + g(net_c(t)) f'(net_in(t)) z_m(t),   z = [x(t); r(t-1); 1].
    The partials are accumulated with the weights of each step, as RTRL does: they are the exact truncated
    gradient only while the weights stand still (then the per-step gradients of a sequence sum to `grads`).
    Autograd gives the direct part, e_s(t) and the elementwise derivatives; the partials are explicit state."""

    def __init__(self, model):
        self.model, self.mem, self.net = model, model.net.memory, model.net

    def begin(self, B, dtype, device):
        mem = self.mem
        K = mem.weight_ih.shape[1] + mem.weight_hh.shape[1] + 1
        if self.model.config.optimizer != "sgd":
            raise ValueError("per-step updates are implemented for plain SGD (the paper's rule), not "
                             f"{self.model.config.optimizer!r}: set optimizer='sgd'")
        zeros = lambda *shape: torch.zeros(shape, dtype=dtype, device=device)  # noqa: E731
        self.s, self.r = zeros(B, mem.nc), zeros(B, mem.weight_hh.shape[1])
        self.h = zeros(B, mem.nc)
        self.p_cell, self.p_in = zeros(B, mem.nc, K), zeros(B, mem.nc, K)

    def step(self, x, y, w, m):
        """One time step (x (B, I), y (B, O), w (B,), m (B, 1)): the forward values, the step's loss and the
        gradient of that loss on every trainable parameter (.grad set); the state moves to t."""
        mem, nb, nc = self.mem, self.mem.nb, self.mem.nc
        net = mem.zx(x) + mem.recur(self.r)  # r(t-1) is a constant: the truncation
        with torch.enable_grad():
            net_d = net.detach().requires_grad_(True)
            i, g, o = mem.gates(net_d)
            d = torch.autograd.grad(i.sum() + g.sum() + o.sum(), net_d)[0]  # f'(net) of each unit
        i, g, o_d, di, dg = i.detach(), g.detach(), o.detach(), d[:, :nb], d[:, nb:nb + nc]
        i_c, di_c = i.repeat_interleave(mem.cs, dim=-1), di.repeat_interleave(mem.cs, dim=-1)
        z = torch.cat([x, self.r, torch.ones_like(x[:, :1])], dim=-1)
        keep = float(CARRY_CEC_PARTIALS)
        self.p_cell = keep * self.p_cell + (m * i_c * dg)[..., None] * z[:, None, :]
        self.p_in = keep * self.p_in + (m * g * di_c)[..., None] * z[:, None, :]
        self.s = self.s + m * i_c * g  # the CEC
        s_leaf = self.s.detach().requires_grad_(True)
        o = GATE(net[..., nb + nc:])  # differentiable: the output gates' own (untruncated) path
        h = torch.where(m > 0, o.repeat_interleave(mem.cs, dim=-1) * h_squash(s_leaf), self.h)
        out = self.net.head(h, x)
        loss = (0.5 * w * ((out - y) ** 2).sum(-1)).sum()
        params = [p for p in self.net.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, params + [s_leaf], allow_unused=True)
        e_s = grads[-1]  # dE(t)/ds(t) (B, C)
        through_cec = torch.cat([
            (e_s[..., None] * self.p_in).reshape(-1, nb, mem.cs, z.shape[-1]).sum(dim=(0, 2)),
            (e_s[..., None] * self.p_cell).sum(0),
            torch.zeros(nb, z.shape[-1], dtype=z.dtype, device=z.device)])  # (G, K): rows in-gates | cells | outs
        I = x.shape[-1]
        extra = {id(mem.weight_ih): through_cec[:, :I], id(mem.weight_hh): through_cec[:, I:-1] * mem.recurrent,
                 id(mem.bias): through_cec[:, -1] * mem.bias_mask}
        for p, gr in zip(params, grads[:-1], strict=True):
            gr = torch.zeros_like(p) if gr is None else gr
            p.grad = gr + extra[id(p)] if id(p) in extra else gr
        self.r = torch.where(m > 0, mem.source(i, h, o_d), self.r).detach()
        self.h = h.detach()
        return loss.detach(), out.detach()


def per_step_run(model, batch, apply: bool, on_step=None):
    """Walk a batch's sequences step by step; with `apply`, one optimizer step after every time step at which
    any sequence is active (m > 0). Returns (summed loss, updates, [canonical gradient of each step])."""
    x, y, w, m = model._tensors(batch)
    walker = PerStep1997(model)
    walker.begin(x.shape[0], x.dtype, x.device)
    total, updates, per_step = 0.0, 0, []
    for t in range(x.shape[1]):
        if not bool((m[:, t] > 0).any()):
            continue
        model.opt.zero_grad(set_to_none=True)
        loss, _ = walker.step(x[:, t], y[:, t], w[:, t], m[:, t, None])
        total += loss.item()
        if apply:
            model.opt.step()
            updates += 1
            if on_step is not None:
                on_step(t)
        else:
            per_step.append(model.params.grads())
    model.opt.zero_grad(set_to_none=True)
    return total, updates, per_step
