"""Goodfellow et al. 2014, "Generative Adversarial Nets" (framework-free: configs, experiments, claims).

Algorithm 1: for each training iteration, k discriminator steps, each on a minibatch of m data x and m
noise samples z, ascending  (1/m) sum [log D(x) + log(1 - D(G(z)))]; then one generator step on m fresh
noise samples, descending (1/m) sum log(1 - D(G(z))) (the saturating loss of Eq. 1) or, as the paper
recommends in Sec. 3 and its code does, ascending (1/m) sum log D(G(z)) (the non-saturating loss).
Both with SGD + momentum (the official code's learning rule), lr decayed by 1/1.000004 per update.

The networks are the official MNIST ones (goodfeli/adversarial, mnist.yaml; ../shared/PAPERS.md sec. 5):
  G: z (100, Gaussian) -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights U(-0.05, 0.05), biases 0, the
     output bias set to the logit of the training pixels' mean (init_sigmoid_bias_from_marginals);
  D: maxout 240 units x 5 pieces -> maxout 240 x 5 -> 1 sigmoid, weights U(-0.005, 0.005), with dropout:
     each layer's input kept with probability 0.8 (D's input) or 0.5 (the hidden layers), scaled by 1/p.
All randomness (z, dropout masks, minibatches) is drawn here with np.random.default_rng and passed in the
batch, so both frameworks see the same numbers.

The Parzen-window estimator is `parzen.py` (NumPy, shared by both frameworks).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from harness.errors import TrainingDivergedError
from harness.spec import AgreementCase, Band, BenchmarkCase, Experiment, Mutation, Ordering, Paper

from . import parzen


@dataclass(frozen=True)
class GANConfig:
    """Model, Algorithm 1 and the experiment's budget. Defaults: the official MNIST setup."""

    x_dim: int = 784
    z_dim: int = 100
    g_hidden: tuple[int, ...] = (1200, 1200)  # ReLU layers
    g_output: str = "sigmoid"  # "sigmoid" (pixels in [0, 1]) | "linear" (1-D toys)
    d_units: tuple[int, ...] = (240, 240)  # maxout layers
    d_pieces: int = 5
    d_keep: tuple[float, ...] = (0.8, 0.5, 0.5)  # keep probability of the input of each D layer (h0, h1, y)
    g_irange: float = 0.05
    d_irange: float = 0.005
    batch: int = 100  # m
    k: int = 1  # discriminator steps per iteration
    g_steps: int = 1  # generator steps per iteration (0: D alone, Proposition 1)
    generator_loss: str = "non-saturating"  # | "saturating"
    lr: float = 0.1
    lr_decay: float = 1.000004  # lr_t = lr / lr_decay^t, t = updates so far (per network)
    momentum: float = 0.5
    # the experiment's budget
    iterations: int = 1000
    n_samples: int = 10_000  # generated samples for the Parzen estimate
    n_valid: int = 1000  # validation images for sigma
    n_test: int = 10_000  # test images evaluated
    train_limit: int = 0  # 0: every training image (minus the validation split)


@dataclass(frozen=True)
class ToyConfig:
    """1-D experiments: data N(mu_d, sd_d^2); G either fixed at N(mu_g, sd_g^2) (Prop. 1) or trained."""

    gan: GANConfig
    mu_d: float = 4.0
    sd_d: float = 0.5
    mu_g: float = 0.0  # Prop. 1: the fixed linear generator x = sd_g z + mu_g
    sd_g: float = 1.0
    n_eval: int = 20_000


# --- batches: every random number of one Algorithm-1 iteration ----------------------------------------------


def mask(rng: np.random.Generator, keep: float, shape, dtype) -> np.ndarray:
    """Inverted dropout mask: 1/keep with probability keep, else 0 (ones when keep is 1)."""
    if keep >= 1.0:
        return np.ones(shape, dtype)
    return ((rng.random(shape) < keep) / keep).astype(dtype)


def d_widths(c: GANConfig) -> list[int]:
    """Widths of the inputs of D's layers (h0, h1, ..., y): the masks' widths."""
    return [c.x_dim, *c.d_units]


def draw_noise(rng: np.random.Generator, c: GANConfig, dtype: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """The batch of one iteration for data `x` (k, m, x_dim): z for each D step, z for the G step, and the
    dropout masks of D for each D step (2m rows: m real then m generated) and for the G step (m rows)."""
    k, m = c.k, c.batch
    batch = {"x": np.asarray(x, dtype).reshape(k, m, c.x_dim),
             "z": rng.standard_normal((k, m, c.z_dim)).astype(dtype),
             "z_g": rng.standard_normal((m, c.z_dim)).astype(dtype)}
    for j, (w, keep) in enumerate(zip(d_widths(c), c.d_keep, strict=True)):
        batch[f"d_mask{j}"] = mask(rng, keep, (k, 2 * m, w), dtype)
    for j, (w, keep) in enumerate(zip(d_widths(c), c.d_keep, strict=True)):
        batch[f"g_mask{j}"] = mask(rng, keep, (m, w), dtype)
    return batch


def batch_keys(c: GANConfig) -> tuple[str, ...]:
    n = len(c.d_units) + 1
    return ("x", "z", "z_g", *(f"d_mask{j}" for j in range(n)), *(f"g_mask{j}" for j in range(n)))


# --- experiments ------------------------------------------------------------------------------------------


def _check(out: dict, what: str, step: int) -> None:
    for key in ("loss", "g_loss"):
        if key in out and not math.isfinite(out[key]):
            raise TrainingDivergedError(f"gan {what}: {key} {out[key]} at iteration {step}")


def _sample(model, rng, c: GANConfig, n: int, dtype: str = "float32") -> np.ndarray:
    out = [model.generate({"z": rng.standard_normal((min(1000, n - i), c.z_dim)).astype(dtype)})
           for i in range(0, n, 1000)]
    return np.concatenate(out).astype(np.float64)


def _normal_pdf(x, mu, sd):
    return np.exp(-0.5 * ((x - mu) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))


def run_optimal_d(ctx, tc: ToyConfig) -> dict[str, float]:
    """Proposition 1: G fixed at N(mu_g, sd_g^2), D trained alone; compare D(x) with p_d / (p_d + p_g)."""
    c = tc.gan
    rng = np.random.default_rng(ctx.seed)
    model = ctx.make_model(c, seed=ctx.seed, dtype="float32")
    params = model.get_params()
    params["generator/y/kernel"] = np.full((1, 1), tc.sd_g, np.float32)
    params["generator/y/bias"] = np.full((1,), tc.mu_g, np.float32)
    model.set_params(params)
    for it in range(1, c.iterations + 1):
        x = rng.normal(tc.mu_d, tc.sd_d, (c.k, c.batch, 1))
        _check(model.train_step(draw_noise(rng, c, "float32", x)), "optimal_d", it)
        if it % 100 == 0:
            ctx.progress(100)
    lo, hi = min(tc.mu_d - 2 * tc.sd_d, tc.mu_g - 2 * tc.sd_g), max(tc.mu_d + 2 * tc.sd_d, tc.mu_g + 2 * tc.sd_g)
    grid = np.linspace(lo, hi, 201)
    pd, pg = _normal_pdf(grid, tc.mu_d, tc.sd_d), _normal_pdf(grid, tc.mu_g, tc.sd_g)
    # Only where the data or the generator put mass (D is unconstrained elsewhere): density > 5% of its peak.
    where = (pd > 0.05 * pd.max()) | (pg > 0.05 * pg.max())
    d = model.discriminate({"x": grid[:, None].astype(np.float32)})[:, 0].astype(np.float64)
    err = np.abs(d - pd / (pd + pg))[where]
    return {"max_abs_error": float(err.max()), "mean_abs_error": float(err.mean())}


def w1_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two equal-size 1-D samples (mean gap of the sorted values)."""
    return float(np.mean(np.abs(np.sort(a.ravel()) - np.sort(b.ravel()))))


def run_gauss1d(ctx, tc: ToyConfig) -> dict[str, float]:
    """Algorithm 1 on 1-D data N(mu_d, sd_d^2); G starts near 0, far from the data."""
    c = tc.gan
    rng = np.random.default_rng(ctx.seed)
    model = ctx.make_model(c, seed=ctx.seed, dtype="float32")
    for it in range(1, c.iterations + 1):
        x = rng.normal(tc.mu_d, tc.sd_d, (c.k, c.batch, 1))
        _check(model.train_step(draw_noise(rng, c, "float32", x)), "gauss1d", it)
        if it % 100 == 0:
            ctx.progress(100)
    g = _sample(model, rng, c, tc.n_eval)[:, 0]
    data = rng.normal(tc.mu_d, tc.sd_d, tc.n_eval)
    d_real = model.discriminate({"x": data[:, None].astype(np.float32)}).astype(np.float64)[:, 0]
    d_fake = model.discriminate({"x": g[:, None].astype(np.float32)}).astype(np.float64)[:, 0]
    eps = 1e-12
    value = float(np.mean(np.log(d_real + eps)) + np.mean(np.log(1 - d_fake + eps)))
    return {"w1": w1_1d(g, data), "abs_dmu": abs(float(g.mean()) - tc.mu_d),
            "sd_ratio": float(g.std()) / tc.sd_d, "d_on_fake": float(d_fake.mean()),
            "d_on_real": float(d_real.mean()), "value": value, "value_gap": abs(value + math.log(4.0))}


def _images(ds_x: np.ndarray) -> np.ndarray:
    return ds_x.reshape(len(ds_x), -1).astype(np.float32)


def run_mnist(ctx, c: GANConfig) -> dict:
    """Algorithm 1 on MNIST (or the bundled digits when MNIST is not found), then the Parzen estimate of
    generated samples, of the untrained generator's samples, and of a fitted isotropic Gaussian's samples."""
    from harness import data

    ds = data.load("mnist", ctx.data_dir)
    rng = np.random.default_rng(ctx.seed)
    x_all = _images(ds.x_train)
    c = dataclasses.replace(c, x_dim=x_all.shape[1])
    n_valid = min(c.n_valid, len(x_all) // 10)
    train, valid = x_all[:-n_valid], x_all[-n_valid:]
    if c.train_limit:
        train = train[: c.train_limit]
    test = _images(ds.x_test)[: c.n_test]

    model = ctx.make_model(c, seed=ctx.seed, dtype="float32")
    params = model.get_params()  # init_sigmoid_bias_from_marginals: the output bias is logit(mean pixel)
    p = np.clip(train.mean(axis=0), 1e-3, 1 - 1e-3)
    params["generator/y/bias"] = np.log(p / (1 - p)).astype(np.float32)
    model.set_params(params)

    def parzen_of(samples):
        return parzen.parzen_estimate(samples, valid, test)

    untrained = parzen_of(_sample(model, rng, c, c.n_samples))
    per_iter = c.k * c.batch
    order = rng.permutation(len(train))
    pos = 0
    for it in range(1, c.iterations + 1):
        if pos + per_iter > len(order):
            order, pos = rng.permutation(len(train)), 0
        x = train[order[pos:pos + per_iter]]
        pos += per_iter
        _check(model.train_step(draw_noise(rng, c, "float32", x)), "mnist", it)
        if it % 50 == 0:
            ctx.progress(50)
    trained = parzen_of(_sample(model, rng, c, c.n_samples))
    mu, sd = train.mean(axis=0, dtype=np.float64), float(train.std(axis=0, dtype=np.float64).mean())
    gaussian = parzen_of(mu + sd * rng.standard_normal((c.n_samples, c.x_dim)))
    return {"parzen_gan": trained.mean, "parzen_gan_se": trained.se, "parzen_gan_sigma": trained.sigma,
            "parzen_untrained": untrained.mean, "parzen_gaussian": gaussian.mean,
            "dataset": f"{ds.name}: {ds.subset} ({ds.source})"}


# --- configs ------------------------------------------------------------------------------------------------

TOY_GAN = GANConfig(x_dim=1, z_dim=1, g_hidden=(16, 16), g_output="linear", d_units=(16, 16), d_keep=(1, 1, 1),
                    g_irange=0.5, d_irange=0.5, batch=128, lr=0.05, lr_decay=1.0, momentum=0.5)
PROP1_GAN = dataclasses.replace(TOY_GAN, g_hidden=(), g_steps=0)
PROP1 = {"tiny": ToyConfig(gan=dataclasses.replace(PROP1_GAN, iterations=1500), mu_g=3.0, sd_g=1.0),
         "reduced": ToyConfig(gan=dataclasses.replace(PROP1_GAN, iterations=4000), mu_g=3.0, sd_g=1.0)}
GAUSS1D = {"tiny": ToyConfig(gan=dataclasses.replace(TOY_GAN, iterations=1500)),
           "reduced": ToyConfig(gan=dataclasses.replace(TOY_GAN, iterations=4000))}
SATURATING = {p: dataclasses.replace(t, gan=dataclasses.replace(t.gan, generator_loss="saturating"))
              for p, t in GAUSS1D.items()}
MNIST = {
    "tiny": GANConfig(g_hidden=(256, 256), d_units=(64, 64), iterations=300, n_samples=2000, n_valid=500,
                      n_test=1000),
    "reduced": GANConfig(iterations=1500, n_samples=10_000, n_valid=1000, n_test=10_000),
    "paper": GANConfig(iterations=250 * 500, n_samples=10_000, n_valid=1000, n_test=10_000),
}

# --- agreement ----------------------------------------------------------------------------------------------

SMALL = GANConfig(x_dim=6, z_dim=3, g_hidden=(5, 4), d_units=(4, 3), d_pieces=3, batch=4, k=2,
                  g_irange=0.5, d_irange=0.5, lr=0.1)
SMALL_SAT = dataclasses.replace(SMALL, generator_loss="saturating", g_output="linear", k=1, momentum=0.7)


def _batches(c: GANConfig):
    def make(rng, dtype, n):
        return [draw_noise(rng, c, dtype, rng.random((c.k, c.batch, c.x_dim))) for _ in range(n)]

    return make


def _bench_batch(c: GANConfig):
    return lambda rng, dtype: _batches(c)(rng, dtype, 1)[0]


SETTING_1D = "1-D data N(4, 0.5^2); G z(1-D Gaussian) -> 16 -> 16 ReLU -> linear, D maxout 16x5 -> 16x5 -> " \
             "sigmoid, no dropout; SGD lr 0.05 momentum 0.5, batch 128, k=1; {} iterations"

PAPER = Paper(
    key="gan",
    title="Generative Adversarial Nets",
    citation="I. J. Goodfellow, J. Pouget-Abadie, M. Mirza, B. Xu, D. Warde-Farley, S. Ozair, A. Courville, "
             "Y. Bengio. Generative Adversarial Nets. NIPS 2014.",
    year=2014,
    package="reproductions.gan",
    experiments=(
        Experiment(name="optimal_d", run=run_optimal_d, configs=PROP1, seeds={"tiny": 3, "reduced": 5},
                   dataset="generated:1-D Gaussians", units=lambda t: t.gan.iterations,
                   description="Prop. 1: D alone against a fixed G = N(3, 1), data N(4, 0.5^2)"),
        Experiment(name="gauss1d", run=run_gauss1d, configs=GAUSS1D, seeds={"tiny": 3, "reduced": 5},
                   dataset="generated:1-D Gaussian", units=lambda t: t.gan.iterations,
                   description="Algorithm 1, non-saturating G loss, data N(4, 0.5^2)"),
        Experiment(name="gauss1d_saturating", run=run_gauss1d, configs=SATURATING,
                   seeds={"tiny": 3, "reduced": 5}, dataset="generated:1-D Gaussian",
                   units=lambda t: t.gan.iterations, description="the same with the saturating G loss (Eq. 1)"),
        Experiment(name="mnist", run=run_mnist, configs=MNIST, seeds={"tiny": 1, "reduced": 1, "paper": 3},
                   dataset="mnist", units=lambda c: c.iterations,
                   description="Algorithm 1 on MNIST, Parzen log-likelihood of 10k samples (Table 1)"),
    ),
    claims=(),
    agreement=(
        AgreementCase(name="small", config=SMALL, make_batches=_batches(SMALL), depth=6, steps=8),
        AgreementCase(name="small-saturating", config=SMALL_SAT, make_batches=_batches(SMALL_SAT), depth=6,
                      steps=8),
    ),
    deviations=(),
)
