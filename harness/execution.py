"""Execution modes and devices: how a Model runs its steps, named once for every paper.

torch: `eager` (today's behaviour), `channels_last` (NHWC memory for the conv layers; convolutional papers
only), `compile` (`torch.compile` of each network's forward, with the backend named in `TORCH_COMPILE_BACKEND`
and recorded; a backend that cannot run is an error, never a silent fallback to eager).
tf: `eager` (no tf.function: every op dispatched from Python), `function` (today's behaviour: the steps traced
by tf.function), `xla` (tf.function(jit_compile=True)).

Devices: `cpu`, `cuda`, `cuda:N` or `auto` (the first GPU if one is visible, else the CPU). torch moves its
networks and batches to the device; tf builds and runs under `tf.device`. Whatever the device, the numerics
pinning of harness/numerics.py applies (TF32 off, deterministic algorithms).

The model side lives in harness/adapters.py (`AdaptedModel`): every paper's Model takes `mode=` and `device=`
there, so no implementation repeats it.
"""

from __future__ import annotations

import functools
import importlib
import os
import re

from .errors import ConfigError

MODES = {"torch": ("eager", "channels_last", "compile"), "tf": ("eager", "function", "xla")}
DEFAULT_MODE = {"torch": "eager", "tf": "function"}
DEVICES = ("cpu", "cuda", "cuda:N", "auto")

# inductor needs a C++ compiler on CPU (present on the development machine); `aot_eager` needs none.
TORCH_COMPILE_BACKEND = os.environ.get("HARNESS_TORCH_COMPILE_BACKEND", "inductor")


def framework_of_mode(mode: str) -> tuple[str, ...]:
    """The frameworks that know `mode` (`eager` is both)."""
    return tuple(fw for fw, modes in MODES.items() if mode in modes)


def modes_for(paper, framework: str) -> tuple[str, ...]:
    """The modes `paper` supports in `framework`: channels_last only where the torch implementation declares
    convolutional layers (`CHANNELS_LAST = True` in its torch_impl, where NHWC memory can pay)."""
    if framework not in MODES:
        raise ConfigError(f"unknown framework {framework!r}; expected one of {tuple(MODES)}")
    from . import registry

    return impl_supported(registry.model_class(paper, framework))


def check_mode(paper_key: str, framework: str, mode: str | None, supported: tuple[str, ...]) -> str:
    """`mode` (None: the framework's default) if `supported`, else a ConfigError naming the supported ones."""
    mode = DEFAULT_MODE[framework] if mode is None else mode
    if mode not in supported:
        raise ConfigError(f"{paper_key} {framework} has no execution mode {mode!r}; supported: "
                          f"{', '.join(supported)}")
    return mode


def repro_mode(paper, framework: str) -> str:
    """The mode `paper`'s reproductions train in: `REPRO_MODE` of its implementation, else the framework's default.

    The rule it was chosen by: a mode that agrees with eager in every dtype (results/modes.md), whose steady
    train_step is at least 10% faster than the default's at reproduction scale, and whose extra first-step cost
    (tracing, compiling) is recovered within 1,000 steps. tests/test_execution.py runs agreement in it."""
    from . import registry

    return getattr(registry.impl_module(paper, framework), "REPRO_MODE", DEFAULT_MODE[framework])


def _gpu_count() -> int:
    from . import numerics

    torch = numerics.import_framework("torch")
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(name: str | None) -> str:
    """`cpu`, `cuda`, `cuda:N`, `auto` -> `cpu` or `cuda:N`; a GPU that is not there is a ConfigError."""
    name = "cpu" if name is None else name.strip().lower()
    if name == "cpu":
        return "cpu"
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if name != "auto" and match is None:
        raise ConfigError(f"unknown device {name!r}; expected one of {', '.join(DEVICES)}")
    count = _gpu_count()
    if name == "auto":
        return "cuda:0" if count else "cpu"
    index = int(match.group(1) or 0)
    if index >= count:
        have = f"{count} GPU(s) visible to torch" if count else "no GPU visible (CPU-only torch build, or none)"
        raise ConfigError(f"device {name!r} is not available: {have}; use --device cpu, or install the CUDA "
                          "builds of torch and tensorflow (README)")
    return f"cuda:{index}"


@functools.cache
def tf_sees_gpu() -> bool:
    """Whether tensorflow has a GPU it could place an op on (asked once per process)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def tf_compiled(fn, mode: str, **options):
    """tf: `fn` as `mode` runs it: itself (eager), tf.function, or tf.function(jit_compile=True) (xla), autograph
    off unless `options` say otherwise. The one place a tf mode becomes a compiler: the models' steps
    (AdaptedModel.compiled, packed_batch) and the plain loops' (bench_plain) compile alike."""
    if mode == "eager":
        return fn
    import tensorflow as tf

    return tf.function(fn, jit_compile=mode == "xla", **{"autograph": False, **options})


def tf_device(device: str) -> str:
    """The `tf.device` string of a resolved device (`cuda:N` -> `/GPU:N`)."""
    return "/CPU:0" if device == "cpu" else "/GPU:" + device.split(":")[1]


def describe(mode: str, device: str, framework: str) -> dict:
    """What a record says about how a model ran: mode, device, and the compiler behind the mode."""
    out = {"mode": mode, "device": device}
    if framework == "torch" and mode == "compile":
        out["backend"] = TORCH_COMPILE_BACKEND
    if framework == "tf":
        out["backend"] = {"eager": "tf eager", "function": "tf.function", "xla": "tf.function(jit_compile=True)"}[mode]
    return out


def impl_package(model_cls) -> tuple[str, str]:
    """(paper package, framework) of an implementation class from its module (`reproductions.resnet.torch_impl`)."""
    # A subclass of an implementation (a test's stand-in, say) belongs to the framework of the impl it extends.
    for cls in model_cls.__mro__:
        package, _, leaf = cls.__module__.rpartition(".")
        framework = {"torch_impl": "torch", "tf_impl": "tf"}.get(leaf)
        if framework is not None:
            return package, framework
    raise TypeError(f"{model_cls.__module__}.{model_cls.__name__}: an AdaptedModel lives in torch_impl.py "
                    "or tf_impl.py, which names its framework")


def impl_supported(model_cls) -> tuple[str, ...]:
    """The modes one implementation class supports (modes_for, from its own module); a Model that does not
    derive from harness.adapters.AdaptedModel runs only as it always has (the framework's default mode)."""
    from .adapters import AdaptedModel

    _, framework = impl_package(model_cls)
    if not issubclass(model_cls, AdaptedModel):
        return (DEFAULT_MODE[framework],)
    modes = MODES[framework]
    if framework == "torch" and not getattr(importlib.import_module(model_cls.__module__), "CHANNELS_LAST", False):
        modes = tuple(m for m in modes if m != "channels_last")
    return tuple(m for m in modes if m not in unsupported_modes(model_cls))


def unsupported_modes(model_cls) -> dict[str, str]:
    """Modes an implementation declares it cannot run, each with why (`UNSUPPORTED_MODES` in its module): they
    are not offered (`modes_for`), and `bench --mode all` and `python -m harness.modes` say why they are absent."""
    return dict(getattr(importlib.import_module(model_cls.__module__), "UNSUPPORTED_MODES", {}))


RUN_DEVICE_ENV = "HARNESS_DEVICE"  # reproduce --device: set by the CLI, inherited by worker processes


def run_device() -> str:
    """The device reproductions train on (`reproduce --device`, through the environment so that worker
    processes see it too); the CPU when unset."""
    return resolve_device(os.environ.get(RUN_DEVICE_ENV, "cpu"))


def run_execution(paper) -> dict:
    """How `paper`'s reproductions run, per framework: part of every seed run's identity (resume never mixes
    modes or devices) and of the records' provenance."""
    return {fw: describe(repro_mode(paper, fw), run_device(), fw) for fw in MODES}


def build_model(model_cls, config, seed: int, dtype: str = "float32", mode: str | None = None,
                device: str = "cpu"):
    """The one place models are built with an execution mode and device. A Model outside AdaptedModel (a
    registry of one's own) is built as before when the default is asked for, and refused otherwise."""
    from .adapters import AdaptedModel

    if issubclass(model_cls, AdaptedModel):
        return model_cls(config, seed=seed, dtype=dtype, mode=mode, device=device)
    _, framework = impl_package(model_cls)
    if (mode or DEFAULT_MODE[framework]) != DEFAULT_MODE[framework] or device != "cpu":
        raise ConfigError(f"{model_cls.__module__}.Model does not derive from harness.adapters.AdaptedModel, so it "
                          f"runs only in {framework}'s default mode on the CPU (asked: {mode} on {device})")
    return model_cls(config, seed=seed, dtype=dtype)


def run_label(paper) -> str:
    """run_execution as one string (a run identity holds strings): `torch:eager@cpu tf:function@cpu`."""
    return " ".join(f"{fw}:{e['mode']}@{e['device']}" for fw, e in run_execution(paper).items())
