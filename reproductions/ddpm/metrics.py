"""Sample-quality measures for the DDPM reproduction, NumPy only (shared by both frameworks).

- `frechet_distance`: ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}) between two Gaussians, the formula
  of FID (Heusel et al. 2017). Here it is computed on the hidden features of a small digit classifier that
  the harness trains itself (`DigitFeatures`): it is NOT the Inception FID and its values are not comparable
  with the paper's CIFAR-10 figures.
- `energy_distance`: 2 E||X - Y|| - E||X - X'|| - E||Y - Y'|| (Szekely & Rizzo), for the 2-D toys.
- `moons`: the two-moons toy data (as sklearn.datasets.make_moons, written out).
"""

from __future__ import annotations

import contextlib

import numpy as np


def _one_blas_thread():
    """The classifier's matrices are small: a multi-threaded BLAS on a busy 2-core machine ran it 10x slower
    (8.7 s vs 0.9 s). threadpoolctl comes with scikit-learn; without it, nothing is changed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _sqrtm_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """Frechet distance between N(mu1, cov1) and N(mu2, cov2). Tr((S1 S2)^{1/2}) is computed as
    Tr((S1^{1/2} S2 S1^{1/2})^{1/2}) (same eigenvalues, and symmetric, so eigh is exact and stable)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    s1 = _sqrtm_psd(cov1)
    inner = s1 @ cov2 @ s1
    tr_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2.0), 0.0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt)


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(features, np.float64)
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance_of(a: np.ndarray, b: np.ndarray) -> float:
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)

    def mean_dist(a, b):
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return float(np.sqrt(np.maximum(d2, 0.0)).mean())

    return 2.0 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def moons(rng: np.random.Generator, n: int, noise: float = 0.05) -> np.ndarray:
    """Two interleaving half circles (sklearn's make_moons), plus Gaussian noise, scaled to about [-1, 1]."""
    n_out = n // 2
    a = np.pi * rng.random(n_out)
    b = np.pi * rng.random(n - n_out)
    outer = np.stack([np.cos(a), np.sin(a)], axis=1)
    inner = np.stack([1.0 - np.cos(b), 1.0 - np.sin(b) - 0.5], axis=1)
    x = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    x = (x - np.array([0.5, 0.25])) / np.array([1.0, 0.5])
    return x[rng.permutation(n)]


FEATURES = 64  # width of the classifier's tanh layer: the dimension of the Frechet distance


class DigitFeatures:
    """A 64 -> 64 tanh -> 10 softmax classifier, trained here by full-batch gradient descent with momentum
    on images in [-1, 1]; its tanh layer is the feature space of the Frechet distance."""

    def __init__(self, x: np.ndarray, y: np.ndarray, hidden: int = FEATURES, steps: int = 400, lr: float = 0.5,
                 seed: int = 0):
        rng = np.random.default_rng(seed)
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        d, k = x.shape[1], int(y.max()) + 1
        self.w1 = rng.normal(0, 1 / np.sqrt(d), (d, hidden))
        self.b1 = np.zeros(hidden)
        self.w2 = rng.normal(0, 1 / np.sqrt(hidden), (hidden, k))
        self.b2 = np.zeros(k)
        onehot = np.eye(k)[y]
        params = [self.w1, self.b1, self.w2, self.b2]
        velocity = [np.zeros_like(p) for p in params]
        with _one_blas_thread():
            self._fit(x, onehot, params, velocity, steps, lr)

    def _fit(self, x, onehot, params, velocity, steps, lr):
        for _ in range(steps):
            h = np.tanh(x @ self.w1 + self.b1)
            logits = h @ self.w2 + self.b2
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g_logits = (p - onehot) / len(x)
            g_h = g_logits @ self.w2.T * (1 - h**2)
            grads = [x.T @ g_h, g_h.sum(0), h.T @ g_logits, g_logits.sum(0)]
            for p_, v, g in zip(params, velocity, grads, strict=True):
                v *= 0.9
                v -= lr * g
                p_ += v

    def features(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64).reshape(len(x), -1)
        return np.tanh(x @ self.w1 + self.b1)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(((self.features(x) @ self.w2 + self.b2).argmax(1) == y).mean())
