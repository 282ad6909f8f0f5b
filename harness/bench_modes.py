"""The one place `bench` builds a model in an execution mode (harness.execution)."""

from __future__ import annotations

from . import execution, registry
from .errors import ConfigError
from .spec import BenchmarkCase, Paper


def modes(paper: Paper, framework: str, requested: str | None) -> tuple[str, ...]:
    """The modes to time: `requested` ('all', 'repro', one mode, or None for the default), checked against what
    the paper's model accepts in that framework. A mode names its framework (`compile` is torch's, `xla` tf's):
    the other framework is timed in its default mode. 'repro': the mode the paper's reproductions train in."""
    available, default = tuple(execution.modes_for(paper, framework)), execution.DEFAULT_MODE[framework]
    if requested is None:
        return (default,)
    if requested == "repro":
        return (execution.repro_mode(paper, framework),)
    if requested == "all":
        return available
    if requested not in execution.MODES[framework] and any(requested in m for m in execution.MODES.values()):
        return (default,)
    if requested not in available:
        why = execution.unsupported_modes(registry.model_class(paper, framework)).get(requested)
        raise ConfigError(f"{paper.key} {framework}: mode {requested!r} is not supported here"
                          f"{f' ({why})' if why else ''}; supported: {', '.join(available)} (or 'all')")
    return (requested,)


def build(paper: Paper, case: BenchmarkCase, framework: str, mode: str, device: str = "cpu"):
    """The case's model in `mode` on `device` (seed 0, the case's dtype)."""
    cls = registry.model_class(paper, framework)
    if mode == execution.DEFAULT_MODE[framework] and device == "cpu":  # a test's toy Model takes no mode=
        return cls(case.config, seed=0, dtype=case.dtype)
    return execution.build_model(cls, case.config, seed=0, dtype=case.dtype, mode=mode, device=device)


def not_timed(paper: Paper, framework: str, requested: str | None) -> dict[str, str]:
    """With `--mode all`: the modes the paper's implementation declares it cannot run, and why."""
    if requested != "all":
        return {}
    return execution.unsupported_modes(registry.model_class(paper, framework))

