"""Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models" (framework-free: configs, experiments,
claims, agreement cases). The process, the U-Net and the sampler are in torch_impl.py / tf_impl.py; the
block plan and config in configs.py; the sample-quality measures (NumPy) in metrics.py.

All randomness is drawn here with np.random.default_rng and passed in the batch: the training timesteps t,
the noise eps of q(x_t | x_0), the dropout masks of every residual block, and for sampling x_T and the noise
z of every step of Algorithm 2. So the same weights and the same batch give the same samples in both
frameworks, which the agreement cases check over whole chains.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from harness.plan import Workload
from harness.profiles import DataNeed, with_profile
from harness.spec import AgreementCase, Band, BenchmarkCase, Experiment, Mutation, Ordering, Paper
from harness.training import train_steps

from . import metrics
from .configs import DDPMConfig, mask_shapes, scaled, schedule_numpy, unet_plan

# --- batches --------------------------------------------------------------------------------------------------


def _mask(rng, keep, shape, dtype):
    if keep >= 1.0:
        return np.ones(shape, dtype)
    return ((rng.random(shape) < keep) / keep).astype(dtype)


def train_batch(rng: np.random.Generator, c: DDPMConfig, x0: np.ndarray, dtype: str) -> dict:
    """x0 with uniform t in {0..T-1}, eps ~ N(0, I), and one inverted-dropout mask per residual block."""
    b = {"x0": np.asarray(x0, dtype), "t": rng.integers(0, c.T, len(x0)).astype(np.int64),
         "noise": rng.standard_normal(np.shape(x0)).astype(dtype)}
    for key, shape in mask_shapes(c, len(x0)).items():
        b[key] = _mask(rng, 1.0 - c.dropout, shape, dtype)
    return b


def chain_noise(rng: np.random.Generator, c: DDPMConfig, n: int, dtype: str) -> dict:
    """x_T ~ N(0, I) and z_t ~ N(0, I) for every step of Algorithm 2 (z[t] is used at 0-based step t)."""
    return {"x_T": rng.standard_normal((n, *c.shape)).astype(dtype),
            "z": rng.standard_normal((c.T, n, *c.shape)).astype(dtype)}


# --- experiments --------------------------------------------------------------------------------------------



def _sample(model, rng, c: DDPMConfig, n: int, chunk: int = 1000) -> np.ndarray:
    return np.concatenate([model.sample(chain_noise(rng, c, min(chunk, n - i), "float32"))
                           for i in range(0, n, chunk)]).astype(np.float64)


def _digits():
    from harness import data

    ds = data.load("digits")
    return ds, ds.x_train * 2.0 - 1.0, ds.x_test * 2.0 - 1.0  # [0, 1] -> [-1, 1], as the paper scales pixels


@functools.cache
def _classifier() -> metrics.DigitFeatures:
    ds, train, _ = _digits()
    return metrics.DigitFeatures(train, ds.y_train)


def run_schedule(ctx, c: DDPMConfig) -> dict[str, float]:
    """The framework's own schedule tables at the paper's T=1000, and L_T = KL(q(x_T | x_0) || N(0, I))."""
    model = ctx.make_model(c, seed=ctx.seed, dtype="float64")
    tab = model.schedule()
    ref = schedule_numpy(c)
    ab_T = float(tab["alpha_bar"][-1])
    _, x, _ = _digits()
    x = x.reshape(len(x), -1)
    # per dimension: 0.5 * (ab x0^2 + (1 - ab) - 1 - log(1 - ab)), in bits
    kl = 0.5 * (ab_T * x**2 + (1 - ab_T) - 1 - math.log(1 - ab_T)) / math.log(2)
    ctx.progress(1)
    return {"alpha_bar_T": ab_T, "sqrt_alpha_bar_T": math.sqrt(ab_T),
            "max_rel_error_vs_numpy": float(np.max(np.abs(tab["alpha_bar"] / ref["alpha_bar"] - 1))),
            "prior_kl_bits_per_dim": float(kl.mean())}


def run_moons(ctx, c: DDPMConfig) -> dict[str, float]:
    """Train on fresh two-moons draws; energy distance between samples and as many fresh data points."""
    rng = np.random.default_rng(ctx.seed)
    model = ctx.make_model(c, seed=ctx.seed, dtype="float32")
    train_steps(ctx, model, steps=c.steps, next_batch=lambda step: train_batch(rng, c, metrics.moons(rng, c.batch),
                                                                               "float32"),
                where="ddpm moons", curve="moons", report_rest=False)
    samples = _sample(model, rng, c, c.n_samples)
    data = metrics.moons(rng, c.n_samples)
    return {"energy": metrics.energy_distance(samples, data),
            "energy_data": metrics.energy_distance(metrics.moons(rng, c.n_samples), data)}


def run_digits(ctx, c: DDPMConfig) -> dict:
    """Train on the 8x8 digits; Frechet distance of samples to the test images on the features of a classifier
    trained here (NOT Inception FID), with the train-vs-test distance as the floor."""
    ds, train, test = _digits()
    rng = np.random.default_rng(ctx.seed)
    model = ctx.make_model(c, seed=ctx.seed, dtype="float32")
    order, pos = rng.permutation(len(train)), 0

    def next_batch(step):
        nonlocal order, pos
        if pos + c.batch > len(order):
            order, pos = rng.permutation(len(train)), 0
        x0 = train[order[pos:pos + c.batch]]
        pos += c.batch
        return train_batch(rng, c, x0, "float32")

    train_steps(ctx, model, steps=c.steps, next_batch=next_batch, where="ddpm digits", curve="digits",
                report_rest=False)
    samples = _sample(model, rng, c, c.n_samples)
    feats = _classifier()  # deterministic: the same classifier for every run
    f_test = feats.features(test)
    ref = train[rng.choice(len(train), size=min(c.n_samples, len(train)), replace=False)]
    return {"fd": metrics.frechet_distance_of(feats.features(samples), f_test),
            "fd_train_vs_test": metrics.frechet_distance_of(feats.features(ref), f_test),
            "classifier_accuracy": feats.accuracy(test, ds.y_test),
            "dataset": ds.label()}


# --- configs --------------------------------------------------------------------------------------------------

# The paper's CIFAR-10 model and training (Sec. 4, App. B): 35.7M parameters, 800k steps of batch 128.
OFFICIAL = DDPMConfig(shape=(32, 32, 3), ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,),
                      groups=32, steps=800_000)
PAPER_SCHEDULE = DDPMConfig(arch="mlp", shape=(2,), T=1000)  # the schedule does not depend on the network
MOONS = DDPMConfig(arch="mlp", shape=(2,), **scaled(100), clip_denoised=False, lr=1e-3, warmup=100, batch=256,
                   mlp_hidden=128, mlp_layers=3, temb_dim=32, n_samples=2000)
DIGITS = DDPMConfig(arch="unet", shape=(8, 8, 1), **scaled(100), ch=16, ch_mult=(1, 2), num_res_blocks=1,
                    attn_resolutions=(4,), groups=8, dropout=0.1, lr=1e-3, warmup=100, batch=64, n_samples=500)


def _profiles(base: DDPMConfig, tiny: int, reduced: int, **tiny_overrides) -> dict:
    return {"tiny": dataclasses.replace(base, steps=tiny, **tiny_overrides),
            "reduced": dataclasses.replace(base, steps=reduced)}


def _mu(profiles: dict) -> dict:
    return {p: dataclasses.replace(c, objective="mu_mse") for p, c in profiles.items()}


MOONS_EPS = _profiles(MOONS, tiny=200, reduced=2000, n_samples=1000)
DIGITS_EPS = {"tiny": dataclasses.replace(DIGITS, steps=30, n_samples=64),
              "reduced": dataclasses.replace(DIGITS, steps=500, n_samples=400)}

# --- agreement ------------------------------------------------------------------------------------------------

# 4x4 images, two resolutions, attention at 2x2 (down1, mid, up1), every zero-init layer at full scale so the
# residual branches carry signal, clipping active (grad_clip below the gradient norm), T = 10: the whole chain.
UNET_TINY = DDPMConfig(arch="unet", shape=(4, 4, 1), T=10, beta_1=0.01, beta_T=0.2, ch=8, ch_mult=(1, 2),
                       num_res_blocks=1, attn_resolutions=(2,), groups=4, dropout=0.1, zero_init_scale=1.0,
                       lr=1e-3, warmup=3, grad_clip=0.5, batch=2)
UNET_MU_TRUE = dataclasses.replace(UNET_TINY, objective="mu_true", sigma2="beta_tilde", clip_denoised=False)
MLP_TINY = dataclasses.replace(MOONS, T=10, beta_1=0.01, beta_T=0.2, mlp_hidden=16, mlp_layers=2, temb_dim=8,
                               batch=8, warmup=5, lr=1e-2, objective="eps_true", grad_clip=0.1)  # clipping active
MLP_MU = dataclasses.replace(MLP_TINY, objective="mu_mse", sigma2="beta_tilde", clip_denoised=True)
UNET_LONG = dataclasses.replace(UNET_TINY, **scaled(100))


def _batches(c: DDPMConfig, chain: int = 2):
    def make(rng, dtype, n):
        out = []
        for k in range(n):
            b = train_batch(rng, c, rng.uniform(-1, 1, (c.batch, *c.shape)), dtype)
            if k == 0:
                b.update(chain_noise(rng, c, chain, dtype))
            out.append(b)
        return out

    return make


def _unet_depth(c: DDPMConfig, chain: bool = True) -> int:
    """Layers from input to loss (about 4 per residual block), times the chain length when forward runs it."""
    layers = sum(4 if b.kind == "res" else 2 for b in unet_plan(c))
    return layers * (c.T if chain else 1)


def _num(x: float) -> str:
    """1e-3 rather than 0.001: the way the paper writes rates."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}" if abs(x) < 0.01 else f"{x:g}"


def _process(c: DDPMConfig) -> str:
    return f"T={c.T} with beta {_num(c.beta_1)} .. {_num(c.beta_T)}"


def _adam(c: DDPMConfig) -> str:
    return f"Adam lr {_num(c.lr)} warmup {c.warmup}, clip {c.grad_clip:g}, batch {c.batch}"


def _unet(c: DDPMConfig) -> str:
    attn = ", ".join(f"{r}x{r}" for r in c.attn_resolutions)
    blocks = f"{c.num_res_blocks} res block{'s' if c.num_res_blocks > 1 else ''} per level"
    return (f"U-Net ch {c.ch}, ch_mult {c.ch_mult}, {blocks}, attention at {attn}, "
            f"GroupNorm {c.groups} groups, dropout {c.dropout:g}")


def _setting_moons(tiny: DDPMConfig, reduced: DDPMConfig) -> str:
    c = reduced
    return (f"two moons (fresh draws), MLP {c.mlp_layers}x{c.mlp_hidden} swish with a {c.temb_dim}-dim sinusoidal t "
            f"input, {_process(c)} (the paper's range x 1000/T), {_adam(c)}, {c.steps} steps (tiny: {tiny.steps}); "
            f"energy distance of {c.n_samples} samples (tiny: {tiny.n_samples}) to as many fresh data points")


def _setting_digits(tiny: DDPMConfig, reduced: DDPMConfig) -> str:
    c = reduced
    return (f"scikit-learn 8x8 digits in [-1, 1] (1437 train / 360 test), {_unet(c)}, {_process(c)}, {_adam(c)}, "
            f"{c.steps} steps (tiny: {tiny.steps}), no EMA; Frechet distance of {c.n_samples} samples (tiny: "
            f"{tiny.n_samples}) to the test images on the {metrics.FEATURES} tanh features of a classifier the "
            f"harness trains (NOT Inception FID; not comparable with the paper's CIFAR-10 numbers)")


SETTING_MOONS = _setting_moons(MOONS_EPS["tiny"], MOONS_EPS["reduced"])
SETTING_DIGITS = _setting_digits(DIGITS_EPS["tiny"], DIGITS_EPS["reduced"])

CLAIMS = (
    Band(id="schedule-alpha-bar-T", experiment="schedule", metric="alpha_bar_T", lo=4.03e-5, hi=4.04e-5,
         reported=4.036e-5, source="Sec. 4 (T=1000, beta linear 1e-4 .. 0.02); docs/papers.md 6(c)1",
         setting="the paper's schedule exactly (each framework's own float64 tables)",
         text="alpha_bar_T of the linear schedule is 4.036e-5 (sqrt: 0.006353)"),
    Band(id="schedule-matches-numpy", experiment="schedule", metric="max_rel_error_vs_numpy", lo=0.0, hi=1e-12,
         reported=0.0, source="Eq. 4", setting="the paper's schedule exactly",
         text="every alpha_bar_t of the framework's tables matches NumPy's to 1e-12"),
    Band(id="prior-kl", experiment="schedule", metric="prior_kl_bits_per_dim", report_only=True,
         reported="about 1e-5 bits/dim", source="Sec. 4 (L_T)", setting="the paper's schedule; x_0 = the 8x8 "
         "digits scaled to [-1, 1]", text="L_T = KL(q(x_T | x_0) || N(0, I)) in bits per dimension"),
    Ordering(id="eps-beats-mu-moons",
             equivalence=0.01,
             equivalence_reason=("energy distance on moons scaled to about [-1, 1]: 0.01, a small fraction of the "
                                 "data's unit scale"),
             a=("moons_eps", "energy"), b=("moons_mu", "energy"), relation="<",
             reported="eps + L_simple FID 3.17 vs mu + MSE unstable", source="Table 2", setting=SETTING_MOONS,
             text="epsilon prediction with L_simple gives samples closer to the data (energy distance) than mu "
                  "prediction with the unweighted MSE"),
    Ordering(id="eps-beats-mu-digits",
             equivalence=0.5,
             equivalence_reason=("Frechet distance on the harness classifier's tanh features: 0.5 (no scale from the "
                                 "paper; features lie in [-1, 1])"),
             a=("digits_eps", "fd"), b=("digits_mu", "fd"), relation="<",
             reported="eps + L_simple FID 3.17 vs mu + MSE unstable", source="Table 2", setting=SETTING_DIGITS,
             text="epsilon prediction with L_simple gives a lower classifier-feature Frechet distance than mu "
                  "prediction with the unweighted MSE"),
    Band(id="digits-frechet", experiment="digits_eps", metric="fd", report_only=True,
         reported="FID 3.17 (CIFAR-10, Inception features; NOT comparable)", source="Table 1", setting=SETTING_DIGITS,
         text="Frechet distance on the harness classifier's features (NOT Inception FID) for eps + L_simple"),
    Band(id="digits-frechet-floor", experiment="digits_eps", metric="fd_train_vs_test", report_only=True,
         reported="FID 5.24 of the model against the test set (Table 1)", source="Table 1", setting=SETTING_DIGITS,
         text="the same distance between real training images and the test images (the floor of the measure)"),
)

PAPER = Paper(
    key="ddpm",
    title="Denoising Diffusion Probabilistic Models",
    citation="J. Ho, A. Jain, P. Abbeel. Denoising Diffusion Probabilistic Models. NeurIPS 2020.",
    year=2020,
    package="reproductions.ddpm",
    experiments=(
        Experiment(name="schedule", run=run_schedule, configs={"tiny": PAPER_SCHEDULE, "reduced": PAPER_SCHEDULE,
                   "paper": PAPER_SCHEDULE}, seeds={"tiny": 1, "reduced": 1, "paper": 1},
                   dataset="digits", units=lambda c: 1, description="the linear schedule's alpha_bar_T and L_T",
                   deterministic=True),
        Experiment(name="moons_eps", run=run_moons, configs=MOONS_EPS, seeds={"tiny": 2, "reduced": 5},
                   dataset="generated:two-moons", units=lambda c: c.steps,
                   description="eps prediction, L_simple, on two moons"),
        Experiment(name="moons_mu", run=run_moons, configs=_mu(MOONS_EPS), seeds={"tiny": 2, "reduced": 5},
                   dataset="generated:two-moons", units=lambda c: c.steps,
                   description="mu prediction, unweighted MSE, on two moons"),
        Experiment(name="digits_eps", run=run_digits, configs=DIGITS_EPS, seeds={"tiny": 1, "reduced": 5},
                   dataset="digits", units=lambda c: c.steps, description="eps prediction, L_simple, 8x8 digits"),
        Experiment(name="digits_mu", run=run_digits, configs=_mu(DIGITS_EPS), seeds={"tiny": 1, "reduced": 5},
                   dataset="digits", units=lambda c: c.steps, description="mu prediction, unweighted MSE, digits"),
    ),
    claims=CLAIMS,
    agreement=(
        # Forward taps, the whole T=10 sampling chain and all gradients; no optimizer steps (tracing the U-Net's
        # train step is slow, NOTES.md): the U-Net's Adam trajectories are in the slow tier, the MLP's (the same
        # process, Adam, warmup and clipping) in the fast tier.
        AgreementCase(name="unet-chain", config=UNET_TINY, make_batches=_batches(UNET_TINY),
                      depth=_unet_depth(UNET_TINY), steps=0),
        AgreementCase(name="mlp-eps-true", config=MLP_TINY, make_batches=_batches(MLP_TINY, chain=4),
                      depth=3 * MLP_TINY.T, steps=10),
        AgreementCase(name="mlp-mu-mse", config=MLP_MU, make_batches=_batches(MLP_MU, chain=4),
                      depth=3 * MLP_MU.T, steps=10, dtypes=("float64",)),
        AgreementCase(name="unet-adam", config=UNET_TINY, make_batches=_batches(UNET_TINY),
                      depth=_unet_depth(UNET_TINY), steps=4, dtypes=("float64",), slow=True),
        # float32 U-Net Adam trajectories are not compared: Adam's first steps turn nearly cancelling float32
        # gradients into O(lr) parameter differences (NOTES.md); float32 Adam trajectories are checked on the MLP.
        AgreementCase(name="unet-mu-true", config=UNET_MU_TRUE, make_batches=_batches(UNET_MU_TRUE),
                      depth=_unet_depth(UNET_MU_TRUE), steps=3, dtypes=("float64",), slow=True),
        AgreementCase(name="unet-chain-100", config=UNET_LONG, make_batches=_batches(UNET_LONG),
                      depth=_unet_depth(UNET_LONG), steps=0, dtypes=("float64",), slow=True),
    ),
    mutations=(
        Mutation(name="groupnorm-eps-keras-default", framework="tf", attribute="GN_EPS",
                 replacement=lambda m: 1e-3, case="unet-chain", first_divergence="down0/res0"),
        Mutation(name="downsample-symmetric-padding", framework="torch", attribute="DOWN_PAD",
                 replacement=lambda m: (1, 1, 1, 1), case="unet-chain", first_divergence="down0/downsample"),
        Mutation(name="timestep-embedding-cos-sin", framework="tf", attribute="timestep_embedding",
                 replacement=lambda m: (lambda t, dim, dtype, f=m.timestep_embedding:  # [cos, sin]
                                        m.tf.roll(f(t, dim, dtype), shift=dim // 2, axis=1)),
                 case="unet-chain", first_divergence="temb"),
        Mutation(name="attention-softmax-over-queries", framework="tf", attribute="ATTN_SOFTMAX_AXIS",
                 replacement=lambda m: 1, case="unet-chain", first_divergence="down1/attn0"),
        Mutation(name="noise-added-at-the-last-step", framework="torch", attribute="NOISE_AT_LAST_STEP",
                 replacement=lambda m: True, case="unet-chain", first_divergence="chain/step10"),
        Mutation(name="per-variable-clipnorm", framework="tf", attribute="CLIP_OPTION",
                 replacement=lambda m: (lambda c: {"clipnorm": c.grad_clip}), case="mlp-eps-true",
                 first_divergence="step 1 "),
    ),
    benchmarks=(
        BenchmarkCase(name="digits-train-step", config=DIGITS, method="train_step", items=DIGITS.batch,
                      unit="images", make_batch=lambda rng, d: train_batch(
                          rng, DIGITS, rng.uniform(-1, 1, (DIGITS.batch, 8, 8, 1)), d)),
        BenchmarkCase(name="digits-sample-T100", config=DIGITS, method="sample", items=100, unit="samples",
                      make_batch=lambda rng, d: chain_noise(rng, DIGITS, 100, d)),
        BenchmarkCase(name="moons-sample-T100", config=MOONS, method="sample", items=1000, unit="samples",
                      make_batch=lambda rng, d: chain_noise(rng, MOONS, 1000, d)),
        # the 2-D toy's training step, so `reproduce --plan` can price it (x0 drawn uniform: the cost is the same)
        BenchmarkCase(name="moons-train-step", config=MOONS, method="train_step", items=MOONS.batch, unit="points",
                      make_batch=lambda rng, d: train_batch(rng, MOONS, rng.uniform(-1, 1, (MOONS.batch, 2)), d)),
    ),
    deviations=(
        f"Reduced scale: {_process(DIGITS)} (the beta range scaled by 1000/T) instead of {_process(OFFICIAL)}, "
        "except the schedule check, which uses the paper's T=1000 exactly.",
        f"Data: two moons and scikit-learn's 8x8 digits instead of CIFAR-10/LSUN; a small {_unet(DIGITS)}; the "
        f"paper's: {_unet(OFFICIAL)} (35.7M parameters); an MLP for the 2-D toy.",
        f"Adam lr {_num(DIGITS.lr)} with {DIGITS.warmup} warmup steps (the paper: {_num(OFFICIAL.lr)} with "
        f"{OFFICIAL.warmup}), batch {DIGITS.batch}/{MOONS.batch} (paper {OFFICIAL.batch}), a few thousand steps "
        f"(paper {OFFICIAL.steps // 1000}k); no EMA of the weights (paper 0.9999: meaningless over so few steps); "
        "no random flips.",
        "Sample quality: Frechet distance on the features of a 64-unit classifier the harness trains on the digits "
        "(NOT Inception FID) and energy distance for the 2-D toy; the paper reports IS/FID on 50k samples.",
        "The true-bound objectives (*_true) use the Gaussian L_{t-1} term for every t, including t=1 (the paper's "
        "L_0 is a discretized Gaussian decoder) and drop the constant variance terms; they are agreement-tested, "
        "not claimed.",
        "Sampling follows the official p_sample: predicted x_0 clipped to [-1, 1] (images; not for the 2-D toy, "
        "whose data exceed [-1, 1]), sigma_t^2 = beta_t (fixedlarge).",
        "The 'nin' layers (1x1 dense over channels) are stored as 1x1 convolutions (canonical kernel (1, 1, in, out)).",
    ),
    notes={"claims": "docs/papers.md section 6(c)"},
)


# ---------------------------------------------------------------------------------------------------------
# Paper profile. The schedule check is the paper's already. The image experiments: the official CIFAR-10 model
# and training (OFFICIAL: Sec. 4 and App. B, 35.7M parameters, 800k steps of batch 128, T=1000) on the 50k
# CIFAR-10 training images; run_digits reads only the 8x8 digits, so the data check stops that run even with
# CIFAR-10 present (`--plan` sizes it). The two-moons toy has no counterpart in the paper: the reduced run with
# more seeds.

TOY_SEEDS = 10
PAPER_IMAGES = dataclasses.replace(OFFICIAL, n_samples=50_000)  # Sec. 4: FID on 50k samples
PAPER_CONFIGS = {"schedule": PAPER_SCHEDULE, "moons_eps": MOONS_EPS["reduced"], "moons_mu": _mu(MOONS_EPS)["reduced"],
                 "digits_eps": PAPER_IMAGES, "digits_mu": dataclasses.replace(PAPER_IMAGES, objective="mu_mse")}
_NO_PIPELINE = ("the image experiments read only the bundled 8x8 digits (no CIFAR-10 input pipeline or Inception "
                "FID here yet)")


def unet_macs(c: DDPMConfig) -> float:
    """Multiply-adds of one U-Net forward pass (3x3 convs, attention projections and products), from the plan."""
    total = 0.0
    for b in unet_plan(c):
        pixels = b.res * b.res
        if b.kind == "res":
            total += 9 * pixels * (b.cin * b.cout + b.cout * b.cout) + (pixels * b.cin * b.cout if b.cin != b.cout
                                                                          else 0)
        elif b.kind == "attn":
            total += 4 * pixels * b.cin * b.cin + 2 * pixels * pixels * b.cin
        else:
            total += 9 * pixels * b.cin * b.cout
    return total


def _setting_images(c: DDPMConfig) -> str:
    return (f"CIFAR-10's 50k training images in [-1, 1], {_unet(c)}, {_process(c)}, {_adam(c)}, {c.steps:,} steps, "
            f"FID on {c.n_samples:,} samples (Inception features)")


def _paper_setting(claim) -> str:
    if claim.setting == SETTING_DIGITS:
        return _setting_images(PAPER_IMAGES)
    if claim.setting == SETTING_MOONS:
        return f"the paper has no 2-D experiment: the reduced run with {TOY_SEEDS} seeds; {SETTING_MOONS}"
    return claim.setting_for("reduced")  # the schedule claims: the paper's schedule at every profile


_IMAGE_WORK = Workload(bench="digits-train-step", items=lambda c: c.steps * c.batch * unet_macs(c) / unet_macs(DIGITS),
                       schedule=lambda c: f"{c.steps:,} steps of batch {c.batch}",
                       basis="images through a train step, weighted by the U-Net's multiply-adds per image over the "
                             "bench case's digits U-Net; sampling (1000 steps per sample) is not priced")
_MOONS_WORK = Workload(bench="moons-train-step", items=lambda c: c.steps * c.batch,
                       schedule=lambda c: f"{c.steps:,} steps of batch {c.batch}",
                       basis="2-D points through a train step")
PAPER = with_profile(
    PAPER, "paper", configs=PAPER_CONFIGS,
    seeds={"schedule": 1, "moons_eps": TOY_SEEDS, "moons_mu": TOY_SEEDS, "digits_eps": 1, "digits_mu": 1},
    settings={c.id: _paper_setting(c) for c in CLAIMS},
    data=tuple(DataNeed(experiment=name, dataset="cifar10", train=50_000, test=10_000, blocked=_NO_PIPELINE,
                        source="Sec. 4: CIFAR-10 (50k training images)") for name in ("digits_eps", "digits_mu")),
    workloads={"schedule": Workload(bench=None, items=lambda c: 0, schedule=lambda c: "no training",
                                    basis="nothing: the schedule is computed, not trained"),
               "moons_eps": _MOONS_WORK, "moons_mu": _MOONS_WORK, "digits_eps": _IMAGE_WORK, "digits_mu": _IMAGE_WORK})
