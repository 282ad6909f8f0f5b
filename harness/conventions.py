"""Optimizer conventions that differ between torch and Keras, as plain maths (docs/pitfalls.md).

The implementations use these to configure each framework's own optimizer object to the same maths.
"""

from __future__ import annotations

import math
from contextlib import contextmanager


def torch_adam_eps_matching_keras(keras_epsilon: float, beta_2: float, step: int) -> float:
    """Keras Adam adds epsilon to sqrt(v) *before* bias correction ("epsilon hat"):
        p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
    torch adds it after:  p -= lr * m_hat / (sqrt(v_hat) + eps_t),  v_hat = v / (1 - b2^t).
    The two are identical when eps_t = eps / sqrt(1 - b2^t), so torch's group['eps'] is set to this
    before step t (1-based) to reproduce Keras exactly.
    """
    if step < 1:
        raise ValueError("Adam steps are 1-based")
    return keras_epsilon / math.sqrt(1.0 - beta_2**step)


def keras_adam_eps_matching_torch(torch_epsilon: float, beta_2: float, step: int) -> float:
    """The other direction, for a paper whose Adam is torch's (epsilon added after bias correction, as in
    ViT's flax code): Keras reproduces it exactly when its epsilon at step t (1-based) is
    eps * sqrt(1 - b2^t). The inverse of `torch_adam_eps_matching_keras`."""
    if step < 1:
        raise ValueError("Adam steps are 1-based")
    return torch_epsilon * math.sqrt(1.0 - beta_2**step)


def torch_momentum_buffer_rescale(old_lr: float, new_lr: float) -> float:
    """torch SGD keeps lr out of its buffer (v = mu v + g; p -= lr v), Keras and Rumelhart et al.'s
    Eq. 9 keep it in (m = mu m - lr g; p += m). When lr changes, multiplying torch's buffer by
    old_lr / new_lr keeps the step that carries over (lr * v) equal to Eq. 9's."""
    return old_lr / new_lr


def set_torch_sgd_lr(opt, lr: float, rescale=torch_momentum_buffer_rescale) -> None:
    """Set a torch SGD optimizer's learning rate to `lr`; in each parameter group whose rate changes, multiply
    the momentum buffers by rescale(old, new) so that the step carried over (lr * v) stays Eq. 9's (and
    Keras's) m. `rescale` is passed in so that an implementation's mutation tests can replace it."""
    for group in opt.param_groups:
        if group["lr"] != lr:
            scale = rescale(group["lr"], lr)
            for p in group["params"]:
                buf = opt.state.get(p, {}).get("momentum_buffer")
                if buf is not None:
                    buf.mul_(scale)
            group["lr"] = lr


@contextmanager
def keras_floatx(dtype: str):
    """Build Keras optimizers inside this. Keras stores `learning_rate` as a variable of
    `keras.backend.floatx()` (float32 by default) and casts it to the variable's dtype at each step, so a
    float64 model would be stepped with a float32-rounded rate (0.05 -> 0.050000000745): a 5e-10
    relative error at step 1 that the float64 trajectory check catches."""
    import keras

    old = keras.backend.floatx()
    keras.backend.set_floatx(dtype)
    try:
        yield
    finally:
        keras.backend.set_floatx(old)


def keras_scalar(value: float, dtype: str):
    """Pass Keras optimizer hyperparameters (momentum, beta_1, beta_2, epsilon) through this.

    Keras casts them with `ops.cast(self.momentum, variable.dtype)`, and a Python float goes through a
    float32 tensor on the way: cast(0.9, float64) = 0.8999999761581421. A NumPy scalar of the model's
    float64 is still a `float` to Keras's checks (a subclass) but converts exactly; in float32 mode the
    float32 rounding is the right one and Keras's checks refuse np.float32, so a Python float is returned.
    """
    import numpy as np

    return np.float64(value) if dtype == "float64" else float(value)
