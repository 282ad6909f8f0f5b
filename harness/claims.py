"""Claim verdicts: statistics over seeds, each claim tested per framework, torch-tf consistency, and the
records they are saved as.

A claim is evaluated per framework on a statistic over seeds (median, mean, olympic mean, ...), and the
two frameworks are tested for statistical consistency with each other: a Mann-Whitney U test on the
per-seed values that are finite, and Fisher's exact test on how many seeds were finite (e.g. converged).

A seed whose training diverged has no metric and fails the claim in its framework (it trained no model that
could show it): the value shown is the statistic over the other seeds, the claim's inputs name the diverged
seeds and where they diverged, and every verdict built on them says how many (tables.claim_verdict); Fisher's
test compares the two frameworks' counts of non-finite seeds, divergences included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import consistency as cons
from . import results
from .consistency import CONSISTENCY_ALPHA, smallest_mann_whitney_p  # noqa: F401  (re-exported)
from .executor import DivergedSeed, config_dict
from .spec import FRAMEWORKS, Band, Claim, Ordering, Paper, Ratio, claim_inputs


def statistic(name: str, values: Sequence[float]) -> float:
    """Statistic over seeds, ignoring NaN (a seed that never reached the metric)."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan
    if name == "median":
        return float(np.median(v))
    if name == "mean":
        return float(np.mean(v))
    if name == "olympic":  # drop the best and the worst seed when there are enough seeds
        return float(np.mean(np.sort(v)[1:-1])) if v.size >= 4 else float(np.mean(v))
    if name == "min":
        return float(np.min(v))
    if name == "max":
        return float(np.max(v))
    raise ValueError(f"unknown statistic {name!r}")


@dataclass
class ClaimResult:
    claim: Claim
    framework: str
    value: float  # the statistic (Band), a - b (Ordering), a / b (Ratio)
    passed: bool | None  # None: report-only claim
    rule: str
    inputs: dict  # "experiment.metric" -> {"statistic": x, "values": [...], "finite": k, "seeds": n}


@dataclass
class Consistency:
    claim: Claim
    p_value: float
    passed: bool | None  # True: consistent; False: inconsistent; None: undecided (see harness.consistency)
    detail: str
    outcome: str = "undecided"
    interval: cons.Interval | None = None  # torch minus tf of the claim's per-seed quantity
    margin: float | None = None
    margin_reason: str = ""
    further_seeds: int | None = None  # per framework, when undecided


def _inputs(claim, runs, framework) -> dict:
    out = {}
    for exp, metric in claim_inputs(claim):
        seeds = runs[(framework, exp)]
        values = [float(s.get(metric, math.nan)) for s in seeds]
        diverged = [i for i, s in enumerate(seeds) if isinstance(s, DivergedSeed)]
        out[f"{exp}.{metric}"] = {
            "statistic": statistic(claim.statistic, values),
            "values": values,
            "finite": int(np.isfinite(values).sum()),
            "seeds": len(values),
            **({"diverged": {str(i): seeds[i].message for i in diverged}} if diverged else {}),
        }
    return out


def evaluate(claim: Claim, runs: dict, framework: str) -> ClaimResult:
    inputs = _inputs(claim, runs, framework)
    stats = [v["statistic"] for v in inputs.values()]
    if isinstance(claim, Band):
        value = stats[0]
        passed = bool(claim.lo <= value <= claim.hi)
        rule = f"{claim.statistic} {claim.metric} in [{claim.lo:g}, {claim.hi:g}]"
    elif isinstance(claim, Ordering):
        a, b = stats
        value = a - b
        ops = {">": a > b + claim.margin, ">=": a >= b + claim.margin,
               "<": a < b - claim.margin, "<=": a <= b - claim.margin}
        passed = bool(ops[claim.relation])
        margin = f" (margin {claim.margin:g})" if claim.margin else ""
        rule = f"{claim.statistic} {'.'.join(claim.a)} {claim.relation} {'.'.join(claim.b)}{margin}"
    elif isinstance(claim, Ratio):
        a, b = stats
        value = a / b if b != 0 else math.nan
        passed = bool(claim.lo <= value <= claim.hi)
        rule = f"{claim.statistic} {'.'.join(claim.a)} / {'.'.join(claim.b)} in [{claim.lo:g}, {claim.hi:g}]"
    else:
        raise TypeError(type(claim).__name__)
    if not np.isfinite(value):
        passed = False  # NaN (no seed reached the metric) never passes
    if any(v.get("diverged") for v in inputs.values()):
        passed = False  # a seed that diverged trained no model to show the claim: the framework fails it
    if claim.report_only:
        passed, rule = None, f"report only ({claim.statistic} shown)"
    return ClaimResult(claim, framework, float(value), passed, rule, inputs)


def per_seed_quantity(claim: Claim, runs: dict, framework: str) -> np.ndarray:
    """The claim's quantity seed by seed: the metric (Band), a_i - b_i (Ordering), a_i / b_i (Ratio), pairing
    the two inputs by seed index (the same seed's run; independent runs when the experiments differ)."""
    (exp_a, metric_a), *rest = claim_inputs(claim)
    a = np.asarray([s.get(metric_a, math.nan) for s in runs[(framework, exp_a)]], dtype=np.float64)
    if not rest:
        return a
    exp_b, metric_b = rest[0]
    b = np.asarray([s.get(metric_b, math.nan) for s in runs[(framework, exp_b)]], dtype=np.float64)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    if isinstance(claim, Ratio):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b != 0, a / np.where(b != 0, b, 1.0), math.nan)
    return a - b


def consistency(claim: Claim, runs: dict, deterministic: bool = False, outcomes: bool = False) -> Consistency:
    """Are torch and tf consistent on this claim? The rank tests (Mann-Whitney on each input's finite per-seed
    values, Fisher's exact test on how many seeds were finite) give the p-value; the torch-minus-tf interval of
    the claim's per-seed quantity against the claim's equivalence margin decides *consistent*
    (harness.consistency). `deterministic`: computed, not sampled, so the difference is exact. `outcomes`: the
    per-seed quantity is a declared success (1) or failure (0) (`uses_outcomes`), compared as rates."""
    from scipy import stats

    p_values, reach_p, notes = [], [], []
    for exp, metric in claim_inputs(claim):
        a = np.asarray([s.get(metric, math.nan) for s in runs[("torch", exp)]], dtype=np.float64)
        b = np.asarray([s.get(metric, math.nan) for s in runs[("tf", exp)]], dtype=np.float64)
        fa, fb = np.isfinite(a), np.isfinite(b)
        if (~fa).any() or (~fb).any():  # reached-the-metric counts, e.g. convergence rates
            p = stats.fisher_exact([[fa.sum(), (~fa).sum()], [fb.sum(), (~fb).sum()]]).pvalue
            p_values.append(float(p))
            reach_p.append(float(p))
            notes.append(f"{metric} reached: torch {fa.sum()}/{a.size}, tf {fb.sum()}/{b.size} (Fisher p={p:.3g})")
        a, b = a[fa], b[fb]
        if a.size and b.size and not deterministic:
            if np.array_equal(np.unique(a), np.unique(b)) and np.unique(a).size == 1:
                p = 1.0  # both constant and equal (e.g. every seed correct): no evidence of a difference
            else:
                p = cons.rank_test_p(a, b)
            p_values.append(p)
            notes.append(f"{metric}: Mann-Whitney p={p:.3g} (n={a.size}, {b.size})")
    p_min = min(p_values) if p_values else math.nan
    qa, qb = per_seed_quantity(claim, runs, "torch"), per_seed_quantity(claim, runs, "tf")
    try:
        interval = cons.exact_difference(qa, qb) if deterministic else cons.difference(qa, qb, outcomes)
    except ValueError as e:
        raise ValueError(f"claim {claim.id!r}: {e}") from None
    margin, reason = cons.equivalence_margin(claim)
    verdict = cons.outcome(interval, margin, p_min, min(reach_p) if reach_p else math.nan)
    further = cons.further_seeds(interval, margin, qa, qb) if verdict == "undecided" else None
    shown = "none" if margin is None else f"+-{margin:.3g}"
    notes.append(f"torch - tf = {interval.estimate:.3g}, {cons.LEVEL:.0%} interval [{interval.lo:.3g}, "
                 f"{interval.hi:.3g}] ({interval.method}), margin {shown}: {verdict}"
                 + (f"; {cons.further_seeds_text(further)}" if further else ""))
    passed = {"consistent": True, "inconsistent": False}.get(verdict)
    return Consistency(claim, p_min, passed, "; ".join(notes), verdict, interval, margin, reason, further)


def uses_outcomes(paper: Paper, claim: Claim) -> bool:
    """The claim's per-seed quantity is one metric that its experiment declares an outcome (not a difference or
    ratio of two metrics)."""
    inputs = claim_inputs(claim)
    return len(inputs) == 1 and inputs[0][1] in paper.experiment(inputs[0][0]).outcomes


def evaluate_all(paper: Paper, runs: dict, frameworks: Sequence[str]):
    """-> (claim results per framework, consistency results when both frameworks ran)."""
    results = [evaluate(c, runs, fw) for c in paper.claims for fw in frameworks]
    both = ([consistency(c, runs, all(paper.experiment(e).deterministic for e, _ in claim_inputs(c)),
                         uses_outcomes(paper, c))
             for c in paper.claims] if set(frameworks) == {"torch", "tf"} else [])
    return results, both


CONSISTENCY_RULE = (f"torch - tf of the claim's per-seed quantity: consistent when its {cons.LEVEL:.0%} interval lies "
                    f"within the equivalence margin, inconsistent when p < {CONSISTENCY_ALPHA}, else undecided")


def _interval_dict(interval: cons.Interval | None) -> dict | None:
    if interval is None:
        return None
    return {"estimate": interval.estimate, "lo": interval.lo, "hi": interval.hi, "level": cons.LEVEL,
            "method": interval.method, "n_torch": interval.n_torch, "n_tf": interval.n_tf}


def records(paper: Paper, profile: str, claim_results: list[ClaimResult], consistencies: list[Consistency],
            numerics: dict, data_dir: str | None, used: dict | None = None) -> list[dict]:
    """The records of a paper's claim verdicts and consistency tests. `used`: (framework, experiment) -> the
    datasets the seeds actually used (see executor.run_experiments)."""
    used = used or {}

    def common(claim):
        exps = {e for e, _ in claim_inputs(claim)}
        configs = {e: config_dict(paper.experiment(e).configs[profile]) for e in exps}
        recorded = set().union(*(used.get((fw, e), set()) for e in exps for fw in FRAMEWORKS))
        datasets = sorted(recorded or {paper.experiment(e).dataset for e in exps})
        return configs, ";".join(datasets)

    out = []
    for r in claim_results:
        c = r.claim
        configs, dataset = common(c)
        seeds = max(v["seeds"] for v in r.inputs.values())
        out.append(results.make_record(
            kind="claim", paper=paper.key, framework=r.framework, check=c.id, metric=r.rule,
            value=r.value, passed=r.passed,
            expected={"rule": r.rule, "lo": getattr(c, "lo", None), "hi": getattr(c, "hi", None),
                      "reported": c.reported, "source": c.source, "setting": c.setting_for(profile), "text": c.text},
            config=configs, seed=list(range(seeds)), dataset=dataset, profile=profile, dtype="float32",
            numerics=numerics, details={"inputs": r.inputs, "data_dir": data_dir,
                                        "deterministic": all(paper.experiment(e).deterministic
                                                             for e, _ in claim_inputs(c))},
        ))
    for k in consistencies:
        configs, dataset = common(k.claim)
        out.append(results.make_record(
            kind="consistency", paper=paper.key, framework="both", check=k.claim.id, metric="p_value",
            value=k.p_value, passed=k.passed,
            expected={"rule": CONSISTENCY_RULE, "margin": k.margin, "margin_reason": k.margin_reason},
            config=configs, seed=[], dataset=dataset, profile=profile, dtype="float32", numerics=numerics,
            details={"detail": k.detail, "outcome": k.outcome, "difference": _interval_dict(k.interval),
                     "further_seeds": k.further_seeds},
        ))
    return out
