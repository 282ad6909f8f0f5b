"""Claim diagnoses: is a claim that does not reproduce limited by our budget, contradicted, or something else?

A `BudgetCurve` (declared in paper.py) re-runs the experiments a claim reads at three or more budgets; a
`Diagnosis` declares evidence of another kind (an independent check, the paper's gaps). `python -m harness
diagnose PAPER` runs the curves through the executor and writes two kinds of record to
`results/diagnoses.jsonl`: one "budget" record per (claim, framework, budget) -- the claim evaluated by its
own rule on the curve's seeds -- and one "diagnosis" record per claim.

THE TREND RULE (fixed before any curve was run; the same for every claim):

1. Progress. Each seed's distance to the paper, signed so that larger is closer:
   - Ordering "a > b" (or >=): a_s - b_s, seed by seed ("<": b_s - a_s). Seeds of two experiments are paired
     by seed number (both draw their data and weights from the same seed).
   - Band [lo, hi] (and Ratio, on a_s / b_s): minus the distance to the paper's own number when the paper
     gives one inside the band, else minus the distance to the band (0 inside it).
2. Trend test. Kendall's tau-b between the budget and the per-seed progress, in each framework; the test
   statistic is the mean of the frameworks' taus, and its one-sided p-values come from a permutation test
   that shuffles the budgets among each framework's own points (stratified: the frameworks may sit at
   different levels). Exact when the permutations are few, else PERMUTATIONS random ones from a fixed seed.
3. Decision, at ALPHA = 0.05:
   - "budget-limited": p(toward the paper) < ALPHA -- the statistic moves toward the paper's value.
   - "contradicted": p(away) < ALPHA (it moves away), or the curve is flat: in every framework the range of
     the per-budget medians of progress is no larger than the seed spread (the median, over budgets, of the
     range of progress across that budget's seeds). With one seed per budget no spread is measured, so a
     curve is never called flat.
   - "inconclusive": neither; more budgets or seeds are needed. Said as such, never rounded to a kind.
4. "reproduces at <axis> X": the smallest budget at which the claim's own rule holds in every framework run
   (on the curve's seeds), shown beside -- never instead of -- the reduced verdict.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from . import claims, results
from .executor import config_dict, run_experiments
from .spec import Band, BudgetCurve, Claim, Diagnosis, Ordering, Paper, Ratio, claim_inputs

ALPHA = 0.05
PERMUTATIONS = 20_000
TREND_RULE = ("Kendall tau-b of per-seed progress toward the paper vs budget, mean over frameworks; stratified "
              f"permutation test, one-sided p < {ALPHA}: budget-limited (toward) or contradicted (away); "
              "contradicted also when flat (per-budget median range <= seed spread in every framework); "
              "else inconclusive")
KINDS = ("budget", "diagnosis")


# --- running a curve ---------------------------------------------------------------------------------------


def curve_paper(paper: Paper, curve: BudgetCurve, budget) -> Paper:
    """The paper cut down to the experiments `curve.claim` reads, each configured at `budget` and given the
    curve's seed count (everything else -- the code, the data, the claim -- is the paper's own)."""
    claim = claim_of(paper, curve.claim)
    names = list(dict.fromkeys(e for e, _ in claim_inputs(claim)))
    experiments = []
    for name in names:
        exp = paper.experiment(name)
        if curve.profile not in exp.configs:
            raise ValueError(f"{paper.key}: budget curve of {curve.claim!r} uses profile {curve.profile!r}, which "
                             f"experiment {name!r} does not have")
        config = curve.configure(name, exp.configs[curve.profile], budget)
        experiments.append(replace(exp, configs={curve.profile: config}, seeds={curve.profile: curve.seeds}))
    return replace(paper, experiments=tuple(experiments), claims=(claim,), budget_curves=(), diagnoses=())


def claim_of(paper: Paper, claim_id: str) -> Claim:
    for c in paper.claims:
        if c.id == claim_id:
            return c
    raise KeyError(f"{paper.key} has no claim {claim_id!r}")


def run_curve(paper: Paper, curve: BudgetCurve, frameworks: Sequence[str], data_dir, saved: dict,
              on_seed: Callable[[dict], None] | None = None, progress_factory=None,
              on_note: Callable[[str], None] | None = None) -> dict:
    """{budget: (cut-down paper, runs, datasets)} for every budget of the curve. `saved` (run key -> saved
    entry) is read to resume and updated with every finished seed, so experiments whose config does not
    change with the budget (and curves sharing a configuration) run once."""

    def finished(entry):
        saved[tuple(entry["key"])] = entry
        if on_seed:
            on_seed(entry)

    out = {}
    for budget in curve.values:
        cut = curve_paper(paper, curve, budget)
        used: dict = {}
        runs = run_experiments(cut, curve.profile, frameworks, None, data_dir, saved=saved, on_seed=finished,
                               progress_factory=progress_factory, datasets=used,
                               on_note=on_note or (lambda note: None))
        out[budget] = (cut, runs, used)
    return out


# --- the trend rule ----------------------------------------------------------------------------------------


def per_seed_values(claim: Claim, runs: dict, framework: str) -> list[float]:
    """The claim's quantity seed by seed: the metric (Band), a - b (Ordering), a / b (Ratio)."""
    cols = [[float(s.get(metric, math.nan)) for s in runs[(framework, exp)]] for exp, metric in claim_inputs(claim)]
    if isinstance(claim, Band):
        return cols[0]
    a, b = cols
    if isinstance(claim, Ordering):
        return [x - y for x, y in zip(a, b, strict=True)]
    return [x / y if y != 0 else math.nan for x, y in zip(a, b, strict=True)]


def progress(claim: Claim, value: float) -> float:
    """Signed closeness to the paper (larger = closer; rule step 1)."""
    if not math.isfinite(value):
        return math.nan
    if isinstance(claim, Ordering):
        return value if claim.relation in (">", ">=") else -value
    if isinstance(claim, Band | Ratio):
        lo, hi = claim.lo, claim.hi
        if isinstance(claim.reported, int | float) and lo <= claim.reported <= hi and math.isfinite(claim.reported):
            return -abs(value - float(claim.reported))
        return -max(lo - value, value - hi, 0.0)
    raise TypeError(type(claim).__name__)


def tau_b(x: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of `x` with each row of `ys` (ties allowed, as scipy.stats.kendalltau computes it), 0
    where either side is constant. Vectorised: a permutation test evaluates thousands of rows at once."""
    x, ys = np.asarray(x, dtype=float), np.atleast_2d(np.asarray(ys, dtype=float))
    i, j = np.triu_indices(len(x), 1)
    sx = np.sign(x[i] - x[j])
    sy = np.sign(ys[:, i] - ys[:, j])
    untied_x, untied_y = np.count_nonzero(sx), np.count_nonzero(sy, axis=1)  # pairs not tied, per row
    denominator = np.sqrt(untied_x * untied_y.astype(float))
    return np.divide(sy @ sx, denominator, out=np.zeros(len(ys)), where=denominator > 0)


def kendall_tau(x: np.ndarray, y: np.ndarray) -> float:
    return float(tau_b(x, y)[0])


@dataclass
class Trend:
    kind: str  # "budget-limited" | "contradicted" | "inconclusive"
    tau: float  # mean over frameworks of Kendall's tau-b
    p_toward: float
    p_away: float
    flat: bool
    why: str
    per_framework: dict  # framework -> {"tau", "budgets", "medians", "spread", "range"}


def _null_taus(x: np.ndarray, y: np.ndarray, exact: bool, rng: np.random.Generator) -> np.ndarray:
    """tau-b of x with every permutation of y (exact) or with PERMUTATIONS random ones."""
    if exact:
        rows = np.array([y[list(order)] for order in itertools.permutations(range(len(y)))])
    else:
        rows = rng.permuted(np.tile(y, (PERMUTATIONS, 1)), axis=1)
    return tau_b(x, rows)


def _stratified_null(strata: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """The mean-over-frameworks tau under the null, the budgets permuted within each framework: every
    combination of permutations when there are at most PERMUTATIONS, else PERMUTATIONS random draws."""
    if math.prod(math.factorial(len(y)) for _, y in strata) <= PERMUTATIONS:
        total = np.zeros(1)
        for x, y in strata:
            total = (total[:, None] + _null_taus(x, y, True, rng)[None, :]).ravel()
        return total / len(strata)
    return np.mean([_null_taus(x, y, False, rng) for x, y in strata], axis=0)


def trend(points: dict[str, list[tuple[float, float]]]) -> Trend:
    """Rule steps 2-3 on `points`: framework -> [(budget, progress of one seed), ...] (NaN progress left out)."""
    strata = {}
    for fw, pts in points.items():
        pts = [(b, p) for b, p in pts if math.isfinite(p)]
        if len(pts) >= 2:
            strata[fw] = (np.array([b for b, _ in pts], dtype=float), np.array([p for _, p in pts], dtype=float))
    if not strata:
        return Trend("inconclusive", math.nan, math.nan, math.nan, False,
                     "no framework has two finite points", {})
    observed = float(np.mean([kendall_tau(x, y) for x, y in strata.values()]))
    null = _stratified_null(list(strata.values()), np.random.default_rng(20_15))
    p_toward = float(np.mean(null >= observed - 1e-12))  # ties with the observed value count (conservative)
    p_away = float(np.mean(null <= observed + 1e-12))
    per_fw, flat_each = {}, []
    for fw, (x, y) in strata.items():
        levels = sorted(set(x))
        medians = [float(np.median(y[x == b])) for b in levels]
        ranges = [float(np.ptp(y[x == b])) for b in levels if (x == b).sum() >= 2]
        spread = float(np.median(ranges)) if ranges else math.nan
        span = float(np.ptp(medians))
        per_fw[fw] = {"tau": kendall_tau(x, y), "budgets": levels, "medians": medians, "spread": spread,
                      "range": span}
        flat_each.append(bool(ranges) and span <= spread)
    flat = bool(flat_each) and all(flat_each)
    if p_toward < ALPHA:
        kind, why = "budget-limited", f"moves toward the paper (tau {observed:+.2f}, p {p_toward:.3g})"
    elif p_away < ALPHA:
        kind, why = "contradicted", f"moves away from the paper (tau {observed:+.2f}, p {p_away:.3g})"
    elif flat:
        kind, why = "contradicted", (f"flat: per-budget medians move less than the seed spread (tau {observed:+.2f}, "
                                     f"p {p_toward:.3g})")
    else:
        kind, why = "inconclusive", (f"no significant trend and not flat (tau {observed:+.2f}, p toward "
                                     f"{p_toward:.3g}, away {p_away:.3g}): more budgets or seeds needed")
    return Trend(kind, observed, p_toward, p_away, flat, why, per_fw)


# --- records -----------------------------------------------------------------------------------------------


def _fmt_budget(b) -> str:
    return f"{b:g}" if isinstance(b, int | float) else str(b)


def budget_check(curve: BudgetCurve, budget) -> str:
    return f"{curve.claim}@{curve.axis}={_fmt_budget(budget)}"


def curve_records(paper: Paper, curve: BudgetCurve, ran: dict, frameworks: Sequence[str], numerics: dict,
                  data_dir) -> list[dict]:
    """One "budget" record per (framework, budget) and the claim's "diagnosis" record (rule steps 1-4)."""
    claim = claim_of(paper, curve.claim)
    out, points, holds = [], {fw: [] for fw in frameworks}, {}
    for budget, (cut, runs, used) in ran.items():
        for fw in frameworks:
            r = claims.evaluate(claim, runs, fw)
            seed_values = per_seed_values(claim, runs, fw)
            seed_progress = [progress(claim, v) for v in seed_values]
            points[fw] += [(float(budget), p) for p in seed_progress]
            holds.setdefault(budget, {})[fw] = r.passed
            exps = list(dict.fromkeys(e for e, _ in claim_inputs(claim)))
            datasets = sorted(set().union(*(used.get((fw, e), set()) for e in exps)))
            out.append(results.make_record(
                kind="budget", paper=paper.key, framework=fw, check=budget_check(curve, budget), metric=r.rule,
                value=r.value, passed=r.passed,
                expected={"rule": r.rule, "reported": claim.reported, "source": claim.source, "axis": curve.axis,
                          "budget": budget},
                config={e: config_dict(cut.experiment(e).configs[curve.profile]) for e in exps},
                seed=list(range(curve.seeds)), dataset=";".join(datasets), profile=curve.profile, dtype="float32",
                numerics=numerics,
                details={"claim": claim.id, "axis": curve.axis, "budget": budget, "inputs": r.inputs,
                         "per_seed": seed_values, "progress": seed_progress, "data_dir": data_dir},
            ))
    t = trend(points)
    reproduces_at = next((b for b in curve.values if holds.get(b) and all(holds[b].values())), None)
    summary = f"{t.kind}: {t.why}" + (f"; reproduces at {curve.axis} {_fmt_budget(reproduces_at)}"
                                      if reproduces_at is not None else "")
    out.append(results.make_record(
        kind="diagnosis", paper=paper.key, framework="both", check=claim.id, metric="trend_tau", value=t.tau,
        passed=None, expected={"rule": TREND_RULE, "reported": claim.reported, "source": claim.source},
        seed=list(range(curve.seeds)), profile=curve.profile, dtype="float32", numerics=numerics,
        details={"diagnosis": t.kind, "source": "budget curve", "summary": summary, "axis": curve.axis,
                 "budgets": list(curve.values), "note": curve.note, "p_toward": t.p_toward, "p_away": t.p_away,
                 "flat": t.flat, "per_framework": t.per_framework, "holds": {_fmt_budget(b): v for b, v in
                                                                             holds.items()},
                 "reproduces_at": reproduces_at, "points": {fw: [list(p) for p in pts] for fw, pts in
                                                            points.items()}},
    ))
    return out


def declared_record(paper: Paper, d: Diagnosis, numerics: dict) -> dict:
    """The record of a diagnosis declared in paper.py (no run; its evidence is named, e.g. a test)."""
    claim = claim_of(paper, d.claim)
    return results.make_record(
        kind="diagnosis", paper=paper.key, framework="both", check=f"{claim.id}#declared", metric="declared",
        value=None, passed=None,
        expected={"rule": "declared in paper.py from an independent check or the paper's text",
                  "reported": claim.reported, "source": claim.source},
        profile="reduced", dtype="float32", numerics=numerics,
        details={"diagnosis": d.kind, "source": "declared", "claim": claim.id, "summary": f"{d.kind}: {d.summary}",
                 "evidence": list(d.evidence), "candidates": list(d.candidates), "figures": dict(d.figures)},
    )


def claim_id_of(record: dict) -> str:
    """The claim a budget or diagnosis record belongs to."""
    return record.get("details", {}).get("claim") or record["check"].split("#", 1)[0]


def by_claim(records: Sequence[dict]) -> dict[tuple[str, str], list[dict]]:
    """(paper, claim id) -> its newest diagnosis records (curve first, then declared)."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in results.latest([r for r in records if r.get("kind") == "diagnosis"]):
        out.setdefault((r["paper"], claim_id_of(r)), []).append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r["details"].get("source") != "budget curve")
    return out


def label(recs: Sequence[dict]) -> str:
    """One cell: "budget-limited: ...; reproduces at epochs 16 | under-specified: ..."."""
    return " | ".join(r["details"].get("summary", r["details"].get("diagnosis", "")) for r in recs)


# --- shown in the tables and the report ---------------------------------------------------------------------

FILE = "diagnoses.jsonl"
LEGEND = ("*reduced verdict*: the claim at the reduced profile, unchanged by any diagnosis; *diagnosis*: from a "
          "budget curve (the claim re-run at three or more budgets; figures under figures/budget/) or declared from "
          f"an independent check or the paper's text. Trend rule: {TREND_RULE}. \"reproduces at X\": the smallest "
          "budget where the claim's own rule holds in both frameworks on the curve's seeds.")
DIAGNOSIS_COLUMNS = ["paper", "claim", "reduced verdict", "diagnosis", "evidence"]


def with_diagnoses(records: list[dict], results_dir) -> list[dict]:
    """`records` plus the records of `<results_dir>/diagnoses.jsonl` when it exists (`diagnose` writes it).
    A corrupt line there is an error (exit 2), not skipped: a diagnosis must not vanish from the tables."""
    from pathlib import Path

    from .errors import ResultsError

    path = Path(results_dir) / FILE
    if not path.exists():
        return list(records)
    extra, problems = results.read(path)
    if problems:
        raise ResultsError(f"{problems[0]} (in {path}); fix or remove the line, or rerun "
                           "`python -m harness diagnose ...`")
    return [*records, *extra]


def kind_counts(recs: Sequence[dict]) -> str:
    """"contradicted 2, under-specified 1": how many diagnoses of each kind (a claim may have two)."""
    from collections import Counter

    counts = Counter(str((r.get("details") or {}).get("diagnosis")) for r in recs)
    return ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "—"


def short_label(recs: Sequence[dict]) -> str:
    """The claims-table cell: each diagnosis kind, with "reproduces at <axis> X" when a curve found it."""
    parts = []
    for r in recs:
        d = r.get("details") or {}
        text = str(d.get("diagnosis", ""))
        if d.get("source") == "budget curve":
            text += f" ({d.get('axis')} {', '.join(f'{b:g}' for b in d.get('budgets', []))})"
            ran = list(d.get("per_framework") or {})
            if len(ran) == 1:  # a curve run in one framework only says so
                text += f" [{ran[0]} only]"
            if d.get("reproduces_at") is not None:
                text += f"; reproduces at {d.get('axis')} {d['reproduces_at']:g}"
        parts.append(text)
    return " + ".join(parts)


def diagnosis_table(records: Sequence[dict]):
    """One row per diagnosis: the claim's reduced verdict beside it (never replaced), the diagnosis and its
    evidence in words (the trend statistics, or the declared evidence and candidates)."""
    import pandas as pd

    from . import tables

    grouped = by_claim(records)
    verdicts = {}
    for paper in {p for p, _ in grouped}:
        df = tables.claims_table(records, paper)
        for claim, setting, verdict in zip(df["claim"], df["setting"], df["verdict"], strict=True):
            if str(setting).startswith("[reduced]") or (paper, claim) not in verdicts:
                verdicts[(paper, claim)] = tables.base_verdict(verdict)
    rows = []
    for (paper, claim), recs in grouped.items():
        for r in recs:
            d = r.get("details") or {}
            if d.get("source") == "budget curve":
                per_fw = "; ".join(f"{fw}: medians {', '.join(tables.fmt_num(m) for m in v['medians'])} "
                                   f"(seed spread {tables.fmt_num(v['spread'])})"
                                   for fw, v in (d.get("per_framework") or {}).items())
                evidence = (f"{d.get('summary')}; {d.get('axis')} {', '.join(f'{b:g}' for b in d.get('budgets', []))}, "
                            f"{len(r.get('seed') or [])} seed(s) each; claim quantity {per_fw}")
            else:
                evidence = "; ".join([d.get("summary", ""), *(f"tried: {c}" for c in d.get("candidates", [])),
                                      *(f"evidence: {e}" for e in d.get("evidence", []))])
            rows.append({"paper": paper, "claim": claim, "reduced verdict": verdicts.get((paper, claim), "—"),
                         "diagnosis": short_label([r]), "evidence": evidence})
    return pd.DataFrame(rows, columns=DIAGNOSIS_COLUMNS, dtype=object)
