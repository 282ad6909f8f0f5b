"""The Gaussian Parzen-window log-likelihood estimate of Goodfellow et al. 2014 (Sec. 5, Table 1), NumPy only.

A kernel density estimate with isotropic Gaussian kernels of width sigma centred on N generated samples s_i:

    log p(x) = log (1/N) sum_i N(x; s_i, sigma^2 I)
             = logsumexp_i(-||x - s_i||^2 / (2 sigma^2)) - log N - d log(sigma sqrt(2 pi))

as in the official `parzen_ll.py` (goodfeli/adversarial): sigma is chosen from logspace(-1, 0, 10) by the
mean log-likelihood of a validation set, and the test figure is the mean over the test images with the
standard error std / sqrt(n_test). Everything is float64 and chunked so that 10k x 10k distance matrices
never sit in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGMAS = tuple(np.logspace(-1.0, 0.0, 10))  # parzen_ll.py: --sigma_start -1 --sigma_end 0 --cross_val 10
CHUNK = 1000


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True)))[:, 0]


def squared_distances(x: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """||x_j - s_i||^2 for every pair, (n_x, n_samples), float64 and never negative."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    s = np.asarray(samples, np.float64).reshape(len(samples), -1)
    d2 = (x * x).sum(1)[:, None] + (s * s).sum(1)[None, :] - 2.0 * (x @ s.T)
    return np.maximum(d2, 0.0)


def log_likelihoods(x: np.ndarray, samples: np.ndarray, sigmas) -> np.ndarray:
    """Per-point Parzen log-likelihoods for each sigma: array (len(sigmas), n_x), in nats."""
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    n, d = len(samples), x.shape[1]
    out = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), CHUNK):
        d2 = squared_distances(x[start:start + CHUNK], samples)
        for k, sigma in enumerate(sigmas):
            out[k, start:start + CHUNK] = (_logsumexp_rows(-d2 / (2.0 * sigma**2)) - np.log(n)
                                           - d * np.log(sigma * np.sqrt(2.0 * np.pi)))
    return out


@dataclass(frozen=True)
class ParzenResult:
    mean: float  # mean test log-likelihood (nats)
    se: float  # standard error: std / sqrt(n_test)
    sigma: float  # the width chosen on the validation set
    valid_mean: float  # the validation log-likelihood at that width


def select_sigma(samples: np.ndarray, valid: np.ndarray, sigmas=SIGMAS) -> tuple[float, float]:
    """The sigma with the highest mean validation log-likelihood (first one on ties), and that mean."""
    means = log_likelihoods(valid, samples, sigmas).mean(axis=1)
    best = int(np.argmax(means))
    return float(np.asarray(sigmas)[best]), float(means[best])


def parzen_estimate(samples: np.ndarray, valid: np.ndarray, test: np.ndarray, sigmas=SIGMAS) -> ParzenResult:
    """The paper's protocol: sigma on `valid`, then mean and standard error over `test`."""
    sigma, valid_mean = select_sigma(samples, valid, sigmas)
    ll = log_likelihoods(test, samples, [sigma])[0]
    return ParzenResult(float(ll.mean()), float(ll.std() / np.sqrt(len(ll))), sigma, valid_mean)
