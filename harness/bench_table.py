"""One table per bench run: torch and tf side by side, a row per case, threads and mode."""

from __future__ import annotations

import pandas as pd
from tabulate import tabulate

from .bench import BenchResult


def _pct(x: float | None, signed: bool = False) -> str:
    return "-" if x is None else f"{x:+.0%}" if signed else f"{x:.0%}"


def frame(rows: list[BenchResult]) -> pd.DataFrame:
    """Per framework: mode, steady-state rate, first call, harness overhead over the plain loop (its tensors made
    once, and made every call), GFLOP/s and its share of the GEMM peak, peak RSS growth."""
    df = pd.DataFrame([{
        "paper": r.paper, "case": r.case, "threads": r.threads, "framework": r.framework, "mode": r.mode,
        "rate": f"{r.items_per_second:,.1f} {r.unit}/s ({r.spread[0]:,.0f}-{r.spread[1]:,.0f})",
        "1st call": f"{r.first_call_s:.2f} s" if r.first_call_s is not None else "-",
        "vs plain": _pct(r.overhead, signed=True),
        "vs fed": _pct(r.fed_overhead, signed=True),
        "GFLOP/s (% GEMM)": "-" if r.gflops is None else f"{r.gflops:.1f} ({_pct(r.peak_fraction)})",
        "peak RSS": "-" if r.peak_rss_growth_bytes is None else f"+{r.peak_rss_growth_bytes / 2**20:.0f} MiB",
    } for r in rows])
    if df.empty:
        return df
    df["n"] = df.groupby(["paper", "case", "threads", "framework"]).cumcount()  # the i-th mode of each side
    wide = df.set_index(["paper", "case", "threads", "n", "framework"]).unstack("framework")
    columns = [c for c in df.columns if c not in ("paper", "case", "threads", "framework", "n")]
    order = [fw for fw in ("torch", "tf") if fw in set(df["framework"])]
    wide = wide.swaplevel(axis=1).reindex(columns=[(fw, c) for fw in order for c in columns])
    return wide.droplevel("n").fillna("")


def render(rows: list[BenchResult]) -> str:
    df = frame(rows)
    if df.empty:
        return "(no benchmark cases ran)"
    headers = ["paper", "case", "thr"] + [f"{fw} {col}" for fw, col in df.columns]
    body = [[*idx, *vals] for idx, vals in zip(df.index, df.values.tolist(), strict=True)]
    note = ("vs plain: harness time per item over the paper's plain loop in the same mode, its tensors made once "
            "(+5% = 5% slower; '-' = no plain.py); vs fed: over the same loop making its tensors from the case's "
            "arrays every call, as the harness does (harness.bench_plain); "
            "% GEMM: of a float32 square matmul timed in the same process; peak RSS: growth over the RSS before "
            "the first call, measured only with --isolate (a fresh process per case)")
    out = tabulate(body, headers=headers, disable_numparse=True) + "\n" + note
    best = best_modes(rows)
    if not best.empty:
        out += "\n\n" + tabulate(best, headers="keys", showindex=False, disable_numparse=True) + "\n" + (
            "best modes: where a case ran in several modes, the harness's fastest mode against the plain loop's "
            "fastest: what the harness gets at best against the best a hand-written loop gets")
    return out


def best_modes(rows: list[BenchResult]) -> pd.DataFrame:
    """Per case, threads and framework timed in two or more modes: the harness's fastest mode and rate, the
    plain loop's fastest, and the harness's time per item over that plain loop's (+5%: 5% slower), and over the
    fastest of the loop fed its tensors every call."""
    df = pd.DataFrame([{"paper": r.paper, "case": r.case, "thr": r.threads, "framework": r.framework,
                        "mode": r.mode, "unit": r.unit, "rate": r.items_per_second,
                        "plain": r.plain_items_per_second, "fed": r.plain_fed_items_per_second} for r in rows])
    if df.empty:
        return df
    out = []
    for (paper, case, threads, fw), g in df.groupby(["paper", "case", "thr", "framework"], sort=False):
        if len(g) < 2:
            continue
        fastest, best_plain, best_fed = (_fastest(g, column) for column in ("rate", "plain", "fed"))
        out.append({
            "paper": paper, "case": case, "thr": threads, "framework": fw,
            "harness best": f"{fastest['mode']}: {fastest['rate']:,.1f} {fastest['unit']}/s",
            "plain best": "-" if best_plain is None else f"{best_plain['mode']}: {best_plain['plain']:,.1f}",
            "vs best plain": _over(best_plain, "plain", fastest["rate"]),
            "vs best fed": _over(best_fed, "fed", fastest["rate"]),
        })
    return pd.DataFrame(out)


def _fastest(group: pd.DataFrame, column: str) -> pd.Series | None:
    """The group's row with the highest rate in `column`, among rows that have one (None: no row has)."""
    rows = group.dropna(subset=[column])
    return None if rows.empty else rows.loc[rows[column].idxmax()]


def _over(loop: pd.Series | None, column: str, harness_rate: float) -> str:
    """The harness's time per item over that loop's, minus one ('-' without a loop)."""
    return "-" if loop is None else _pct(loop[column] / harness_rate - 1, signed=True)
