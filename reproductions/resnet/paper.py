"""He, Zhang, Ren & Sun 2015, "Deep Residual Learning for Image Recognition" (framework-free).

Architectures (written by hand in torch_impl.py and tf_impl.py, same canonical parameter names):
- the CIFAR-10 family of section 4.2: 6n + 2 layers, 16/32/64 filters on 32/16/8 px maps, BN after every
  conv, option A shortcuts (identity; subsampled and zero-padded in channels where the shape changes),
  global average pooling, 10-way fc; and its plain counterpart (no shortcuts, same parameters);
- the ImageNet ResNet-18/34 of Table 1 (basic blocks, option B: 1x1 projection + BN where the shape
  changes), agreement-checked at 64x64 input.

Claims at reduced scale: the degradation problem (a deeper plain net ends
with a higher training loss), its cure (the deeper ResNet is no worse than the shallower one), the
plain-minus-residual gap growing with depth, and the ResNet-20 test error next to the paper's 8.75%.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from harness import data
from harness.plan import Workload
from harness.profiles import DataNeed, with_profile
from harness.spec import AgreementCase, Band, BenchmarkCase, BudgetCurve, Experiment, Mutation, Ordering, Paper
from harness.training import train_epochs

# Canonical parameter names: the module paths, with the stages' nested lists spelled stage1/block0 (1-based
# stages as in Table 1, 0-based blocks).
PARAM_RENAME = ((r"^stages/(\d+)/(\d+)/", lambda m: f"stage{int(m[1]) + 1}/block{m[2]}/"),)

CITATION = ("K. He, X. Zhang, S. Ren, J. Sun. Deep Residual Learning for Image Recognition. CVPR 2016, "
            "770-778 (arXiv:1512.03385, 2015).")


@dataclass(frozen=True)
class ResNetConfig:
    """One network. family "cifar": 6n + 2 layers; "imagenet": basic blocks per stage in `blocks`."""

    family: str = "cifar"
    n: int = 3  # cifar: blocks per stage (3, 5, 7, 9, 18 -> ResNet-20, 32, 44, 56, 110)
    blocks: tuple[int, ...] = (2, 2, 2, 2)  # imagenet only: (2, 2, 2, 2) ResNet-18, (3, 4, 6, 3) ResNet-34
    widths: tuple[int, ...] = (16, 32, 64)  # filters per stage; the stem has widths[0]
    residual: bool = True  # False: the plain counterpart
    shortcut: str = "A"  # "A": identity + zero padding (cifar); "B": projection where the shape changes
    image_size: int = 32
    in_channels: int = 3
    num_classes: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4  # coupled L2: g + wd * w on every trainable parameter
    lr_drops: tuple[int, ...] = ()  # lr is divided by 10 from each of these (0-based) step numbers on

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        return self.blocks if self.family == "imagenet" else (self.n,) * len(self.widths)

    @property
    def stem_width(self) -> int:
        return self.widths[0]

    @property
    def layers(self) -> int:
        """Weighted layers on the longest path: convs + fc (the paper's depth: 6n + 2, 18, 34)."""
        return 2 * sum(self.stage_blocks) + 2

    def lr_at(self, step: int) -> float:
        """The learning rate of (0-based) step `step`."""
        return self.lr / 10 ** sum(step >= s for s in self.lr_drops)


def resnet_cifar(n: int, residual: bool = True, **kw) -> ResNetConfig:
    return ResNetConfig(family="cifar", n=n, residual=residual, **kw)


def resnet_imagenet(depth: int, **kw) -> ResNetConfig:
    defaults = dict(widths=(64, 128, 256, 512), image_size=224, num_classes=1000)
    return ResNetConfig(family="imagenet", blocks={18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth], shortcut="B",
                        **{**defaults, **kw})


def count_params(config: ResNetConfig) -> int:
    """Trainable parameters, framework-free (conv kernels, BN gamma and beta, fc kernel and bias; the BN
    moving statistics are not counted): what Table 6 and torchvision count."""
    k_stem = 7 if config.family == "imagenet" else 3
    total = k_stem * k_stem * config.in_channels * config.widths[0] + 2 * config.widths[0]
    cin = config.widths[0]
    for s, (w, n) in enumerate(zip(config.widths, config.stage_blocks, strict=True)):
        for b in range(n):
            stride = 2 if (s > 0 and b == 0) else 1
            total += 9 * cin * w + 2 * w + 9 * w * w + 2 * w
            if config.residual and config.shortcut == "B" and (stride != 1 or cin != w):
                total += cin * w + 2 * w
            cin = w
    return total + cin * config.num_classes + config.num_classes


# ---------------------------------------------------------------------------------------------------------
# The depth study (Fig. 6, Table 6) at reduced scale


@dataclass(frozen=True)
class DepthStudy:
    shallow_n: int = 3  # ResNet-20 / plain-20
    deep_n: int = 9  # ResNet-56 / plain-56
    widths: tuple[int, ...] = (16, 32, 64)
    image_size: int = 32  # CIFAR images are average-pooled down to this size (16: 2x2 means)
    train_images: int = 5000
    test_images: int = 2000
    epochs: int = 10
    # Section 4.2 (CIFAR-10): SGD, mini-batch 128, lr 0.1 divided by 10 at 32k and 48k of 64k iterations,
    # momentum 0.9, weight decay 1e-4 (section 3.4).
    batch_size: int = 128
    lr: float = 0.1
    lr_drop_epochs: tuple[int, ...] = ()  # lr / 10 from the start of these (0-based) epochs
    momentum: float = 0.9
    weight_decay: float = 1e-4
    response_images: int = 500  # the first test images, for the Fig. 7 layer responses

    def net(self, n: int, residual: bool, image_size: int, in_channels: int, steps_per_epoch: int):
        return resnet_cifar(n, residual, widths=self.widths, image_size=image_size, in_channels=in_channels,
                            lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay,
                            lr_drops=tuple(e * steps_per_epoch for e in self.lr_drop_epochs))


NETS = (("plain_shallow", False, "shallow_n"), ("plain_deep", False, "deep_n"),
        ("res_shallow", True, "shallow_n"), ("res_deep", True, "deep_n"))


def prepare_cifar(data_dir, train_images: int, test_images: int, image_size: int):
    """CIFAR-10 (or the documented digits fallback), pooled to `image_size`, standardised per channel with
    the training set's mean and std (the paper subtracts the per-pixel mean)."""
    return data.load_standardized("cifar10", data_dir, train_images, test_images, image_size, enlarge=False)


def batches_of(x, y, size):
    return [{"x": x[i:i + size], "y": y[i:i + size]} for i in range(0, len(x), size)]


def train_net(ctx, config: ResNetConfig, xtr, ytr, study: DepthStudy, tag: str, test=None):
    """SGD over `study.epochs` epochs of shuffled minibatches (the last partial batch dropped); the order
    depends on the seed only, so every net of a seed sees the same batches. With `test` = (x, y), the test
    error (%) is logged during training as curve "`tag`_test_error" (eval mode: BN's running statistics
    are read, not updated)."""
    rng = np.random.default_rng([ctx.seed, 2015])
    model = ctx.make_model(config, seed=ctx.seed, dtype="float32")
    last = []

    def epoch_done(epoch, outs):
        if epoch == study.epochs - 1:
            last.extend(out["loss"] for out in outs)

    train_epochs(ctx, model, epochs=study.epochs, n=len(xtr), batch_size=study.batch_size, rng=rng,
                 make_batch=lambda idx: {"x": xtr[idx], "y": ytr[idx]}, where=f"resnet {tag}", curve=tag,
                 on_epoch=epoch_done, evaluate=None if test is None else lambda: {
                     f"{tag}_test_error": 100 * model.evaluate(batches_of(*test, 500))["error"]})
    return model, float(np.mean(last))


def run_depth_study(ctx, study: DepthStudy) -> dict:
    ds, xtr, ytr, xte, yte = prepare_cifar(ctx.data_dir, study.train_images, study.test_images, study.image_size)
    steps = len(xtr) // study.batch_size
    metrics: dict = {}
    for tag, residual, which in NETS:
        config = study.net(getattr(study, which), residual, xtr.shape[1], xtr.shape[3], steps)
        model, train_loss = train_net(ctx, config, xtr, ytr, study, tag, test=(xte, yte))
        metrics[f"{tag}_train_loss"] = train_loss
        metrics[f"{tag}_train_error"] = 100 * model.evaluate(batches_of(xtr, ytr, 500))["error"]
        metrics[f"{tag}_test_error"] = 100 * model.evaluate(batches_of(xte, yte, 500))["error"]
        # Fig. 7: std of each 3x3 layer's response (after BN, before addition / relu) on a fixed test batch
        stds = model.response_stds({"x": xte[:study.response_images], "y": yte[:study.response_images]})
        metrics[f"{tag}_response_std"] = float(np.mean(stds))
    for depth in ("shallow", "deep"):
        metrics[f"gap_{depth}"] = metrics[f"plain_{depth}_train_loss"] - metrics[f"res_{depth}_train_loss"]
    metrics["dataset"] = ds.label()
    return metrics


def _study_units(study: DepthStudy) -> int:
    return 4 * study.epochs * (study.train_images // study.batch_size)


TINY = DepthStudy(shallow_n=1, deep_n=3, widths=(8, 16, 32), image_size=8, train_images=1024, test_images=500,
                  epochs=2)
# Sized to the CPU budget: 8x8 images and 8/16/32 filters make a 56-layer step about 1/16 of the paper's cost
# per image (NOTES.md).
REDUCED = DepthStudy(shallow_n=3, deep_n=9, widths=(8, 16, 32), image_size=8, train_images=4000,
                     test_images=1000, epochs=8, lr_drop_epochs=(5, 7))
PAPER_SCALE = DepthStudy(shallow_n=3, deep_n=9, widths=(16, 32, 64), image_size=32, train_images=50_000,
                         test_images=10_000, epochs=164, lr_drop_epochs=(82, 123))


def _iterations(s: DepthStudy) -> int:
    """SGD steps of a study, rounded to thousands the way the paper counts them (64k)."""
    return round(s.epochs * (s.train_images // s.batch_size), -3)


def _setting(s: DepthStudy) -> str:
    return (f"the first {s.train_images} CIFAR-10 training images pooled to {s.image_size}x{s.image_size}, filters "
            f"{'/'.join(map(str, s.widths))}, {s.epochs} epochs of batch {s.batch_size}, SGD lr {s.lr} (/10 at "
            f"epochs {list(s.lr_drop_epochs)}), momentum {s.momentum}, wd {s.weight_decay}, no augmentation; "
            f"n = {s.shallow_n} vs {s.deep_n} ({6 * s.shallow_n + 2} vs {6 * s.deep_n + 2} layers); "
            f"test error on the first {s.test_images} test images")


SETTING = _setting(REDUCED)
SETTING_FIG7 = (SETTING + f"; responses of the trained nets in eval mode (BN running statistics) on the first "
                f"{REDUCED.response_images} test images, std over images, pixels and channels per layer, "
                f"averaged over the 6n 3x3 layers of the residual stages (the paper plots it per layer)")
CLAIMS = (
    Ordering(id="degradation",
             equivalence=0.05,
             equivalence_reason=("difference of training cross-entropies in nats: 0.05, small beside the depth effects"
                                 " of Fig. 6"),
             a=("depth", "plain_deep_train_loss"), b=("depth", "plain_shallow_train_loss"),
             relation=">", source="Fig. 6 left, section 4.2", reported="plain-56 trains worse than plain-20",
             setting=SETTING,
             text="the deeper plain net ends with a higher training loss than the shallower plain net"),
    Ordering(id="residual-cures-degradation",
             equivalence=0.05,
             equivalence_reason=("difference of training cross-entropies in nats: 0.05, small beside the depth effects"
                                 " of Fig. 6"),
             a=("depth", "res_deep_train_loss"),
             b=("depth", "res_shallow_train_loss"), relation="<=", source="Fig. 6 middle, Table 6",
             reported="ResNet-56 trains better than ResNet-20", setting=SETTING,
             text="the deeper ResNet ends with a training loss no higher than the shallower ResNet"),
    Ordering(id="gap-grows-with-depth",
             equivalence=0.05,
             equivalence_reason=("difference of training cross-entropies in nats: 0.05, small beside the depth effects"
                                 " of Fig. 6"),
             a=("depth", "gap_deep"), b=("depth", "gap_shallow"), relation=">",
             source="Fig. 6 (left vs middle)", reported="plain-minus-residual gap larger at 56 than at 20",
             setting=SETTING, text="the plain-minus-residual training-loss gap is larger at the deeper depth"),
    Ordering(id="responses-smaller-residual-shallow",
             equivalence=0.05,
             equivalence_reason="difference of response stds after BN (unit scale by construction): 0.05",
             a=("depth", "res_shallow_response_std"),
             b=("depth", "plain_shallow_response_std"), relation="<", source="Fig. 7, section 4.2",
             reported="ResNets have generally smaller responses than their plain counterparts", setting=SETTING_FIG7,
             text="mean std of the 3x3 layers' responses (after BN, before addition / relu) is lower in the "
                  "shallower ResNet than in the plain net of the same depth"),
    Ordering(id="responses-smaller-residual-deep",
             equivalence=0.05,
             equivalence_reason="difference of response stds after BN (unit scale by construction): 0.05",
             a=("depth", "res_deep_response_std"),
             b=("depth", "plain_deep_response_std"), relation="<", source="Fig. 7, section 4.2",
             reported="ResNets have generally smaller responses than their plain counterparts", setting=SETTING_FIG7,
             text="the same for the deeper ResNet and plain net"),
    Ordering(id="responses-fall-with-depth",
             equivalence=0.05,
             equivalence_reason="difference of response stds after BN (unit scale by construction): 0.05",
             a=("depth", "res_deep_response_std"),
             b=("depth", "res_shallow_response_std"), relation="<", source="Fig. 7 (ResNet-20/56/110)",
             reported="the deeper ResNet has smaller magnitudes of responses", setting=SETTING_FIG7,
             text="mean response std is lower in the deeper ResNet than in the shallower one"),
    Band(id="response-std-res-deep", experiment="depth", metric="res_deep_response_std", report_only=True,
         source="Fig. 7", setting=SETTING_FIG7, text="mean response std of the deeper ResNet"),
    Band(id="response-std-plain-deep", experiment="depth", metric="plain_deep_response_std", report_only=True,
         source="Fig. 7", setting=SETTING_FIG7, text="mean response std of the deeper plain net"),
    Band(id="resnet20-test-error", experiment="depth", metric="res_shallow_test_error", report_only=True,
         reported=8.75, source="Table 6",
         setting=f"{SETTING}; the paper: 45k images, {_iterations(PAPER_SCALE) // 1000}k iterations, augmentation",
         text="test error (%) of the reduced ResNet-20 run (the paper: 8.75% with the full setting)"),
    Band(id="plain20-test-error", experiment="depth", metric="plain_shallow_test_error", report_only=True,
         reported=None, source="Fig. 6 left", setting=SETTING, text="test error (%) of the reduced plain-20 run"),
    Band(id="resnet56-test-error", experiment="depth", metric="res_deep_test_error", report_only=True,
         reported=6.97, source="Table 6", setting=SETTING,
         text="test error (%) of the reduced ResNet-56 run (the paper: 6.97%)"),
)

# --- diagnoses of the claims that do not reproduce (harness.diagnosis) -------------------------------------


def _epochs(_experiment: str, study: DepthStudy, epochs) -> DepthStudy:
    """The reduced study trained for `epochs`, its lr drops kept at the same fractions of training (5/8, 7/8)."""
    drops = tuple(max(1, round(e * epochs / study.epochs)) for e in study.lr_drop_epochs)
    return replace(study, epochs=int(epochs), lr_drop_epochs=tuple(sorted(set(d for d in drops if d < epochs))))


# Three seeds per budget; the three claims read the same runs, which are made once. The paper's Fig. 6 effect
# needs tens of epochs at 32x32: the curve grows the epochs at the reduced 8x8 size to 32 (4x the reduced run),
# the trend, not the paper's 164 epochs.
_DEPTH_EPOCHS = (2, 4, 8, 16, 32)  # 8: the reduced budget itself (seed 0 must repeat the reduced run)
_EPOCHS_NOTE = ("epochs of the reduced depth study (8x8 images, 8/16/32 filters); the paper trains 164 epochs at "
                "32x32")
BUDGET_CURVES = tuple(
    BudgetCurve(claim=claim, axis="epochs", values=_DEPTH_EPOCHS, configure=_epochs, seeds=3, note=_EPOCHS_NOTE)
    for claim in ("residual-cures-degradation", "responses-fall-with-depth", "gap-grows-with-depth")
)
DIAGNOSES = ()


# ---------------------------------------------------------------------------------------------------------
# Agreement


def image_batches(size: int, channels: int, classes: int, batch: int):
    def make(rng, dtype, n):
        return [{"x": rng.normal(size=(batch, size, size, channels)).astype(dtype),
                 "y": rng.integers(0, classes, size=batch).astype(np.int64)} for _ in range(n)]

    return make


def _depth(config: ResNetConfig) -> int:
    """Conv, BN and fc layers on the longest path from input to loss."""
    return 2 * config.layers


# Small cases: lr drops (/10 from 0-based step 3, i.e. at step 4) inside the trajectory, to cross the
# SGD momentum-buffer convention (torch rescales no buffer when the lr changes).
RESNET8 = resnet_cifar(1, widths=(4, 8, 16), image_size=8, lr=0.1, lr_drops=(3,))
PLAIN8 = replace(RESNET8, residual=False)
RESNET20 = resnet_cifar(3, image_size=32, lr_drops=(3,))
# ImageNet nets at 64x64 (the paper's 224 would take minutes): stage 4 still sees 2x2 maps, so its batch
# statistics average over 4 * batch values. At 32x32 they would average over 1 * batch values (2 or 4),
# where BN is so ill-conditioned (gradients of ~1e4) that float rounding alone breaks agreement.
IMAGENET18_NARROW = resnet_imagenet(18, widths=(4, 8, 16, 32), image_size=64, lr=0.1, lr_drops=(2,))
IMAGENET18 = resnet_imagenet(18, image_size=64, lr=0.01)  # full width: a small step keeps float32 non-chaotic
IMAGENET34 = resnet_imagenet(34, image_size=64, lr=0.01)

AGREEMENT = (
    AgreementCase(name="resnet8", config=RESNET8, make_batches=image_batches(8, 3, 10, 8),
                  depth=_depth(RESNET8), steps=6),
    AgreementCase(name="plain8", config=PLAIN8, make_batches=image_batches(8, 3, 10, 8),
                  depth=_depth(PLAIN8), steps=6, dtypes=("float64",)),
    AgreementCase(name="imagenet18-narrow", config=IMAGENET18_NARROW, make_batches=image_batches(64, 3, 1000, 8),
                  depth=_depth(IMAGENET18_NARROW), steps=4),
    # The deep full-width cases run in float64 only: in float32, tf's conv backward loses precision that the
    # BN backward amplifies (measured: NOTES.md). The small cases above and plain8-float32 check float32.
    AgreementCase(name="resnet20", config=RESNET20, make_batches=image_batches(32, 3, 10, 8),
                  depth=_depth(RESNET20), steps=4, dtypes=("float64",), slow=True),
    AgreementCase(name="plain8-float32", config=PLAIN8, make_batches=image_batches(8, 3, 10, 8),
                  depth=_depth(PLAIN8), steps=6, dtypes=("float32",), slow=True),
    # float32 at batch 4 passes its gradient check narrowly; at batch 8 it would fail (NOTES.md).
    AgreementCase(name="imagenet18", config=IMAGENET18, make_batches=image_batches(64, 3, 1000, 4),
                  depth=_depth(IMAGENET18), steps=2, slow=True),
    AgreementCase(name="imagenet34", config=IMAGENET34, make_batches=image_batches(64, 3, 1000, 4),
                  depth=_depth(IMAGENET34), steps=2, dtypes=("float64",), slow=True),
)


def _attr(value):
    return lambda module: value


MUTATIONS = (
    Mutation(name="keras-bn-epsilon", framework="tf", attribute="BN_EPS", replacement=_attr(1e-3),
             case="resnet8", first_divergence="stem"),
    Mutation(name="keras-bn-momentum-not-converted", framework="tf", attribute="BN_MOMENTUM",
             replacement=_attr(0.1), case="resnet8",
             first_divergence="step 1 stage3/block0/bn2/moving_variance"),
    Mutation(name="biased-moving-variance", framework="tf", attribute="BN_UNBIASED_MOVING_VARIANCE",
             replacement=_attr(False), case="resnet8",
             first_divergence="step 1 stage3/block0/bn1/moving_variance"),
    Mutation(name="same-padding-at-stride-2", framework="tf", attribute="PADDING", replacement=_attr("same"),
             case="resnet8", first_divergence="stage2/block0"),
    Mutation(name="option-a-zeros-first", framework="torch", attribute="OPTION_A_PAD",
             replacement=_attr("before"), case="resnet8", first_divergence="stage2/block0"),
    Mutation(name="momentum-buffer-not-rescaled", framework="torch", attribute="MOMENTUM_BUFFER_RESCALE",
             replacement=_attr(lambda old, new: 1.0), case="resnet8",
             first_divergence="step 4 stage1/block0/bn2/beta"),
)


# ---------------------------------------------------------------------------------------------------------
# Benchmarks: ResNet-20 on 32x32 CIFAR-sized batches of 128


def _bench_batch(rng, dtype):
    return {"x": rng.uniform(size=(128, 32, 32, 3)).astype(dtype), "y": rng.integers(0, 10, 128).astype(np.int64)}


BENCHMARKS = (
    BenchmarkCase(name="resnet20-train", config=resnet_cifar(3), make_batch=_bench_batch, method="train_step",
                  items=128),
    BenchmarkCase(name="resnet20-inference", config=resnet_cifar(3), make_batch=_bench_batch, method="predict",
                  items=128),
)


PAPER = Paper(
    key="resnet",
    title="Deep Residual Learning for Image Recognition",
    citation=CITATION,
    year=2015,
    package="reproductions.resnet",
    experiments=(
        Experiment(name="depth", run=run_depth_study, dataset="cifar10",
                   configs={"tiny": TINY, "reduced": REDUCED, "paper": PAPER_SCALE},
                   seeds={"tiny": 1, "reduced": 5, "paper": 5}, units=_study_units,
                   description="plain and residual nets at two depths (Fig. 6), test errors (Table 6)"),
    ),
    claims=CLAIMS,
    budget_curves=BUDGET_CURVES,
    diagnoses=DIAGNOSES,
    agreement=AGREEMENT,
    mutations=MUTATIONS,
    benchmarks=BENCHMARKS,
    deviations=(
        f"Reduced profile: {REDUCED.train_images:,} CIFAR-10 training images at {REDUCED.image_size}x"
        f"{REDUCED.image_size} px, filters {'/'.join(map(str, REDUCED.widths))}, {REDUCED.epochs} epochs "
        f"({REDUCED.epochs * (REDUCED.train_images // REDUCED.batch_size)} iterations) instead of 45k images at "
        f"32x32, {'/'.join(map(str, PAPER_SCALE.widths))}, {_iterations(PAPER_SCALE) // 1000}k iterations; no "
        "augmentation, no validation split (NOTES.md).",
        "The cure (ResNet-56 no worse than ResNet-20) is not reproduced in any setting probed (NOTES.md).",
        "Depths compared: 20 vs 56 layers (n = 3 vs 9); the paper's Fig. 6 also shows 32, 44 and 110.",
        "Training loss: the mean train-mode minibatch loss over the last epoch (the paper plots training error).",
        "Weight decay: coupled L2 on every trainable parameter, BN gamma/beta included (as fb.resnet.torch).",
        "Option A zero channels are appended after the identity channels (the paper does not say where).",
        "Conv init N(0, 2/(k*k*c_out)) (fan_out, as fb.resnet.torch); fc U(+-1/sqrt(fan_in)).",
        "ResNet-110's warm-up is not reproduced; Fig. 7's responses are averaged over each net's layers (NOTES.md).",
        "ImageNet ResNet-18/34 are agreement-checked (at 64x64 input) and parameter-counted, not trained.",
        "The tiny profile (CI) trains 8- vs 20-layer nets at 8x8 px for 2 epochs on 1,024 images: a smoke test.",
        "Without CIFAR-10 the study runs on scikit-learn's 8x8 digits, recorded per seed under 'dataset'.",
    ),
    notes={"param_counts": "Table 6: 0.27M, 0.46M, 0.66M, 0.85M, 1.7M (n = 3, 5, 7, 9, 18); ImageNet "
                           "ResNet-18 11.7M, ResNet-34 21.8M (torchvision: 11,689,512 and 21,797,672)"},
)


# ---------------------------------------------------------------------------------------------------------
# Paper profile: Sec. 4.2's CIFAR-10 setup (PAPER_SCALE above: 50k images at 32x32, filters 16/32/64, batch 128,
# lr 0.1 / 10 at 32k and 48k of 64k iterations), on the full data set only.

def _paper_settings(s: DepthStudy) -> dict[str, str]:
    setting = _setting(s)
    fig7 = (setting + f"; responses of the trained nets in eval mode on the first {s.response_images} test images, "
            "averaged over the 6n 3x3 layers")
    # The Table 6 claims' reduced text ends by saying how the paper's run differs; at this profile only the
    # training split and the augmentation still do.
    differs = "; the paper: 45k training images (5k held out for validation), augmentation (pad 4, crop, flip)"
    return {c.id: fig7 if c.setting == SETTING_FIG7 else setting + (differs if c.setting != SETTING else "")
            for c in CLAIMS}


def _resnet20_images(s: DepthStudy) -> float:
    """Images through a train step of the four nets, in ResNet-20-at-32x32 images (the bench case): a net's cost
    per image scales with its layers, its pixels and the square of its widths."""
    per_image = 2 * (6 * s.shallow_n + 2 + 6 * s.deep_n + 2) / 20 * (s.image_size / 32) ** 2 * (s.widths[0] / 16) ** 2
    return s.epochs * (s.train_images // s.batch_size) * s.batch_size * per_image


PAPER = with_profile(
    PAPER, "paper", configs={"depth": PAPER_SCALE}, seeds={"depth": 5}, settings=_paper_settings(PAPER_SCALE),
    data=(DataNeed(experiment="depth", dataset="cifar10", train=PAPER_SCALE.train_images,
                   test=PAPER_SCALE.test_images, source="Sec. 4.2: the 50k CIFAR-10 training and 10k test images"),),
    workloads={"depth": Workload(
        bench="resnet20-train", items=_resnet20_images,
        schedule=lambda s: (f"4 nets x {s.epochs} epochs of {s.train_images:,} images ({_iterations(s):,} iterations "
                            f"of {s.batch_size})"),
        basis="images through a train step of plain/residual nets of 6n+2 layers, weighted by layers/20 x "
              "(pixels/32^2) x (width/16)^2 against the ResNet-20 bench case")})
