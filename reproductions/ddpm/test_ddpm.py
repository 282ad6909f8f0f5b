"""The framework-free sample metrics of the DDPM reproduction (reproductions/ddpm/metrics.py), on cases with
known answers: the Frechet distance and the energy distance."""

from __future__ import annotations

import numpy as np
import pytest

from reproductions.ddpm import metrics

# --- DDPM: Frechet distance and energy distance (reproductions/ddpm/metrics.py) ------------------------------


def test_frechet_distance_of_identical_gaussians_is_zero():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T + 0.1 * np.eye(6)
    assert metrics.frechet_distance(np.ones(6), cov, np.ones(6), cov) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_in_one_dimension():
    """d = (m1 - m2)^2 + (s1 - s2)^2 for N(m1, s1^2) and N(m2, s2^2)."""
    assert metrics.frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_frechet_distance_of_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 1.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_of_non_commuting_covariances_matches_the_matrix_square_root():
    """Tr((S1 S2)^{1/2}) against scipy's sqrtm of the (non-symmetric) product."""
    from scipy import linalg

    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + np.eye(4), b @ b.T + np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_from_samples_approaches_the_analytic_value():
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 1.0, (200_000, 2))
    y = rng.normal(0.5, 2.0, (200_000, 2))
    assert metrics.frechet_distance_of(x, y) == pytest.approx(2 * 0.25 + 2 * 1.0, abs=0.03)


def test_energy_distance():
    """Zero in expectation for the same distribution; 2|a - b| for two point masses; grows with a shift."""
    rng = np.random.default_rng(7)
    assert metrics.energy_distance([[0.0, 0.0]], [[3.0, 4.0]]) == pytest.approx(10.0)
    x, y = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
    same = metrics.energy_distance(x, y)
    assert abs(same) < 0.01
    assert metrics.energy_distance(x, y + [1.0, 0.0]) > 10 * abs(same)


def test_moons_are_two_clusters_in_range():
    x = metrics.moons(np.random.default_rng(8), 1000)
    assert x.shape == (1000, 2) and np.abs(x).max() < 2.0
    assert metrics.moons(np.random.default_rng(8), 1000) == pytest.approx(x)


def test_ddpm_settings_follow_their_configs():
    """Claim settings and the scale deviations are generated from the configs the experiments run."""
    import dataclasses

    from reproductions.ddpm import paper as ddpm

    moons = dataclasses.replace(ddpm.MOONS_EPS["reduced"], steps=3000, **ddpm.scaled(50))
    text = ddpm._setting_moons(ddpm.MOONS_EPS["tiny"], moons)
    assert "T=50 with beta 2e-3 .. 0.4" in text and "3000 steps (tiny: 200)" in text
    assert "2 res blocks per level" in ddpm._unet(ddpm.OFFICIAL)
    assert "1 res block per level" in ddpm.SETTING_DIGITS
    assert f"on the {metrics.FEATURES} tanh features" in ddpm.SETTING_DIGITS
    assert any("instead of T=1000 with beta 1e-4 .. 0.02" in d for d in ddpm.PAPER.deviations)
