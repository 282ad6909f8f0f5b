"""The Gaussian Parzen-window estimator of the GAN reproduction (reproductions/gan/parzen.py), on cases with
known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reproductions.gan import parzen


def _log_normal(x, mu, sigma):
    """log N(x; mu, sigma^2 I), row by row."""
    d = x.shape[1]
    return -((x - mu) ** 2).sum(1) / (2 * sigma**2) - d * math.log(sigma * math.sqrt(2 * math.pi))


def test_parzen_with_one_sample_is_that_gaussian():
    rng = np.random.default_rng(0)
    x, s = rng.normal(size=(7, 5)), rng.normal(size=(1, 5))
    for sigma in (0.1, 0.5, 2.0):
        got = parzen.log_likelihoods(x, s, [sigma])[0]
        np.testing.assert_allclose(got, _log_normal(x, s[0], sigma), rtol=1e-12)


def test_parzen_is_the_mean_of_the_kernels():
    """Two samples: log((N(x; s1) + N(x; s2)) / 2), including far points where naive exp underflows."""
    x = np.array([[0.0, 0.0], [3.0, -1.0], [40.0, 40.0]])
    s = np.array([[1.0, 0.0], [-1.0, 2.0]])
    sigma = 0.3
    a, b = _log_normal(x, s[0], sigma), _log_normal(x, s[1], sigma)
    expected = np.logaddexp(a, b) - math.log(2)
    np.testing.assert_allclose(parzen.log_likelihoods(x, s, [sigma])[0], expected, rtol=1e-12)
    assert np.all(np.isfinite(parzen.log_likelihoods(x, s, [sigma])))


def test_parzen_of_many_gaussian_samples_is_the_smoothed_density():
    """Samples from N(0, 1) in 1-D: the kernel estimate tends to N(0, 1 + sigma^2)."""
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((200_000, 1))
    x = np.array([[-1.5], [0.0], [0.7], [2.0]])
    sigma = 0.5
    got = parzen.log_likelihoods(x, samples, [sigma])[0]
    np.testing.assert_allclose(got, _log_normal(x, 0.0, math.sqrt(1 + sigma**2)), atol=0.02)


def test_sigma_is_chosen_on_validation_and_test_reports_mean_and_standard_error():
    """Samples and validation points from N(0, 0.3^2 I): among widths around the best one, the estimator
    picks the grid point whose validation mean is highest, and reports mean and std/sqrt(n) on the test set."""
    rng = np.random.default_rng(2)
    d = 3
    samples, valid, test = (0.3 * rng.standard_normal((n, d)) for n in (4000, 500, 300))
    sigmas = [0.01, 0.1, 0.2, 5.0]
    sigma, valid_mean = parzen.select_sigma(samples, valid, sigmas)
    means = parzen.log_likelihoods(valid, samples, sigmas).mean(1)
    assert sigma == sigmas[int(np.argmax(means))] and valid_mean == pytest.approx(means.max())
    assert sigma in (0.1, 0.2)  # far too narrow or far too wide loses
    result = parzen.parzen_estimate(samples, valid, test, sigmas)
    ll = parzen.log_likelihoods(test, samples, [sigma])[0]
    assert result.sigma == sigma
    assert result.mean == pytest.approx(ll.mean(), rel=1e-12)
    assert result.se == pytest.approx(ll.std() / math.sqrt(len(test)), rel=1e-12)


def test_parzen_chunks_give_the_same_answer(monkeypatch):
    rng = np.random.default_rng(3)
    x, s = rng.random((25, 4)), rng.random((30, 4))
    whole = parzen.log_likelihoods(x, s, parzen.SIGMAS)
    monkeypatch.setattr(parzen, "CHUNK", 7)
    np.testing.assert_allclose(parzen.log_likelihoods(x, s, parzen.SIGMAS), whole, rtol=1e-12)


def test_parzen_matches_the_textbook_logsumexp():
    """log_likelihoods takes each row's maximum from one min of the distances and exponentiates in place: the
    same numbers as the textbook expression (a difference matrix, then logsumexp per sigma), far points too."""
    from scipy.special import logsumexp

    rng = np.random.default_rng(4)
    x, s = rng.random((40, 6)), np.concatenate([rng.random((50, 6)), 30 + rng.random((5, 6))])
    d2 = ((x[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    for k, sigma in enumerate(parzen.SIGMAS):
        textbook = (logsumexp(-d2 / (2 * sigma**2), axis=1) - math.log(len(s))
                    - x.shape[1] * math.log(sigma * math.sqrt(2 * math.pi)))
        # the distances come from norms and a product (squared_distances): error ~ eps * 30^2 * 6 / (2 * 0.1^2)
        np.testing.assert_allclose(parzen.log_likelihoods(x, s, parzen.SIGMAS)[k], textbook, rtol=1e-12, atol=1e-10)


def test_the_papers_sigma_grid():
    assert len(parzen.SIGMAS) == 10
    assert parzen.SIGMAS[0] == pytest.approx(0.1) and parzen.SIGMAS[-1] == pytest.approx(1.0)


def test_prop1_setting_states_the_grid_the_experiment_compares_on():
    """The setting text once said [2, 5] while run_optimal_d compared D on [1, 5]: it is now generated from
    the same grid_range the experiment calls."""
    from reproductions.gan import paper as gan

    lo, hi = gan.grid_range(gan.PROP1["reduced"])
    assert (lo, hi) == (1.0, 5.0)  # min(4 - 2 * 0.5, 3 - 2 * 1), max(4 + 2 * 0.5, 3 + 2 * 1)
    assert f"{gan.GRID_POINTS} grid points in [1, 5]" in gan.SETTING_PROP1


def test_gan_settings_follow_their_configs():
    """A changed budget or network shows in the claim settings (nothing in them is retyped)."""
    import dataclasses

    from reproductions.gan import paper as gan

    mnist = dataclasses.replace(gan.MNIST["reduced"], iterations=2950, d_units=(120, 120))
    text = gan._setting_mnist(gan.MNIST["tiny"], mnist)
    assert "D maxout 120x5 x2" in text and "2950 iterations = 5.0 epochs" in text
    toy = dataclasses.replace(gan.GAUSS1D["reduced"], gan=dataclasses.replace(gan.TOY_GAN, iterations=700, lr=0.02))
    assert "SGD lr 0.02" in gan._setting_1d(gan.GAUSS1D["tiny"], toy)
    assert "700 iterations" in gan._setting_1d(gan.GAUSS1D["tiny"], toy)


def test_mean_loss_is_np_mean():
    from reproductions.gan.paper import mean_loss

    rng = np.random.default_rng(5)
    for k in (1, 2, 3, 9):
        values = rng.normal(size=k).tolist()
        assert mean_loss(values) == float(np.mean(values))
