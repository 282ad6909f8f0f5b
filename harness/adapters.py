"""The one weight adapter: every paper's torch and Keras model reads and writes its parameters through here.

Canonical names are derived from the module tree, the way `named_parameters` does in torch: the attribute
path of each layer, `/`-separated, ending in the Keras variable name (`stage1/block0/bn1/gamma`). torch's
leaf names are translated by the layer kind (Linear/Conv `weight` -> `kernel`; a norm layer's `weight`,
`bias`, `running_mean`, `running_var` -> `gamma`, `beta`, `moving_mean`, `moving_variance`), and torch's
storage layout is converted to the canonical one once, by the layer kind, through `harness.layout`.

A paper declares only its exceptions:
  - `rename`: (regex, replacement) pairs (`re.sub`: a string or a function of the match) applied in order to a
    derived name, where the module tree does not
    spell the canonical name (e.g. Keras reserves `output` as a Model attribute, so a layer is `output_layer`);
  - `layouts`: canonical name pattern -> `Layout` for a parameter whose layout the layer kind does not tell
    (a dense kernel that follows an NCHW flatten; a hand-written parameter);
  - `joints`: several framework tensors that make several canonical parameters together (torch's fused qkv
    weight; torch's two LSTM biases that only ever appear as a sum);
  - `skip`: canonical names that are not parameters of the paper (a built-in layer's key bias held at zero);
  - `order`: the canonical order, where the paper declares one that the module tree does not follow.
`get`/`set` check exact keys and shapes (`harness.params.check_params`) and cast to each variable's dtype.

This module imports neither framework at top level (`python -m harness list` loads neither); the adapters
touch torch or Keras objects only through the models given to them, which only implementations build.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from . import execution, layout
from .errors import ConfigError
from .params import check_params

Convert = Callable[[np.ndarray], np.ndarray]


def _copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, copy=True)


@dataclass(frozen=True)
class Layout:
    """How one framework tensor maps to its canonical array, both ways."""

    to_canonical: Convert
    from_canonical: Convert


SAME = Layout(_copy, _copy)
DENSE = Layout(layout.dense_from_torch, layout.dense_to_torch)
CONV = Layout(layout.conv_from_torch, layout.conv_to_torch)
CONV_TRANSPOSE = Layout(layout.conv_transpose_from_torch, layout.conv_transpose_to_torch)


def then(first: Layout, second: Layout) -> Layout:
    """`first` then `second` towards canonical (and the inverse back), e.g. DENSE then a row permutation."""
    return Layout(lambda a: second.to_canonical(first.to_canonical(a)),
                  lambda a: first.from_canonical(second.from_canonical(a)))


@dataclass(frozen=True)
class Joint:
    """Framework tensors `sources` (derived names, before `rename`) that make canonical parameters together.

    `to_canonical(arrays by source name) -> {canonical name: array}`; `from_canonical` the inverse; `grads`
    maps the sources' gradients to the canonical gradients (default: `to_canonical`, right when the map is
    linear and one-to-one; not for a sum of two biases, whose gradient is either bias's gradient).
    """

    sources: tuple[str, ...]
    to_canonical: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
    from_canonical: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
    grads: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]] | None = None


@dataclass
class _Entry:
    names: tuple[str, ...]  # canonical names this entry makes
    tensors: dict[str, Any]  # source name -> framework tensor/variable
    read: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    write: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    read_grads: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    trainable: bool = True  # False: state such as a norm layer's moving statistics (no gradient)


@dataclass
class _Adapter:
    """Shared by both frameworks: the entries in module order, and the checked get / set / grads."""

    who: str
    entries: list[_Entry] = field(default_factory=list)

    def _build(self, found: Iterable[tuple[str, Any, Layout]], rename: Sequence[tuple[str, Any]],
               layouts: Mapping[str, Layout], joints: Sequence[Joint], skip: Callable[[str], bool],
               order: Sequence[str] | None) -> None:
        by_source = {j_src: j for j in joints for j_src in j.sources}
        pending: dict[int, dict[str, Any]] = {}
        for source, tensor, kind in found:
            joint = by_source.get(source)
            if joint is not None:
                group = pending.setdefault(id(joint), {})
                group[source] = tensor
                if len(group) == len(joint.sources):
                    self.entries.append(_joint_entry(joint, group))
                continue
            name = _rename(source, rename)
            if skip(name):
                continue
            chosen = next((lay for pattern, lay in layouts.items() if fnmatchcase(name, pattern)), kind)
            self.entries.append(_single_entry(name, tensor, chosen))
        incomplete = [s for j in joints if len(pending.get(id(j), {})) != len(j.sources) for s in j.sources
                      if s not in pending.get(id(j), {})]
        if incomplete:
            raise ValueError(f"{self.who}: joint parameter sources not found in the model: {incomplete}")
        names = [n for e in self.entries for n in e.names]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.who}: two parameters map to one canonical name: {sorted(names)}")
        self.order = list(order) if order is not None else names
        if sorted(self.order) != sorted(names):
            raise ValueError(f"{self.who}: the model's parameters {sorted(names)} are not the declared ones "
                             f"{sorted(self.order)}")
        rank = {n: i for i, n in enumerate(self.order)}
        self.entries.sort(key=lambda e: min(rank[n] for n in e.names))

    # --- what both frameworks share -----------------------------------------------------------------------

    def variables(self, under: str = "", trainable: bool | None = None) -> list[Any]:
        """The framework variables in canonical order, optionally only those whose canonical names start with
        `under` (e.g. one of a GAN's two nets) and only the trainable (or only the other) ones."""
        return [t for e in self.entries if all(n.startswith(under) for n in e.names)
                and (trainable is None or e.trainable == trainable) for t in e.tensors.values()]

    def trainable(self, under: str = "") -> list[Any]:
        """The variables an optimizer updates (or a gradient tape watches), in canonical order."""
        return self.variables(under, trainable=True)

    def get(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for e in self.entries:
            out.update(e.read({s: self._numpy(t) for s, t in e.tensors.items()}))
        return {n: out[n] for n in self.order}

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.get().items()}

    def set(self, params: Mapping[str, np.ndarray]) -> None:
        check_params(self.shapes(), params, self.who)
        for e in self.entries:
            arrays = e.write({n: np.asarray(params[n]) for n in e.names})
            for s, t in e.tensors.items():
                self._assign(t, arrays[s])

    def name_grads(self, grads: Sequence[Any]) -> dict[str, np.ndarray]:
        """Framework gradients, one per `trainable()` variable in that order, -> canonical gradients."""
        grads = list(grads)
        if len(grads) != len(self.trainable()):
            raise ValueError(f"{self.who}: {len(grads)} gradients for {len(self.trainable())} trainable variables")
        out: dict[str, np.ndarray] = {}
        for e in (e for e in self.entries if e.trainable):
            mine = {s: self._numpy(grads.pop(0)) for s in e.tensors}
            out.update(e.read_grads(mine))
        return {n: out[n] for n in self.order if n in out}

    def _numpy(self, t) -> np.ndarray:  # pragma: no cover - each framework overrides
        raise NotImplementedError

    def _assign(self, t, a: np.ndarray) -> None:  # pragma: no cover - each framework overrides
        raise NotImplementedError


class AdaptedModel:
    """Base of every paper's `Model`: `get_params`/`set_params` (harness.spec.Model) go through `self.params`,
    the model's `TorchParams` or `KerasParams`, built in its `__init__`.

    Execution (harness/execution.py) lives here too: every subclass's `__init__(config, seed, dtype)` also takes
    keyword-only `mode=` and `device=` (defaults: the framework's default mode, the CPU), checked before the
    model is built, and sets `.mode`, `.device`, `.framework` and `.execution` (what a record says). torch: the
    networks given to `TorchParams` are placed there (device, channels_last, torch.compile of each network's
    forward). tf: the model is built and every public method runs under `tf.device`, and the steps an
    implementation wraps with `self.compiled(fn)` run eagerly, traced, or XLA-compiled.
    """

    params: _Adapter
    framework: str
    mode: str
    device: str
    execution: dict

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _with_execution(cls, cls.__dict__["__init__"])
        for name, fn in list(cls.__dict__.items()):
            if inspect.isfunction(fn) and not name.startswith("_"):
                setattr(cls, name, _in_device_scope(fn))

    def get_params(self) -> dict[str, np.ndarray]:
        """Every parameter and state variable (e.g. batch-norm moving statistics), canonical names and layout."""
        return self.params.get()

    def set_params(self, params: Mapping[str, np.ndarray]) -> None:
        """Exact keys and shapes, else a ParamsError naming every missing, unexpected or mis-shaped key."""
        self.params.set(params)

    def compiled(self, fn: Callable, **options) -> Callable:
        """tf: `fn` as this model's mode runs it: itself (eager), tf.function (`options` passed on, autograph off
        unless given), or tf.function(jit_compile=True). The implementation calls the result as it would `fn`.
        Calls with tensor arguments go straight to the concrete function traced for their shapes and dtypes (with
        an `input_signature`, the result is its one concrete function): tf.function's per-call matching of
        arguments costs more than a whole step of the tiny nets."""
        if self.mode == "eager":
            return fn
        function = execution.tf_compiled(fn, self.mode, **options)
        if options.get("input_signature") is not None:
            return function.get_concrete_function()
        return _ConcreteByTensorSpec(function)

    def compiled_batch(self, fn: Callable[[dict], Any]) -> Callable[[Mapping], Any]:
        """tf: `fn`, which takes a batch as {name: tensor}, compiled as `compiled` does and called with the batch's
        NumPy arrays (already of the dtypes the step needs), converted with one tf.constant per dtype
        (harness.packed_batch): for steps of tiny nets fed many arrays."""
        from .packed_batch import PackedStep

        return PackedStep(fn, self.mode)

    def on_device(self, tensor):
        """torch: a tensor built from a batch, moved to this model's device (the same tensor on the CPU)."""
        return tensor if self.device == "cpu" else tensor.to(self.device, non_blocking=False)

    def device_scope(self):
        """tf: the `tf.device` scope the model was built in; torch: nothing to enter. Where tensorflow sees no
        GPU, the CPU is the only place an op can go and the scope would change nothing: none is entered
        (entering it around every call cost 19 us of a 270 us backprop sweep, measured in the same process)."""
        if getattr(self, "framework", "torch") != "tf" or (self.device == "cpu" and not execution.tf_sees_gpu()):
            return contextlib.nullcontext()
        import tensorflow as tf

        return tf.device(execution.tf_device(self.device))


class _ConcreteByTensorSpec:
    """A tf.function called through the concrete function of its arguments' shapes and dtypes, when every
    argument is a tensor or a dict of tensors: the same traced graph tf.function itself would pick, without its
    per-call matching of arguments (a quarter of a small LSTM step: lag p=20, 1,300 -> 1,700 steps/s on the
    development machine).
    Any other call (NumPy arrays, Python values, other structures) goes through the tf.function unchanged."""

    def __init__(self, function):
        self.function = function
        self._concrete: dict = {}

    def __call__(self, *args, **kwargs):
        key = None if kwargs else _tensor_spec_key(args)
        if key is None:
            return self.function(*args, **kwargs)
        concrete = self._concrete.get(key)
        if concrete is None:
            concrete = self._concrete[key] = self.function.get_concrete_function(*args)
        return concrete(*args)


def _tensor_spec_key(args) -> tuple | None:
    """The shapes and dtypes of arguments that are each a tensor or a dict of tensors (with its keys); None for
    anything else."""
    import tensorflow as tf

    key = []
    for a in args:
        if isinstance(a, tf.Tensor):
            key.append((tuple(a.shape), a.dtype))
        elif isinstance(a, dict) and all(isinstance(v, tf.Tensor) for v in a.values()):
            key.append(tuple((k, tuple(v.shape), v.dtype) for k, v in a.items()))
        else:
            return None
    return tuple(key)


_PLACEMENT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("placement", default=None)


def _with_execution(cls, init):
    """`init` with the keyword-only `mode=`/`device=` checked and applied around it (AdaptedModel)."""

    @functools.wraps(init)
    def __init__(self, config, seed, dtype="float32", *, mode=None, device=None):
        if getattr(self, "_execution_set", False):  # a subclass's __init__ calling this one: already set
            return init(self, config, seed, dtype)
        package, framework = execution.impl_package(cls)
        self.framework = framework
        self.mode = execution.check_mode(package.rpartition(".")[2], framework, mode,
                                         execution.impl_supported(cls))
        self.device = execution.resolve_device(device)
        self.execution = execution.describe(self.mode, self.device, framework)
        self._execution_set = True
        if framework == "tf" and self.device != "cpu" and not execution.tf_sees_gpu():
            raise ConfigError(f"device {self.device!r}: tensorflow sees no GPU (a CPU-only build?); install "
                              "a CUDA build of tensorflow (README) or use --device cpu")
        token = _PLACEMENT.set((self.mode, self.device))
        try:
            with self.device_scope():
                init(self, config, seed, dtype)
        finally:
            _PLACEMENT.reset(token)

    return __init__


def _in_device_scope(fn):
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        with self.device_scope():
            return fn(self, *args, **kwargs)

    return method


def _place_torch(modules) -> None:
    """Move the networks of a model being built to its device and memory format, and compile their forward,
    before the adapter walks their tensors (so that it, and the optimizer built next, hold the moved ones)."""
    placement = _PLACEMENT.get()
    if placement is None:  # built outside a Model's __init__ (tests of the adapter itself): as constructed
        return
    mode, device = placement
    import torch

    if mode == "compile":
        # Past its recompile limit dynamo would run the function eagerly with only a log line: make it an error.
        torch._dynamo.config.fail_on_recompile_limit_hit = True
    for module in modules:
        if device != "cpu":
            module.to(device)
        if mode == "channels_last":
            module.to(memory_format=torch.channels_last)
        if mode == "compile":
            # The instance's forward, not Module.compile(): that compiles torch's own _call_impl, which dynamo
            # skips as a torch file (measured: nothing was captured); the module tree, and so the canonical
            # names, stay as they are.
            for entry in ("forward", "run"):  # `run`: a network's entry point that takes more than forward's
                if callable(getattr(module, entry, None)):
                    setattr(module, entry, torch.compile(getattr(module, entry),
                                                         backend=execution.TORCH_COMPILE_BACKEND))


def _rename(name: str, rename: Sequence[tuple[str, Any]]) -> str:
    for pattern, repl in rename:
        name = re.sub(pattern, repl, name)
    return name


def _is_trainable(tensor) -> bool:
    """torch: a Parameter that requires grad (a buffer is state); Keras: the variable's own flag."""
    return bool(getattr(tensor, "trainable", getattr(tensor, "requires_grad", False)))


def _single_entry(name: str, tensor, lay: Layout) -> _Entry:
    return _Entry((name,), {name: tensor}, lambda a: {name: lay.to_canonical(a[name])},
                  lambda a: {name: lay.from_canonical(a[name])}, lambda a: {name: lay.to_canonical(a[name])},
                  _is_trainable(tensor))


def _joint_entry(joint: Joint, tensors: dict[str, Any]) -> _Entry:
    ordered = {s: tensors[s] for s in joint.sources}
    names = tuple(joint.to_canonical({s: np.zeros(tuple(t.shape)) for s, t in ordered.items()}))
    return _Entry(names, ordered, joint.to_canonical, joint.from_canonical, joint.grads or joint.to_canonical,
                  any(_is_trainable(t) for t in ordered.values()))


# --- torch -------------------------------------------------------------------------------------------------

_TORCH_LEAVES = {"weight": "kernel", "bias": "bias"}
_TORCH_NORM_LEAVES = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                      "running_var": "moving_variance"}


def _torch_kind(module) -> tuple[dict[str, str], dict[str, Layout]]:
    """(leaf names, layout of each leaf) by the layer kind."""
    from torch import nn

    if isinstance(module, nn.Linear):
        return _TORCH_LEAVES, {"weight": DENSE}
    if isinstance(module, nn.ConvTranspose2d):
        return _TORCH_LEAVES, {"weight": CONV_TRANSPOSE}
    if isinstance(module, nn.Conv2d):
        return _TORCH_LEAVES, {"weight": CONV}
    if isinstance(module, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm):
        return _TORCH_NORM_LEAVES, {}
    return {}, {}


class TorchParams(_Adapter):
    """The canonical view of a torch module's parameters and its norm layers' running statistics."""

    def __init__(self, module, who: str, *, rename: Sequence[tuple[str, Any]] = (),
                 layouts: Mapping[str, Layout] | None = None, joints: Sequence[Joint] = (),
                 skip: Callable[[str], bool] = lambda name: False, order: Sequence[str] | None = None) -> None:
        super().__init__(who)
        self.module = module
        _place_torch(module.values() if isinstance(module, Mapping) else [module])
        self._build(self._walk(module), rename, layouts or {}, joints, skip, order)

    @staticmethod
    def _walk(module):
        """`module` is a torch module, or a mapping name -> module for a model made of several nets."""
        import torch

        if isinstance(module, Mapping):
            module = torch.nn.ModuleDict(module)
        for path, sub in module.named_modules():
            leaves, layouts = _torch_kind(sub)
            own = list(sub.named_parameters(recurse=False))
            own += [(n, b) for n, b in sub.named_buffers(recurse=False) if n in ("running_mean", "running_var")]
            for leaf, tensor in own:
                name = "/".join([*path.split("."), leaves.get(leaf, leaf)]) if path else leaves.get(leaf, leaf)
                yield name, tensor, layouts.get(leaf, SAME)

    def _numpy(self, t) -> np.ndarray:
        return t.detach().cpu().numpy().copy()

    def _assign(self, t, a: np.ndarray) -> None:
        import torch

        with torch.no_grad():
            t.copy_(torch.from_numpy(np.ascontiguousarray(a)).to(dtype=t.dtype, device=t.device))

    def grads(self) -> dict[str, np.ndarray]:
        """The canonical gradients of the last backward pass (zeros for a parameter it did not reach)."""
        import torch

        return self.name_grads([torch.zeros_like(t) if t.grad is None else t.grad for t in self.trainable()])


# --- Keras -------------------------------------------------------------------------------------------------


def _keras_children(layer) -> Iterable[tuple[str, Any]]:
    """(attribute path, sub-layer) in assignment order; (nested) lists and dicts of layers are indexed by
    position or key, as torch's ModuleList and ModuleDict are. A private attribute counts only when it holds a
    layer itself (Keras's own layers keep their parts so, e.g. MultiHeadAttention._query_dense); private
    containers are Keras's bookkeeping (`_layers` lists every sub-layer again)."""
    import keras

    for attr, value in vars(layer).items():
        if not attr.startswith("_") or isinstance(value, keras.layers.Layer):
            yield from _keras_layers_in(attr, value)


def _keras_layers_in(path: str, value) -> Iterable[tuple[str, Any]]:
    import keras

    if isinstance(value, keras.layers.Layer):
        yield path, value
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _keras_layers_in(f"{path}/{i}", v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _keras_layers_in(f"{path}/{k}", v)


def _keras_walk(layer, path: str, seen: set[int]):
    if id(layer) in seen:
        return
    seen.add(id(layer))
    # A layer's own variables (trainable first, as Keras lists them: gamma, beta, moving_mean, moving_variance).
    for v in [*layer._trainable_variables, *layer._non_trainable_variables]:
        yield (f"{path}/{v.name}" if path else v.name), v, SAME
    for attr, child in _keras_children(layer):
        yield from _keras_walk(child, f"{path}/{attr}" if path else attr, seen)


class KerasParams(_Adapter):
    """The canonical view of a Keras layer's variables: Keras stores the canonical layout already."""

    def __init__(self, layer, who: str, *, rename: Sequence[tuple[str, Any]] = (),
                 layouts: Mapping[str, Layout] | None = None, joints: Sequence[Joint] = (),
                 skip: Callable[[str], bool] = lambda name: False, order: Sequence[str] | None = None) -> None:
        super().__init__(who)
        self.layer = layer
        roots = layer.items() if isinstance(layer, Mapping) else [("", layer)]  # several nets: name -> layer
        seen: set[int] = set()
        found = (found for root, lay in roots for found in _keras_walk(lay, root, seen))
        self._build(found, rename, layouts or {}, joints, skip, order)

    def _numpy(self, t) -> np.ndarray:
        return np.array(t.numpy() if hasattr(t, "numpy") else t, copy=True)

    def _assign(self, t, a: np.ndarray) -> None:
        t.assign(np.asarray(a, dtype=t.dtype))
