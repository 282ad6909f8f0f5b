"""Finds the registered papers without naming them: the registry module is a setting.

The registry module (default `reproductions`, or `$HARNESS_REGISTRY`) holds `PAPERS`, a tuple of the
dotted paths of each paper's `paper` module, in publication order. Loading it imports only those
framework-free modules; `model_class` imports an implementation on demand.
"""

from __future__ import annotations

import importlib
import os
from functools import cache

from .errors import HarnessError, UnknownPaperError
from .spec import FRAMEWORKS, Paper

DEFAULT_REGISTRY = "reproductions"


@cache
def papers() -> dict[str, Paper]:
    name = os.environ.get("HARNESS_REGISTRY", DEFAULT_REGISTRY)
    if not name.strip():
        raise HarnessError("HARNESS_REGISTRY is set but empty; unset it (default: reproductions) or name a module")
    try:
        module = importlib.import_module(name)
    except ImportError as e:
        raise HarnessError(f"cannot import the paper registry {name!r} ({e}); run from the repository root "
                           "or `pip install -e .`") from e
    entries = getattr(module, "PAPERS", None)
    if not isinstance(entries, list | tuple) or not all(isinstance(e, str) for e in entries):
        what = "has no PAPERS" if entries is None else f"has PAPERS = {entries!r:.60}, not a tuple of module paths"
        raise HarnessError(f"the paper registry {name!r} {what}; a registry module lists its papers as "
                           "PAPERS = ('package.paper', ...); check $HARNESS_REGISTRY")
    found: dict[str, Paper] = {}
    for path in entries:
        try:
            paper = importlib.import_module(path).PAPER
        except (ImportError, AttributeError) as e:
            raise HarnessError(f"registry entry {path!r} in {name} cannot be loaded: {e}") from e
        if paper.key in found:
            raise HarnessError(f"paper key {paper.key!r} registered twice in {name}; each paper needs its own key")
        found[paper.key] = paper
    return found


def get(key: str) -> Paper:
    return select([key])[0]


def select(keys: str | list[str]) -> list[Paper]:
    """`all`, one paper key, or several -> the papers, each once, in the order given."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    known = papers()
    if "all" in keys:
        if len(set(keys)) > 1:  # `all nosuchpaper` would hide a typo; `backprop all` would run every paper
            others = ", ".join(repr(k) for k in dict.fromkeys(keys) if k != "all")
            raise UnknownPaperError(f"'all' cannot be combined with paper names (got {others}); "
                                    "pass 'all' alone or only paper keys")
        return list(known.values())
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise UnknownPaperError(f"unknown paper{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                                f"registered papers: {', '.join(known)} (or 'all')")
    return [known[k] for k in dict.fromkeys(keys)]


def model_class(paper: Paper, framework: str) -> type:
    """The `Model` class of `paper` in `framework` ('torch' or 'tf'), imported on demand."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}; expected one of {FRAMEWORKS}")
    from . import numerics  # pins threads/determinism before the framework builds anything

    numerics.import_framework(framework)
    module = importlib.import_module(f"{paper.package}.{framework}_impl")
    return module.Model


def impl_module(paper: Paper, framework: str):
    model_class(paper, framework)
    return importlib.import_module(f"{paper.package}.{framework}_impl")
