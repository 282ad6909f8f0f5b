"""Figures from result records (matplotlib, Agg backend, SVG), written under `<results>/figures/`.

Every figure is drawn from records alone, so `table` and `report` regenerate them and nothing is drawn by
hand:

- per claim (and profile): every seed's value for torch and tf (claim records keep them in
  `details.inputs[name]["values"]`) against the paper's band or ordering, the verdict in the title;
- agreement: each check's error as a fraction of its tolerance on a log axis, grouped by paper and kind, so
  the margin below the tolerance (1) is visible;
- benchmark: throughput per framework.

- training curves: per experiment, each logged curve with torch and tf on one axis (the median across seeds,
  the band between the lowest and highest seed), from the claim records' `details.curves`; the claim's metric
  measured during training in panels of its own, with the claim's band and the paper's number as references.

A plotter is a function `records -> iterable of Figure`; `PLOTTERS` lists them. Each figure is written as
SVG and as PNG beside it.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tables
from .results import latest

COLORS = {"torch": "#d9534f", "tf": "#2a7fbf", "float64": "#4c72b0", "float32": "#dd8452"}


@dataclass
class Figure:
    """One figure to write: `name` is its path under figures/ without the suffix."""

    name: str
    title: str
    section: str  # "claims", "agreement" or "benchmark"
    figure: Any  # a matplotlib Figure
    paper: str | None = None
    claim: str | None = None
    profile: str | None = None


def _new_figure(width: float, height: float):
    """A figure and its axes, outside pyplot (no global figure registry, no GUI backend: files only)."""
    import matplotlib
    from matplotlib.figure import Figure as MplFigure

    # Text stays text (smaller files, selectable); a fixed hash salt and no date make reruns byte-identical.
    # No offset notation: an axis of values near 1 read "1e-7+1" with ticks at -4..0, which nobody reads right.
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "paper-parity", "font.size": 9,
                                "axes.titlesize": 9, "axes.formatter.useoffset": False})
    fig = MplFigure(figsize=(width, height))
    return fig, fig.subplots()


def _numbers(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if tables.is_number(v)]


# --- per claim ----------------------------------------------------------------------------------------------


def claim_groups(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Claim records grouped per (paper, claim, profile): the torch and tf records and the verdict."""
    recs = latest(records)
    groups: dict[tuple, dict[str, Any]] = {}
    for r in recs:
        if r.get("kind") not in ("claim", "consistency"):
            continue
        g = groups.setdefault((r["paper"], r["check"], r.get("profile")),
                              {"paper": r["paper"], "claim": r["check"], "profile": r.get("profile")})
        g["consistency" if r["kind"] == "consistency" else r["framework"]] = r
    for g in groups.values():
        g["verdict"] = tables.claim_verdict(g.get("torch"), g.get("tf"), g.get("consistency"))
    return [g for g in groups.values() if g.get("torch") or g.get("tf")]


def claim_strip(group: Mapping[str, Any]) -> Figure:
    """Every seed's value per input and framework (a bar: the statistic the claim judges, e.g. the median);
    the band [lo, hi] shaded and the paper's number dashed
    when the claim is a band on one input; the rule under the title otherwise (an ordering or a ratio)."""
    runs = {fw: group[fw] for fw in ("torch", "tf") if group.get(fw)}
    described = next(iter(runs.values()))
    expected = described.get("expected") or {}
    rule = str(expected.get("rule") or described.get("metric") or "")
    inputs = list(dict.fromkeys(name for r in runs.values() for name in ((r.get("details") or {}).get("inputs")
                                                                          or {"value": None})))
    fig, ax = _new_figure(max(3.6, 1.6 * len(inputs) + 1.6), 3.0)
    ticks, labels, finite_all = [], [], []
    for i, name in enumerate(inputs):
        for j, (fw, rec) in enumerate(runs.items()):
            entry = ((rec.get("details") or {}).get("inputs") or {}).get(name)
            values = entry.get("values", []) if entry else [rec.get("value")]
            nums = _numbers(values)
            finite = [v for v in nums if math.isfinite(v)]
            x = i * 3 + j
            offsets = [0.0] if len(finite) == 1 else [(k / (len(finite) - 1) - 0.5) * 0.4 for k in range(len(finite))]
            ax.scatter([x + o for o in offsets], finite, s=18, color=COLORS[fw], alpha=0.8, zorder=3,
                       label=fw if i == 0 else None)
            statistic = entry.get("statistic") if entry else rec.get("value")
            if tables.is_number(statistic) and math.isfinite(float(statistic)):  # the median or mean judged
                ax.hlines(float(statistic), x - 0.3, x + 0.3, color=COLORS[fw], linewidth=2, zorder=4)
            bad = len(values) - len(finite)
            if bad:
                ax.annotate(f"{bad} not finite", (x, 0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                            textcoords="offset points", ha="center", fontsize=7, color=COLORS[fw])
            finite_all += finite
            ticks.append(x)
            labels.append(fw)
        if len(inputs) > 1:  # the input's name once, under its pair of frameworks
            ax.text(i * 3 + 0.5, -0.13, "\n".join(textwrap.wrap(name, 22)), transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=7)
    lo, hi, reported = expected.get("lo"), expected.get("hi"), expected.get("reported")
    is_band = len(inputs) == 1 and " in [" in rule and " / " not in rule
    shown = [*finite_all]
    if is_band:
        shown += [float(v) for v in (lo, hi, reported) if tables.is_number(v) and math.isfinite(float(v))]
    if shown:  # the data, the band's finite edges and the paper's number all in view
        low, high = min(shown), max(shown)
        pad = (high - low) * 0.08 or abs(high) * 0.1 or 1.0
        ax.set_ylim(low - pad, high + pad)
    if is_band and tables.is_number(lo) and tables.is_number(hi):
        bottom, top = ax.get_ylim()
        ax.axhspan(max(float(lo), bottom), min(float(hi), top), color="#5cb85c", alpha=0.15, zorder=1,
                   label="claim's band")
    if is_band and tables.is_number(reported) and math.isfinite(float(reported)):
        ax.axhline(float(reported), color="black", linestyle="--", linewidth=1, label="paper", zorder=2)
    positive = [v for v in finite_all if v > 0]
    if positive and len(positive) == len(finite_all) and max(positive) / min(positive) > 1e3:
        ax.set_yscale("log")
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_xlim(min(ticks) - 0.8, max(ticks) + 0.8)
    ax.set_ylabel(textwrap.shorten(inputs[0], 40) if len(inputs) == 1 else "value per seed", fontsize=8)
    ax.legend(fontsize=7, loc="best", framealpha=0.7)
    verdict = tables.compact_verdict(group["verdict"])
    title = f"{group['paper']}/{group['claim']} [{group['profile']}]: {verdict}"
    ax.set_title("\n".join(textwrap.wrap(title, 60) + textwrap.wrap(f"rule: {rule}", 70)), fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    name = f"claims/{tables.slug(group['paper'])}/{tables.slug(group['claim'])}__{tables.slug(str(group['profile']))}"
    return Figure(name, title, "claims", fig, group["paper"], group["claim"], group["profile"])


def claim_figures(records: Iterable[Mapping[str, Any]]) -> Iterator[Figure]:
    return (claim_strip(g) for g in claim_groups(records))


# --- agreement ----------------------------------------------------------------------------------------------


def agreement_margins(records: Iterable[Mapping[str, Any]]) -> list[Figure]:
    """Each agreement check's error / tolerance on a log axis, grouped by paper and kind; the tolerance is 1.
    An exact match under a zero tolerance has no ratio to draw and is counted in its group's label."""
    recs = [r for r in latest(records) if r.get("kind") == "agreement"]
    if not recs:
        return []
    order = tables.papers(recs, kinds=("agreement",))
    groups: dict[tuple[str, str], list[Mapping]] = {}
    for r in sorted(recs, key=lambda r: (order.index(r["paper"]), r["check"].rsplit("/", 1)[-1])):
        groups.setdefault((r["paper"], r["check"].rsplit("/", 1)[-1]), []).append(r)
    fig, ax = _new_figure(max(6.0, 0.42 * len(groups) + 1.5), 4.2)
    labels, floor = [], 1e-8
    ratios_by_group = [[(r.get("dtype"), tables.error_over_tol(r)) for r in g] for g in groups.values()]
    drawn = [x for g in ratios_by_group for _, x in g if x is not None and 0 < x < math.inf]
    if drawn:
        floor = min(floor, min(drawn) / 3)
    for i, ((paper, kind), ratios) in enumerate(zip(groups, ratios_by_group, strict=True)):
        exact = sum(1 for _, x in ratios if x == 0)
        for dtype, offset in (("float64", -0.15), ("float32", 0.15)):
            ys = [x for d, x in ratios if d == dtype and x is not None and x > 0]
            ax.scatter([i + offset] * len(ys), [min(y, 1e6) for y in ys], s=12, color=COLORS[dtype], alpha=0.7,
                       label=dtype if i == 0 else None, zorder=3)
        labels.append(f"{paper} {kind}" + (f" ({exact} exact)" if exact else ""))
    ax.axhline(1.0, color="#d62728", linewidth=1.2, label="tolerance", zorder=2)
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("error / tolerance (log)")
    ax.set_title("Agreement: torch vs tf on the same weights; below the red line passes")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return [Figure("agreement", "Agreement: error / tolerance per check", "agreement", fig)]


# --- benchmark ----------------------------------------------------------------------------------------------


def benchmark_bars(records: Iterable[Mapping[str, Any]]) -> list[Figure]:
    """Median throughput per (paper, case) and framework, the min-max over repeats as error bars; log axis,
    since cases differ by orders of magnitude."""
    recs = [r for r in latest(records) if r.get("kind") == "benchmark" and tables.is_number(r.get("value"))]
    if not recs:
        return []
    cases = list(dict.fromkeys((r["paper"], r["check"], r["metric"]) for r in recs))
    fig, ax = _new_figure(7.0, 0.5 * len(cases) + 1.2)
    for j, fw in enumerate(("torch", "tf")):
        for i, case in enumerate(cases):
            r = next((x for x in recs if (x["paper"], x["check"], x["metric"]) == case and x["framework"] == fw),
                     None)
            if r is None:
                continue
            d = r.get("details") or {}
            v = float(r["value"])
            err = [[v - float(d["min"])], [float(d["max"]) - v]] if tables.is_number(d.get("min")) and \
                tables.is_number(d.get("max")) else None
            ax.barh(i + (j - 0.5) * 0.38, v, height=0.36, xerr=err, color=COLORS[fw], label=fw if i == 0 else None)
    ax.set_yticks(range(len(cases)), [f"{p}/{c}\n({m.replace('_per_second', '/s')})" for p, c, m in cases],
                  fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("throughput (median over repeats; bars: min-max)")
    ax.set_title("Benchmark: throughput per framework")
    ax.legend(fontsize=7)
    return [Figure("benchmark", "Benchmark: throughput per framework", "benchmark", fig)]


# --- budget curves (harness.diagnosis) ----------------------------------------------------------------------


def budget_curve_figures(records: Iterable[Mapping[str, Any]]) -> list[Figure]:
    """Per diagnosed claim: the claim's quantity (metric, a - b or a / b) seed by seed at each budget, torch
    and tf, with their per-budget medians joined; the claim's band, or 0 for an ordering, as the line it must
    cross; the trend diagnosis in the title."""
    recs = latest(records)
    curves: dict[tuple[str, str], list[Mapping]] = {}
    for r in recs:
        if r.get("kind") == "budget":
            curves.setdefault((r["paper"], (r.get("details") or {}).get("claim", r["check"])), []).append(r)
    verdicts = {(r["paper"], r["check"]): r for r in recs
                if r.get("kind") == "diagnosis" and (r.get("details") or {}).get("source") == "budget curve"}
    out = []
    for (paper, claim), rs in curves.items():
        fig, ax = _new_figure(5.6, 3.4)
        axis = (rs[0].get("details") or {}).get("axis", "budget")
        budgets = sorted({float(r["details"]["budget"]) for r in rs})
        for j, fw in enumerate(("torch", "tf")):
            mine = sorted((r for r in rs if r["framework"] == fw), key=lambda r: float(r["details"]["budget"]))
            if not mine:
                continue
            xs, meds = [], []
            for r in mine:
                b = float(r["details"]["budget"])
                ys = _numbers(r["details"].get("per_seed", []))
                shift = 1 + (j - 0.5) * 0.04  # torch and tf side by side on the log axis
                ax.scatter([b * shift] * len(ys), ys, s=14, color=COLORS[fw], alpha=0.6, zorder=3)
                if ys:
                    xs.append(b * shift)
                    meds.append(sorted(ys)[len(ys) // 2] if len(ys) % 2 else
                                (sorted(ys)[len(ys) // 2 - 1] + sorted(ys)[len(ys) // 2]) / 2)
            ax.plot(xs, meds, color=COLORS[fw], marker="o", markersize=3, label=f"{fw} (median)", zorder=4)
        expected = rs[0].get("expected") or {}
        rule = str(expected.get("rule", ""))
        lo, hi = _band_of(rule)
        if lo is not None or hi is not None:
            for edge in (lo, hi):
                if edge is not None and math.isfinite(edge):
                    ax.axhline(edge, color="#2ca02c", linestyle="--", linewidth=1)
        else:
            ax.axhline(0.0, color="#2ca02c", linestyle="--", linewidth=1)
        if len(budgets) > 1 and budgets[0] > 0 and budgets[-1] / budgets[0] >= 4:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # only the budgets are labelled
        ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
        ax.set_xlabel(axis)
        ax.set_ylabel("claim quantity per seed")
        d = (verdicts.get((paper, claim)) or {}).get("details") or {}
        title = f"{paper}/{claim}: {d.get('summary', 'no diagnosis record')}"
        ax.set_title("\n".join(textwrap.wrap(title, 70) + textwrap.wrap(f"rule: {rule} (green: the line to "
                                                                         "cross)", 80)), fontsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        out.append(Figure(f"budget/{tables.slug(paper)}/{tables.slug(claim)}", f"Budget curve: {claim}",
                          "budget curves", fig, paper, claim, rs[0].get("profile")))
    return out


def _band_of(rule: str) -> tuple[float | None, float | None]:
    """[lo, hi] of a Band or Ratio rule's text ("median x in [0.8, 1.25]"); (None, None) for an ordering."""
    if " in [" not in rule:
        return None, None
    inside = rule.rsplit(" in [", 1)[1].rstrip("]")
    try:
        lo, hi = (float(x) for x in inside.split(","))
    except ValueError:
        return None, None
    return lo, hi


@dataclass(frozen=True)
class CurveReference:
    """What a claim says about the metric a curve tracks: its band [lo, hi] and the paper's number."""

    claim: str
    lo: float
    hi: float
    reported: float | None


def _as_float(value) -> float | None:
    """A record's bound or paper value as a float ("-inf" and "inf" as written in JSON too); None otherwise."""
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def curve_references(records: Iterable[Mapping[str, Any]]) -> dict[tuple, list[CurveReference]]:
    """(paper, profile, experiment, metric) -> the bands and paper's numbers of the claims on that one input
    (a report-only claim: its paper number alone), from the claim records' declared `expected`: a curve named
    as the experiment's metric is the quantity such a claim tests. Orderings and ratios (two inputs) have no
    line to draw."""
    refs: dict[tuple, list[CurveReference]] = {}
    seen = set()
    for r in latest(records):
        expected = r.get("expected") or {}
        inputs = list((r.get("details") or {}).get("inputs") or {})
        which = (r["paper"], r["check"], r.get("profile"))
        if r.get("kind") != "claim" or len(inputs) != 1 or which in seen:
            continue
        lo, hi, reported = (_as_float(expected.get(k)) for k in ("lo", "hi", "reported"))
        lo, hi = (-math.inf if lo is None else lo), (math.inf if hi is None else hi)
        reported = reported if reported is not None and math.isfinite(reported) else None
        if reported is None and not (math.isfinite(lo) or math.isfinite(hi)):
            continue
        seen.add(which)
        experiment, metric = inputs[0].split(".", 1)
        refs.setdefault((r["paper"], r.get("profile"), experiment, metric), []).append(
            CurveReference(r["check"], lo, hi, reported))
    return refs


def _draw_references(ax, references: list[CurveReference]) -> None:
    """Each claim's band shaded and the paper's number as a dashed line, both kept in view (an open band's
    infinite side is clipped to the data's range, so it does not flatten the curves)."""
    bottom, top = ax.get_ylim()
    edges = [v for ref in references for v in (ref.lo, ref.hi, ref.reported) if v is not None and math.isfinite(v)]
    shown = [bottom, top, *edges]
    low, high = min(shown), max(shown)
    pad = (high - low) * 0.05 or 1.0
    ax.set_ylim(low - pad if low < bottom else bottom, high + pad if high > top else top)
    bottom, top = ax.get_ylim()
    for ref in references:
        if (math.isfinite(ref.lo) or math.isfinite(ref.hi)) and ref.lo < top and ref.hi > bottom:
            ax.axhspan(max(ref.lo, bottom), min(ref.hi, top), color="#5cb85c", alpha=0.12, zorder=0,
                       label=f"band of {ref.claim}")
        if ref.reported is not None:
            ax.axhline(ref.reported, color="black", linestyle="--", linewidth=1, zorder=1,
                       label=f"paper ({ref.claim}): {ref.reported:g}")


def training_curves(records: Iterable[Mapping[str, Any]]) -> list[Figure]:
    """Per (paper, experiment, profile): one panel per logged curve, torch and tf each as the median across
    seeds with the lowest-highest band (see curves.median_and_spread); the training curves ("<run> loss")
    first, then the claim's metrics measured during training (curves named as the experiment's metric), each
    with its claims' bands and the paper's number (curve_references). Records without curves draw nothing."""
    from .curves import median_and_spread

    records = latest(records)
    references = curve_references(records)
    found: dict[tuple, dict[str, list]] = {}  # (paper, experiment, profile) -> framework -> per-seed curves
    for r in records:
        if r.get("kind") != "claim":
            continue
        for exp, seeds in ((r.get("details") or {}).get("curves") or {}).items():
            found.setdefault((r["paper"], exp, r.get("profile")), {}).setdefault(r["framework"], seeds)
    figures = []
    for (paper, exp, profile), by_framework in sorted(found.items(), key=lambda kv: tuple(map(str, kv[0]))):
        logged = {name for seeds in by_framework.values() for seed in seeds for name in seed}
        # training-loop curves ("<run> <key>") first, the metrics (one word: the experiment's metric) after
        names = sorted(logged, key=lambda name: (" " not in name, name))
        fig, first = _new_figure(6.0, 1.8 * len(names))
        if len(names) > 1:  # one panel per curve instead of the single axes (left, it drew an empty frame behind)
            first.remove()
        axes = fig.subplots(len(names), 1, squeeze=False)[:, 0] if len(names) > 1 else fig.axes
        for ax, name in zip(axes, names, strict=True):
            for framework in ("torch", "tf"):
                curve = median_and_spread(by_framework.get(framework, []), name)
                if curve is None:
                    continue
                steps, median, low, high = curve
                n = sum(name in seed for seed in by_framework[framework])
                ax.plot(steps, median, color=COLORS[framework], marker="." if len(steps) <= 10 else None,
                        label=f"{framework} median ({n} seeds)")
                ax.fill_between(steps, low, high, color=COLORS[framework], alpha=0.2, linewidth=0)
            refs = references.get((paper, profile, exp, name), [])
            if refs:
                _draw_references(ax, refs)
            ax.set_title(name if " " in name else f"{name} (claim's metric, during training)", loc="left")
            ax.legend(fontsize=7)
        axes[-1].set_xlabel("step (epoch or iteration)")
        title = f"{paper} {exp} ({profile}): training curves"
        fig.suptitle(title)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))  # the title above the first panel's
        figures.append(Figure(f"curves/{paper}-{exp}-{profile}", title, "curves", fig, paper=paper, profile=profile))
    return figures


PLOTTERS: list[Callable[[Iterable[Mapping[str, Any]]], Iterable[Figure]]] = [
    agreement_margins, claim_figures, benchmark_bars, budget_curve_figures, training_curves]


def write_all(records: Iterable[Mapping[str, Any]], out_dir: str | Path) -> list[dict[str, Any]]:
    """Draw every figure the records allow and write each as SVG under `out_dir`. Returns one entry per
    figure (path, title, section, paper, claim, profile). Refuses (like the tables) to replace a file the
    harness did not generate."""
    out_dir = Path(out_dir)
    recs = list(records)
    tables.claim_dir(out_dir)
    written = []
    for plotter in PLOTTERS:
        for f in plotter(recs):
            path = out_dir / f"{f.name}.svg"
            tables.check_overwrite(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            f.figure.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
            png = path.with_suffix(".png")  # a raster beside it, for viewers and documents without SVG
            tables.check_overwrite(png)
            f.figure.savefig(png, format="png", dpi=100, metadata={"Software": None}, bbox_inches="tight")
            written.append({"path": path, "title": f.title, "section": f.section, "paper": f.paper,
                            "claim": f.claim, "profile": f.profile})
    return written
