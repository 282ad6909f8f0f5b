"""Dosovitskiy et al. 2020, "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale" (ViT),
framework-free declaration.

The model (Sec. 3.1, Eqs. 1-4; written by hand in torch_impl.py and tf_impl.py, layout in configs.py): patch
embedding, [class] token, learned 1-D position embeddings, pre-LayerNorm encoder blocks of multi-head
self-attention and a GELU MLP, the pre-training MLP head. Table 1's Base/Large/Huge configurations are in
configs.py (their parameter counts are checked in test_vit.py). Optimizer (App. B.1): Adam
(beta1 0.9, beta2 0.999, epsilon 1e-8 after bias correction), decoupled weight decay, linear warmup and
linear decay of the learning rate; lr 3e-3, weight decay 0.3 and dropout 0.1 as Table 3 gives for training on
ImageNet, the paper's smallest pre-training set (JFT: wd 0.1, as App. B.1 says).

Claims at reduced scale (docs/papers.md section 7(c); Figs. 3-4 and Table 8): trained from scratch on small
data, a small ResNet (the paper's BiT baselines are pre-activation ResNets with GroupNorm) beats a ViT of
similar size, and the gap shrinks as the training set grows; removing the position embedding hurts.
Data: MNIST (28 x 28, patches 7 x 7: 16 tokens and the [class] token) from the data directory; the bundled
8 x 8 digits (patches 2 x 2, also 16 tokens) when no MNIST is found.

Batches are dicts of NumPy arrays: x (B, H, W, C) images in [0, 1], y (B,) int64 labels, and in training
the ViT's dropout masks "mask/embed", "mask/block{i}/attn", "mask/block{i}/mlp_hidden", "mask/block{i}/mlp_out"
(values 0 or 1 / (1 - rate)), drawn here with NumPy so that both frameworks drop the same units.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from harness import data as harness_data
from harness.plan import Workload
from harness.profiles import DataNeed, with_profile
from harness.spec import AgreementCase, Band, BenchmarkCase, BudgetCurve, Experiment, Mutation, Ordering, Paper
from harness.training import train_steps

from .configs import ResNetConfig, ViTConfig, model_depth, param_count, resnet_blocks

CITATION = ("A. Dosovitskiy, L. Beyer, A. Kolesnikov, D. Weissenborn, X. Zhai, T. Unterthiner, M. Dehghani, "
            "M. Minderer, G. Heigold, S. Gelly, J. Uszkoreit, N. Houlsby. An Image is Worth 16x16 Words: "
            "Transformers for Image Recognition at Scale. ICLR 2021 (arXiv:2010.11929, 2020).")

# ---------------------------------------------------------------------------------------------------------
# Batches


def dropout_masks(rng: np.random.Generator, c: ViTConfig, batch: int, dtype: str) -> dict[str, np.ndarray]:
    """Inverted-dropout masks for one ViT training batch (empty when the rate is 0)."""
    if c.arch != "vit" or not c.dropout:
        return {}
    n, keep = c.n_patches + 1, 1.0 - c.dropout
    shapes = {"embed": (batch, n, c.dim)}
    for i in range(c.depth):
        shapes.update({f"block{i}/attn": (batch, n, c.dim), f"block{i}/mlp_hidden": (batch, n, c.mlp),
                       f"block{i}/mlp_out": (batch, n, c.dim)})
    scale = np.asarray(1.0 / keep, dtype)
    return {"mask/" + k: (rng.random(s, dtype=np.float32) < keep).astype(dtype) * scale for k, s in shapes.items()}


def random_batches(config, batch: int = 4):
    """Agreement batches: uniform images, random labels, fresh dropout masks per step."""

    def make(rng, dtype, n):
        out = []
        for _ in range(n):
            b = {"x": rng.random((batch, config.image_size, config.image_size, config.channels)).astype(dtype),
                 "y": rng.integers(0, config.classes, batch).astype(np.int64)}
            b.update(dropout_masks(rng, config, batch, dtype))
            out.append(b)
        return out

    return make


# ---------------------------------------------------------------------------------------------------------
# Reduced models

# ~70k parameters each (param_count below): ViT D=64, 2 blocks, 4 heads, MLP 128, 16 patches of 7 x 7; the
# ResNet: 3x3 stem (16 ch, stride 2), pre-activation blocks of 32 and 64 channels, both stride 2.
REDUCED_VIT = ViTConfig()
REDUCED_RESNET = ResNetConfig()


@dataclass(frozen=True)
class DataSizeConfig:
    """One training-set size: the ResNet, the ViT (and optionally the ViT without position embeddings) trained
    from scratch on the same `n_train` images, in the same batch order, for `steps` steps each."""

    n_train: int
    steps: int
    batch: int = 64
    n_test: int = 2000  # the first n_test test images
    dataset: str = "mnist"
    vit: ViTConfig = REDUCED_VIT
    resnet: ResNetConfig = REDUCED_RESNET
    no_pos: bool = False  # also train the ViT without position embeddings (Table 8)
    warmup_steps: int = 20


@cache
def _load(name: str, data_dir: str | None):
    return harness_data.load(name, data_dir)


def _for_data(c, ds):
    """Adapt a model config to the loaded images (the digits fallback is 8 x 8: ViT patches 2 x 2)."""
    size, channels = ds.x_train.shape[1], ds.x_train.shape[3]
    if c.arch == "vit" and size != c.image_size:
        return replace(c, image_size=size, channels=channels, patch=max(1, size // c.grid))
    return replace(c, image_size=size, channels=channels)


def _train_eval(ctx, model_config, cfg: DataSizeConfig, x, y, test_batches, what: str, metric: str = "") -> float:
    """Train, then the test accuracy; the accuracy is also logged during training as curve `metric` (default
    "`what`_acc"; inference mode, no draws from the training generators)."""
    model = ctx.make_model(model_config, seed=ctx.seed, dtype="float32")
    order_rng = np.random.default_rng([ctx.seed, 1])  # the same batch order for every model of this seed
    mask_rng = np.random.default_rng([ctx.seed, 2])
    perm, pos = order_rng.permutation(len(x)), 0

    def next_batch(step):
        nonlocal perm, pos
        if pos + cfg.batch > len(perm):
            perm, pos = order_rng.permutation(len(x)), 0
        idx = perm[pos:pos + cfg.batch]
        pos += cfg.batch
        batch = {"x": x[idx], "y": y[idx]}
        batch.update(dropout_masks(mask_rng, model_config, len(idx), "float32"))
        return batch

    train_steps(ctx, model, steps=cfg.steps, next_batch=next_batch, where=f"vit {what} (n={cfg.n_train})",
                curve=f"{what} n={cfg.n_train}", tick=50,
                evaluate=lambda: {metric or f"{what}_acc": model.evaluate(test_batches)["accuracy"]})
    return model.evaluate(test_batches)["accuracy"]


def run_data_size(ctx, cfg: DataSizeConfig) -> dict:
    root = harness_data.resolve_data_dir(ctx.data_dir)  # cache on the resolved directory, not on None
    ds = _load(cfg.dataset, str(root) if root is not None else None)
    rng = np.random.default_rng([ctx.seed, 0])
    n = min(cfg.n_train, len(ds.x_train))
    idx = np.sort(rng.choice(len(ds.x_train), size=n, replace=False))  # a fresh random subset per seed
    x, y = ds.x_train[idx], ds.y_train[idx]
    xt, yt = ds.x_test[:cfg.n_test], ds.y_test[:cfg.n_test]
    test_batches = [{"x": xt[i:i + 500], "y": yt[i:i + 500]} for i in range(0, len(xt), 500)]
    schedule = {"warmup_steps": cfg.warmup_steps, "total_steps": cfg.steps}
    resnet = replace(_for_data(cfg.resnet, ds), **schedule)
    vit = replace(_for_data(cfg.vit, ds), **schedule)
    out = {"resnet_acc": _train_eval(ctx, resnet, cfg, x, y, test_batches, "resnet"),
           "vit_acc": _train_eval(ctx, vit, cfg, x, y, test_batches, "vit")}
    out["gap"] = out["resnet_acc"] - out["vit_acc"]
    out["n_train"] = float(n)
    if cfg.no_pos:
        out["vit_nopos_acc"] = _train_eval(ctx, replace(vit, pos_embed=False), cfg, x, y, test_batches, "vit-no-pos",
                                           "vit_nopos_acc")
        out["pos_gain"] = out["vit_acc"] - out["vit_nopos_acc"]
    out["dataset"] = f"{ds.name}: {ds.subset}; {n} training images drawn per seed ({ds.source})"
    return out


def _units(cfg: DataSizeConfig) -> int:
    return cfg.steps * (3 if cfg.no_pos else 2)


# Reduced profile: (training images, AdamW steps of 64) per size, 5 seeds, both frameworks. As in the paper
# (Table 3: ImageNet 300 epochs, ImageNet-21k 90, JFT 7) a larger set gets more steps but fewer epochs:
# 38, 16 and 6.4 epochs here (run times: NOTES.md).
SIZES = {"n_small": (250, 150), "n_mid": (1000, 250), "n_large": (4000, 400)}
TINY_STEPS = 30


def _profiles(name: str, no_pos: bool = False) -> dict[str, DataSizeConfig]:
    n, steps = SIZES[name]
    return {"tiny": DataSizeConfig(n_train=n, steps=TINY_STEPS, n_test=500, no_pos=no_pos, warmup_steps=5),
            "reduced": DataSizeConfig(n_train=n, steps=steps, no_pos=no_pos)}


EXPERIMENTS = tuple(
    Experiment(name=name, run=run_data_size, configs=_profiles(name, no_pos=(name == "n_large")),
               seeds={"tiny": 1, "reduced": 5}, dataset="mnist", units=_units,
               description=f"ResNet vs ViT{' (and ViT without position embeddings)' if name == 'n_large' else ''} "
                           f"from scratch on {SIZES[name][0]} MNIST images, {SIZES[name][1]} steps")
    for name in SIZES
)

def _num(x: float) -> str:
    """3e-3 rather than 0.003: the way the paper's tables write rates."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}" if abs(x) < 0.01 else f"{x:g}"


def _describe(v: ViTConfig, r: ResNetConfig, d: DataSizeConfig) -> str:
    """The reduced setting in words, from the configs the experiments run (nothing retyped)."""
    return (f"{d.dataset.upper()} from scratch, {{n}} random training images per seed ({{steps}} steps of {d.batch}), "
            f"the first {d.n_test} test images; ViT (D={v.dim}, {v.depth} blocks, {v.heads} heads, MLP {v.mlp}, "
            f"{v.patch}x{v.patch} patches, dropout {v.dropout:g}; {param_count(v):,} params) vs pre-activation "
            f"GroupNorm ResNet ({param_count(r):,} params); AdamW lr {_num(v.lr)}, wd {v.weight_decay:g} (Table 3's "
            f"ImageNet row), warmup {d.warmup_steps} then linear decay; no augmentation")


SETTING = _describe(REDUCED_VIT, REDUCED_RESNET, DataSizeConfig(n_train=0, steps=0))


def _setting(*names: str) -> str:
    return SETTING.format(n=" vs ".join(str(SIZES[k][0]) for k in names),
                          steps=" vs ".join(str(SIZES[k][1]) for k in names))


CLAIMS = (
    Ordering(id="resnet-beats-vit-small-data",
             equivalence=0.02,
             equivalence_reason=("difference of test accuracies: 2 points, below Table 8's 2.8-point position-"
                                 "embedding effect"),
             a=("n_small", "resnet_acc"), b=("n_small", "vit_acc"), relation=">",
             source="Figs. 3-4 (Sec. 4.3)", setting=_setting("n_small"),
             reported="ViT-B/32 'much worse' than ResNet50 on the 9M JFT subset",
             text="trained from scratch on the smallest set, the ResNet's test accuracy beats the ViT's"),
    Ordering(id="gap-shrinks-with-data",
             equivalence=0.02,
             equivalence_reason=("difference of test accuracies: 2 points, below Table 8's 2.8-point position-"
                                 "embedding effect"),
             a=("n_small", "gap"), b=("n_large", "gap"), relation=">",
             source="Figs. 3-4 (Sec. 4.3)", setting=_setting("n_small", "n_large"),
             reported="ViT overtakes ResNets from 90M+ JFT images",
             text="the ResNet - ViT accuracy gap is smaller on the largest set than on the smallest"),
    Ordering(id="gap-shrinks-small-to-mid", a=("n_small", "gap"), b=("n_mid", "gap"), relation=">",
             source="Figs. 3-4 (Sec. 4.3)", setting=_setting("n_small", "n_mid"),
             report_only=True, text="the gap at the middle size, against the smallest"),
    Band(id="gap-small", experiment="n_small", metric="gap", report_only=True, source="Figs. 3-4",
         setting=_setting("n_small"), text="ResNet - ViT test accuracy, smallest set"),
    Band(id="gap-mid", experiment="n_mid", metric="gap", report_only=True, source="Figs. 3-4",
         setting=_setting("n_mid"), text="ResNet - ViT test accuracy, middle set"),
    Band(id="gap-large", experiment="n_large", metric="gap", report_only=True, source="Figs. 3-4",
         setting=_setting("n_large"), text="ResNet - ViT test accuracy, largest set"),
    Band(id="vit-accuracy-large", experiment="n_large", metric="vit_acc", report_only=True, source="Figs. 3-4",
         setting=_setting("n_large"), text="ViT test accuracy on the largest set"),
    Ordering(id="position-embedding-helps",
             equivalence=0.02,
             equivalence_reason=("difference of test accuracies: 2 points, below Table 8's 2.8-point position-"
                                 "embedding effect"),
             a=("n_large", "vit_acc"), b=("n_large", "vit_nopos_acc"),
             relation=">", source="Table 8 (App. D.4)", reported="5-shot ImageNet linear: 1-D 0.642 vs none 0.614",
             setting=_setting("n_large") + "; the same ViT without E_pos",
             text="the ViT with learned 1-D position embeddings beats the same ViT without them"),
    Band(id="position-embedding-gain", experiment="n_large", metric="pos_gain", report_only=True,
         source="Table 8 (App. D.4)", reported=0.642 - 0.614, setting=_setting("n_large"),
         text="test accuracy with minus without position embeddings"),
)

# --- diagnoses of the claims that do not reproduce (harness.diagnosis) -------------------------------------


def _large_set(experiment: str, cfg: DataSizeConfig, n_train) -> DataSizeConfig:
    """Only the large set grows; its steps grow as the reduced sizes' do (x1.6 per x4 images: 250 -> 400 -> 640).
    The no-position-embedding ViT is left out: this claim does not read it."""
    if experiment != "n_large":
        return cfg
    steps = round(400 * (n_train / 4000) ** (1 / 3))
    return replace(cfg, n_train=int(n_train), steps=steps, no_pos=False)


BUDGET_CURVES = (
    BudgetCurve(claim="gap-shrinks-with-data", axis="large-set images", values=(1000, 4000, 16000),
                configure=_large_set, seeds=2,
                note="the paper's effect appears from 90M+ images (Figs. 3-4); here the largest MNIST subset grows "
                     "x4 per budget, the small set (250 images) stays"),
)
DIAGNOSES = ()

# ---------------------------------------------------------------------------------------------------------
# Agreement

# 8 x 8 x 3 images (3 channels so the (i, j, c) patch flatten order is exercised), 4 patches of 4 x 4.
AGREE_VIT = ViTConfig(image_size=8, channels=3, patch=4, dim=16, depth=2, heads=2, mlp=32, head_hidden=16,
                      dropout=0.1, zero_head=False, warmup_steps=3, total_steps=10)
# The paper's own init (zero head kernel), no position embeddings, a linear head.
AGREE_VIT_PLAIN = replace(AGREE_VIT, pos_embed=False, head_hidden=0, zero_head=True, dropout=0.0)
AGREE_RESNET = ResNetConfig(image_size=8, channels=3, stem_width=8, widths=(16, 32), strides=(1, 2), groups=4,
                            warmup_steps=3, total_steps=10)
AGREE_REDUCED = replace(REDUCED_VIT, warmup_steps=5, total_steps=20, zero_head=False)

AGREEMENT = (
    AgreementCase(name="vit", config=AGREE_VIT, make_batches=random_batches(AGREE_VIT), depth=model_depth(AGREE_VIT),
                  steps=10),
    AgreementCase(name="resnet", config=AGREE_RESNET, make_batches=random_batches(AGREE_RESNET),
                  depth=model_depth(AGREE_RESNET), steps=10),
    # One side uses its framework's built-in attention layer, with converted weights, the other the hand-written
    # one: the conversion users need when they port a ViT onto these layers.
    # Forward taps and gradients only in the fast tier (the optimizer path is the "vit" case's).
    AgreementCase(name="vit-vs-torch-builtin-attention", config=replace(AGREE_VIT, attention_impl="builtin_torch"),
                  make_batches=random_batches(AGREE_VIT), depth=model_depth(AGREE_VIT), steps=0,
                  dtypes=("float64",)),
    AgreementCase(name="vit-vs-keras-builtin-attention", config=replace(AGREE_VIT, attention_impl="builtin_tf"),
                  make_batches=random_batches(AGREE_VIT), depth=model_depth(AGREE_VIT), steps=0,
                  dtypes=("float64",)),
    # Slow tier (still run by `agree`): float32 of the built-ins, other config branches, the reduced configs.
    AgreementCase(name="vit-vs-keras-builtin-attention-float32", config=replace(AGREE_VIT, attention_impl="builtin_tf"),
                  make_batches=random_batches(AGREE_VIT), depth=model_depth(AGREE_VIT), steps=10,
                  dtypes=("float32",), slow=True),
    AgreementCase(name="vit-vs-torch-builtin-attention-float32",
                  config=replace(AGREE_VIT, attention_impl="builtin_torch"), make_batches=random_batches(AGREE_VIT),
                  depth=model_depth(AGREE_VIT), steps=10, dtypes=("float32",), slow=True),
    AgreementCase(name="vit-no-pos-linear-head", config=AGREE_VIT_PLAIN, make_batches=random_batches(AGREE_VIT_PLAIN),
                  depth=model_depth(AGREE_VIT_PLAIN), steps=10, slow=True),
    AgreementCase(name="vit-reduced-config", config=AGREE_REDUCED, make_batches=random_batches(AGREE_REDUCED, 16),
                  depth=model_depth(AGREE_REDUCED), steps=20, slow=True),
    # float64 only: in float32 this trajectory leaves the linear-growth rule at step 16 (max_rel 1.1e-3 against
    # 9.0e-4): Adam at lr 3e-3 divides tiny gradients by their own root-mean-square, so float32 rounding in
    # near-zero gradient entries grows faster than linearly. The agreement protocol compares such runs in float64
    # and as distributions over seeds (the reproduction's torch-vs-tf consistency test), not by widening bands.
    AgreementCase(name="resnet-reduced-config", config=replace(REDUCED_RESNET, warmup_steps=5, total_steps=20),
                  make_batches=random_batches(REDUCED_RESNET, 16), depth=model_depth(REDUCED_RESNET), steps=20,
                  dtypes=("float64",), slow=True),
)

MUTATIONS = (
    Mutation(name="layernorm-eps-keras-default", framework="tf", attribute="LN_EPS", replacement=lambda m: 1e-3,
             case="vit", first_divergence="block0/ln1"),
    Mutation(name="gelu-tanh-approximation", framework="tf", attribute="GELU_APPROXIMATE",
             replacement=lambda m: True, case="vit", first_divergence="block0/mlp_hidden"),
    Mutation(name="qkv-kernel-not-transposed", framework="torch", attribute="qkv_block_from_torch",
             replacement=lambda m: (lambda a: np.array(a, copy=True)), case="vit",
             first_divergence="block0/attn/query/kernel (torch round trip)"),
    Mutation(name="patch-flatten-order-swapped", framework="torch", attribute="PATCH_AXES",
             replacement=lambda m: (0, 2, 4, 1, 5, 3), case="vit", first_divergence="patch_embed"),
    Mutation(name="adam-epsilon-keras-convention", framework="tf", attribute="ADAM_EPSILON_HAT",
             replacement=lambda m: (lambda eps, beta2, step: eps), case="vit", first_divergence="step 1 "),
    Mutation(name="weight-decay-coupled-l2", framework="torch", attribute="OPTIMIZER",
             replacement=lambda m: m.torch.optim.Adam, case="vit", first_divergence="step 1 "),
    Mutation(name="groupnorm-eps-keras-default", framework="tf", attribute="GN_EPS", replacement=lambda m: 1e-3,
             case="resnet", first_divergence="stage1"),
)


def _bench_batch(config, batch: int, training: bool):
    def make(rng, dtype):
        b = random_batches(config, batch)(rng, dtype, 1)[0]
        return b if training else {"x": b["x"], "y": b["y"]}

    return make


BENCHMARKS = (
    BenchmarkCase(name="vit-train", config=REDUCED_VIT, make_batch=_bench_batch(REDUCED_VIT, 64, True),
                  method="train_step", items=64),
    BenchmarkCase(name="vit-inference", config=REDUCED_VIT, make_batch=_bench_batch(REDUCED_VIT, 500, False),
                  method="predict", items=500),
    BenchmarkCase(name="resnet-train", config=REDUCED_RESNET, make_batch=_bench_batch(REDUCED_RESNET, 64, True),
                  method="train_step", items=64),
    BenchmarkCase(name="resnet-inference", config=REDUCED_RESNET, make_batch=_bench_batch(REDUCED_RESNET, 500, False),
                  method="predict", items=500),
)

PAPER = Paper(
    key="vit",
    title="An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
    citation=CITATION,
    year=2020,
    package="reproductions.vit",
    experiments=EXPERIMENTS,
    claims=CLAIMS,
    budget_curves=BUDGET_CURVES,
    diagnoses=DIAGNOSES,
    agreement=AGREEMENT,
    mutations=MUTATIONS,
    benchmarks=BENCHMARKS,
    deviations=(
        "Scale: MNIST (28x28, 1 channel; the bundled 8x8 digits when MNIST is absent) subsets of 250, 1,000 and "
        "4,000 images instead of ImageNet / ImageNet-21k / JFT-300M; a 2-block D=64 ViT and a 2-stage ResNet of "
        "similar size instead of ViT-B..H and BiT ResNets; 150 / 250 / 400 steps of batch 64 instead of 300 / 90 "
        "/ 7 epochs at batch 4096; no fine-tuning stage (accuracy is measured on the pre-training task).",
        "Both models use the ViT's optimizer with Table 3's ImageNet hyperparameters (AdamW, lr 3e-3, weight decay "
        "0.3, dropout 0.1 for the ViT); BiT trains its ResNets with SGD and momentum.",
        "Patch size 7 on 28x28 images (a 4x4 grid, 16 tokens + [class]) rather than 16 on 224x224 (14x14).",
        "The comparison CNN is a pre-activation ResNet with GroupNorm (as BiT) but without Weight "
        "Standardization, with one basic block per stage.",
        "No key bias in the attention: it cannot change the output (softmax removes q.b_k) and its gradient is "
        "exactly zero; the paper's code has one (9,216 parameters in ViT-B/16, counted apart in the test).",
        "Softmax cross-entropy on 10 classes; no label smoothing, no data augmentation, no gradient clipping "
        "(the paper clips at global norm 1).",
        "Fewer seeds (5) than a claim about data-size trends would like; the training subset is drawn afresh per "
        "seed.",
    ),
    notes={
        "claims": "docs/papers.md section 7(c), claims 1, 2 and 4 (claim 3, a larger ViT on the smallest set, is "
                  "not run)",
        "pitfalls found": "tf.nn.gelu(approximate=False) is off by up to 5e-9 in float64 (TF 2.21 CPU): GELU is "
                          "written out with tf.math.erf. keras.layers.MultiHeadAttention scales the query by "
                          "ops.cast(1 / sqrt(key_dim)) of a Python float, i.e. float32-rounded in float64 models "
                          "(1e-8 relative error in the attention logits): set to a float64 NumPy scalar. The "
                          "attention key bias has an exactly zero gradient that Adam turns into a random walk of "
                          "round-off: left out.",
    },
)


# ---------------------------------------------------------------------------------------------------------
# Paper profile: Sec. 4.1 and Figs. 3-4's pre-training sets, smallest to largest: ImageNet (1.3M images, 300
# epochs), ImageNet-21k (14M, 90 epochs), JFT-300M (303M, 7 epochs), batch 4096 (App. B.1); ViT-B/16 (Table 1,
# with the pre-training head's hidden layer) against a GroupNorm ResNet of similar size. The hyperparameters of
# Table 3's ImageNet row (lr 3e-3, wd 0.3, dropout 0.1) for every set, as the reduced profile uses them; the
# paper tunes them per set. No ImageNet input pipeline exists here and JFT-300M is not public: the data check
# stops these runs, and `--plan` sizes them.

PAPER_BATCH = 4096
PAPER_WARMUP = 10_000  # App. B.1: linear warmup of 10k steps
PAPER_SETS = {"n_small": ("imagenet", 1_281_167, 300, 1000), "n_mid": ("imagenet21k", 14_197_122, 90, 21_843),
              "n_large": ("jft300m", 303_000_000, 7, 18_291)}  # (data set, training images, epochs, classes)


def _paper_models(classes: int) -> tuple[ViTConfig, ResNetConfig]:
    vit = ViTConfig(image_size=224, channels=3, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=classes,
                    head_hidden=768, warmup_steps=PAPER_WARMUP)
    resnet = ResNetConfig(image_size=224, channels=3, stem_width=64, stem_stride=2, widths=(256, 512, 1024, 2048),
                          strides=(2, 2, 2, 2), groups=32, classes=classes, warmup_steps=PAPER_WARMUP)
    return vit, resnet


def _paper_config(name: str) -> DataSizeConfig:
    dataset, n, epochs, classes = PAPER_SETS[name]
    vit, resnet = _paper_models(classes)
    return DataSizeConfig(n_train=n, steps=round(epochs * n / PAPER_BATCH), batch=PAPER_BATCH, n_test=50_000,
                          dataset=dataset, vit=vit, resnet=resnet, no_pos=(name == "n_large"),
                          warmup_steps=PAPER_WARMUP)


PAPER_CONFIGS = {name: _paper_config(name) for name in PAPER_SETS}


def vit_macs(c: ViTConfig) -> float:
    """Multiply-adds of one image's forward pass: patch embedding, and per block the q/k/v/out projections,
    the attention products and the MLP."""
    n = c.n_patches + 1
    block = n * (4 * c.dim * c.dim + 2 * c.dim * c.mlp) + 2 * n * n * c.dim
    return c.n_patches * c.patch**2 * c.channels * c.dim + c.depth * block


def resnet_macs(c: ResNetConfig) -> float:
    """Multiply-adds of one image's forward pass through the stem, the blocks' 3x3 convs and their shortcuts."""
    size = -(-c.image_size // c.stem_stride)
    total = 9 * size * size * c.channels * c.stem_width
    for _name, cin, cout, stride in resnet_blocks(c):
        out = -(-size // stride)
        total += 9 * out * out * (cin * cout + cout * cout) + (out * out * cin * cout if cin != cout or stride != 1
                                                               else 0)
        size = out
    return total


def _paper_items(d: DataSizeConfig) -> dict[str, float]:
    images = d.steps * d.batch
    return {"vit-train": images * (2 if d.no_pos else 1) * vit_macs(d.vit) / vit_macs(REDUCED_VIT),
            "resnet-train": images * resnet_macs(d.resnet) / resnet_macs(REDUCED_RESNET)}


def _paper_setting(claim) -> str:
    names = [claim.experiment] if isinstance(claim, Band) else list(dict.fromkeys((claim.a[0], claim.b[0])))
    v, r = PAPER_CONFIGS[names[0]].vit, PAPER_CONFIGS[names[0]].resnet
    sets = " vs ".join(f"{PAPER_SETS[k][0]} ({PAPER_SETS[k][1]:,} images, {PAPER_SETS[k][2]} epochs = "
                       f"{PAPER_CONFIGS[k].steps:,} steps of {PAPER_BATCH})" for k in names)
    return (f"pre-training from scratch on {sets}; ViT-B/{v.patch} ({param_count(v):,} params, dropout {v.dropout:g}) "
            f"vs pre-activation GroupNorm ResNet ({param_count(r):,} params) at {v.image_size}x{v.image_size}; AdamW "
            f"lr {_num(v.lr)}, wd {v.weight_decay:g} (Table 3's ImageNet row for every set), warmup {PAPER_WARMUP:,} "
            f"then linear decay; accuracy on 50,000 held-out images of the pre-training task, no fine-tuning")


PAPER = with_profile(
    PAPER, "paper", configs=PAPER_CONFIGS, seeds={name: 3 for name in PAPER_SETS},
    settings={c.id: _paper_setting(c) for c in CLAIMS},
    data=tuple(DataNeed(experiment=name, dataset=ds, train=n, test=50_000,
                        source=f"Sec. 4.1: {ds}, {n:,} training images")
               for name, (ds, n, _, _) in PAPER_SETS.items()),
    workloads={name: Workload(bench=None, items=_paper_items,
                              schedule=lambda d: f"{d.steps:,} steps of batch {d.batch} per model",
                              basis="images through a train step of each model, weighted by its multiply-adds per "
                                    "image over the reduced ViT's / ResNet's (the bench cases)")
               for name in PAPER_SETS})
