"""The one place `bench` builds a model in an execution mode (the execution-modes contract).

Every Model takes keyword-only `mode=` and `device=`; until `harness.execution` exists, only each
framework's default mode (today's behaviour) can be run, and asking for another is a ConfigError
that names what can run.
"""

from __future__ import annotations

from . import registry
from .errors import ConfigError
from .spec import BenchmarkCase, Paper

# Today's behaviour, used only while harness.execution is absent (the tf impls already wrap their steps in
# tf.function; the torch impls run eagerly).
_FALLBACK_DEFAULT = {"torch": "eager", "tf": "function"}


def _execution():
    try:
        from . import execution
    except ImportError:
        return None
    return execution


def modes(paper: Paper, framework: str, requested: str | None) -> tuple[str, ...]:
    """The modes to time: `requested` ('all', one mode, or None for the default), checked against what the
    paper's model accepts in that framework."""
    ex = _execution()
    if ex is None:
        available, default = (_FALLBACK_DEFAULT[framework],), _FALLBACK_DEFAULT[framework]
    else:
        available, default = tuple(ex.modes_for(paper.key, framework)), ex.DEFAULT_MODE[framework]
    if requested is None:
        return (default,)
    if requested == "all":
        return available
    if requested not in available:
        raise ConfigError(f"{paper.key} {framework}: mode {requested!r} is not supported here; supported: "
                          f"{', '.join(available)} (or 'all')")
    return (requested,)


def build(paper: Paper, case: BenchmarkCase, framework: str, mode: str):
    """The case's model in `mode` (seed 0, the case's dtype)."""
    cls = registry.model_class(paper, framework)
    if _execution() is None:
        return cls(case.config, seed=0, dtype=case.dtype)  # only the default mode exists (checked by `modes`)
    return cls(case.config, seed=0, dtype=case.dtype, mode=mode)
