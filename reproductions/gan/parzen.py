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


def _rows(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float64).reshape(len(a), -1)


def squared_distances(x: np.ndarray, samples: np.ndarray, sample_norms: np.ndarray | None = None) -> np.ndarray:
    """||x_j - s_i||^2 for every pair, (n_x, n_samples), float64 and never negative; `sample_norms`, when given,
    are the samples' squared norms (computed once by a caller that takes several chunks of x)."""
    x, s = _rows(x), _rows(samples)
    norms = (s * s).sum(1) if sample_norms is None else sample_norms
    twice_dot = x @ s.T
    twice_dot *= 2.0  # exact: the same values as 2.0 * (x @ s.T), without another 10k-wide array
    d2 = (x * x).sum(1)[:, None] + norms[None, :]
    d2 -= twice_dot
    return np.maximum(d2, 0.0, out=d2)


def log_likelihoods(x: np.ndarray, samples: np.ndarray, sigmas) -> np.ndarray:
    """Per-point Parzen log-likelihoods for each sigma: array (len(sigmas), n_x), in nats.

    The row-wise logsumexp of -d2 / (2 sigma^2), written to spend no work twice: the samples are converted and
    their norms taken once, not per chunk; each row's maximum is -min(d2) / (2 sigma^2), the same number
    (correctly rounded division by a negative number is monotone), so one min serves every sigma; and the
    exponentials are taken in place in one buffer. The values are those of the textbook expression."""
    sigmas = np.atleast_1d(np.asarray(sigmas, np.float64))
    x, s = _rows(x), _rows(samples)
    norms = (s * s).sum(1)
    n, d = len(s), x.shape[1]
    out = np.empty((len(sigmas), len(x)))
    for start in range(0, len(x), CHUNK):
        d2 = squared_distances(x[start:start + CHUNK], s, norms)
        nearest = d2.min(axis=1)
        a = np.empty_like(d2)
        for k, sigma in enumerate(sigmas):
            scale = -(2.0 * sigma**2)
            m = nearest / scale  # = max over the row of d2 / scale
            np.divide(d2, scale, out=a)  # = -d2 / (2 sigma^2)
            a -= m[:, None]
            np.exp(a, out=a)
            out[k, start:start + CHUNK] = (m + np.log(a.sum(axis=1)) - np.log(n)
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
