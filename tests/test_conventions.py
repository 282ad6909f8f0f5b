"""The optimizer conventions of harness.conventions, checked as plain maths (no framework)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from harness import conventions


def _keras_adam_step(m, v, t, lr, b1, b2, eps_hat):
    """Keras: epsilon added to sqrt(v) before bias correction."""
    return lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (math.sqrt(v) + eps_hat)


def _torch_adam_step(m, v, t, lr, b1, b2, eps):
    """torch: epsilon added after bias correction."""
    return lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)


@given(m=st.floats(-1.0, 1.0), v=st.floats(0.0, 1.0), t=st.integers(1, 10_000),
       eps=st.floats(1e-10, 1e-3), b2=st.sampled_from([0.99, 0.999, 0.9999]))
def test_adam_epsilon_conversions_give_the_same_step_in_both_directions_and_invert_each_other(m, v, t, eps, b2):
    b1, lr = 0.9, 1e-3
    torch_eps = conventions.torch_adam_eps_matching_keras(eps, b2, t)
    assert math.isclose(_torch_adam_step(m, v, t, lr, b1, b2, torch_eps), _keras_adam_step(m, v, t, lr, b1, b2, eps),
                        rel_tol=1e-12, abs_tol=1e-300)
    keras_eps = conventions.keras_adam_eps_matching_torch(eps, b2, t)
    assert math.isclose(_keras_adam_step(m, v, t, lr, b1, b2, keras_eps), _torch_adam_step(m, v, t, lr, b1, b2, eps),
                        rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(conventions.keras_adam_eps_matching_torch(torch_eps, b2, t), eps, rel_tol=1e-12)


def test_the_conventions_differ_without_conversion_and_steps_are_one_based():
    # at step 1 with v ~ eps^2 the two conventions give visibly different steps (docs/pitfalls.md)
    m, v, t, b2 = 1e-8, 1e-16, 1, 0.999
    assert not math.isclose(_torch_adam_step(m, v, t, 1.0, 0.9, b2, 1e-8),
                            _keras_adam_step(m, v, t, 1.0, 0.9, b2, 1e-8), rel_tol=1e-3)
    for convert in (conventions.torch_adam_eps_matching_keras, conventions.keras_adam_eps_matching_torch):
        with np.testing.assert_raises(ValueError):
            convert(1e-8, b2, 0)


def test_momentum_buffer_rescale_keeps_the_carried_over_step():
    # torch: p -= lr * v; Eq. 9: p += m with m = -lr v. After an lr change the carried step lr_new * v' must
    # equal lr_old * v.
    v, old, new = 0.37, 0.1, 0.02
    assert math.isclose(new * v * conventions.torch_momentum_buffer_rescale(old, new), old * v)


def test_set_torch_sgd_lr_rescales_momentum_buffers_only_when_the_rate_changes(torch):
    from harness.conventions import set_torch_sgd_lr

    w = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = torch.full((2,), 2.0, dtype=torch.float64)
    opt.step()  # buffer v = g = 2
    set_torch_sgd_lr(opt, 0.1)
    assert opt.state[w]["momentum_buffer"].tolist() == [2.0, 2.0]
    set_torch_sgd_lr(opt, 0.05)  # lr halves: v doubles, so lr * v (Eq. 9's m) carries over unchanged
    assert opt.param_groups[0]["lr"] == 0.05
    assert opt.state[w]["momentum_buffer"].tolist() == [4.0, 4.0]
