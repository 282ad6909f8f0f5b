"""LSTM: weight changes at every time step (Sec. 5.1's online learning, App. A.2's truncated RTRL-like rule).

The per-step schedule keeps the CEC's partials ds_c/dw as running sums. While the weights stand still, the error
of each step then reaches the weights exactly as the sequence-level truncated gradient has it, so the per-step
gradients of a sequence must sum to `grads` (an independent path: the vectorised cumsum pass). Training must
change the weights after every symbol, and the two twins must follow the same per-step trajectory.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reproductions.lstm import paper as P

EPS64 = np.finfo(np.float64).eps


def _impl(framework):
    from harness import registry

    return registry.impl_module(registry.get("lstm"), framework)


def _model(framework, config, seed=0):
    from harness import registry

    return registry.model_class(registry.get("lstm"), framework)(config, seed=seed, dtype="float64")


def _strings(n=2):
    return P._agree_reber_online(np.random.default_rng(3), "float64", n)


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_per_step_gradients_sum_to_the_truncated_sequence_gradient(framework, request):
    request.getfixturevalue(framework)
    batch = _strings()[0]
    online = _model(framework, P.AGREE_PER_STEP)
    whole = _model(framework, replace(P.REBER_LSTM, lr=0.1))
    whole.set_params(online.get_params())
    _, expected = whole.grads(batch)
    _, updates, per_step = _impl(framework).per_step_run(online, batch, apply=False)
    assert updates == 0 and len(per_step) == int(batch["m"].sum())
    scale = max(float(np.abs(g).max()) for g in expected.values())
    for name, g in expected.items():
        total = sum(step[name] for step in per_step)
        # summation order differs (per step vs one vectorised pass): a few ulps of the largest gradient per step
        assert np.abs(total - g).max() <= 16 * len(per_step) * EPS64 * scale, name
        if name.startswith("memory/"):
            assert np.abs(g).max() > 0, f"{name}: no gradient reaches it, the check would be empty"


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_weights_change_after_every_time_step(framework, request):
    request.getfixturevalue(framework)
    batch = _strings()[0]
    model = _model(framework, P.AGREE_PER_STEP)
    seen = [model.get_params()]

    def snapshot(t):
        seen.append({k: np.array(v, copy=True) for k, v in model.get_params().items()})

    loss, updates, _ = _impl(framework).per_step_run(model, batch, apply=True, on_step=snapshot)
    steps = int(batch["m"].sum())
    assert updates == steps == len(seen) - 1
    for t in range(steps):
        assert any(not np.array_equal(seen[t][k], seen[t + 1][k]) for k in seen[t]), f"no change at step {t}"
    assert np.isfinite(loss)
    out = model.train_step(batch)  # the schedule train_step uses: as many updates as symbols
    assert out["updates"] == steps


def test_twins_follow_the_same_per_step_trajectory(torch, tf):
    """Both twins from the same weights on the same strings, parameters compared after every time step."""
    strings = _strings(3)
    a, b = _model("torch", P.AGREE_PER_STEP), _model("tf", P.AGREE_PER_STEP, seed=1)
    start = a.get_params()
    b.set_params(start)
    scale = max(float(np.abs(v).max()) for v in start.values())
    tracks = {}
    for name, model in (("torch", a), ("tf", b)):
        track = tracks[name] = []
        for batch in strings:
            _impl(name).per_step_run(model, batch, apply=True, on_step=lambda t, m=model, tr=track: tr.append(
                {k: np.array(v, copy=True) for k, v in m.get_params().items()}))
    assert len(tracks["torch"]) == len(tracks["tf"]) == sum(int(s["m"].sum()) for s in strings)
    for step, (pa, pb) in enumerate(zip(tracks["torch"], tracks["tf"], strict=True), 1):
        for k in pa:
            # float64, two implementations' summation orders: ulps of the weights per update, far above noise
            assert np.abs(pa[k] - pb[k]).max() <= 64 * step * EPS64 * scale, (step, k)


def test_per_step_rejects_an_optimizer_it_does_not_implement():
    with pytest.raises(ValueError, match="plain SGD"):
        P.per_step(P.REBER_LSTM, optimizer="adam")


class _Oracle:
    """Outputs the legal next symbols (optionally wrong at the step that predicts the final T/P)."""

    def __init__(self, strings, wrong_final):
        self.legal = {s: P.reber_legal(lg) for s, lg in strings}
        self.wrong_final = wrong_final

    def forward(self, b):
        out = np.zeros(b["y"].shape)
        for i, n in enumerate(b["m"].sum(1).astype(int)):
            s = next(k for k, lg in self.legal.items() if len(lg) == n and np.array_equal(
                P.reber_sequence(k)[0], b["x"][i, :n]))
            out[i, :n] = self.legal[s]
            if self.wrong_final:
                out[i, n - 2] = 1.0 - out[i, n - 2]  # the other symbols win: the final T/P missed
        return {"output": out}


@pytest.mark.parametrize("wrong_final", [False, True])
def test_inner_and_final_split_where_a_string_goes_wrong(wrong_final):
    train, _ = P.reber_sets(np.random.default_rng(0), 12, 1)
    got = P.reber_inner_and_final(_Oracle(train, wrong_final), train, "train_")
    assert got == {"train_inner_correct": 1.0, "train_final_correct": 0.0 if wrong_final else 1.0}
