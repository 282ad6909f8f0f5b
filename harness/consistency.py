"""How far apart torch and tf are on a claim: the torch-minus-tf difference with a 95% interval, the claim's
equivalence margin, and the three-way outcome (consistent / inconsistent / undecided).

A rank test that does not reject says nothing about agreement (with 3 seeds it can never reject). So a claim is
called *consistent* only when the whole 95% interval of the difference lies inside the claim's declared
equivalence margin; *inconsistent* when a test rejects at CONSISTENCY_ALPHA; otherwise *undecided*, together
with about how many further seeds per framework would likely decide it, from the spread observed.

The interval:
- a metric its experiment declares an outcome (each seed succeeds, 1, or fails, 0: converged, solved): the
  difference of the two success rates, with Newcombe's hybrid score interval (Newcombe 1998, method 10) built from
  two Wilson intervals; it stays honest at 0/n and n/n, where a rank interval would collapse to a point. Declared,
  not guessed from the values: a fraction correct that is 1.0 in every seed is a measurement at its ceiling;
- anything else: the Hodges-Lehmann shift (median of all pairwise torch-tf differences) with its
  distribution-free interval from the Mann-Whitney null distribution (Lehmann 1963; Hollander & Wolfe, sec. 4.3),
  exact for up to 40 seeds in all and by the normal approximation beyond. Too few seeds for 95% coverage give
  an unbounded interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

CONSISTENCY_ALPHA = 0.01  # two frameworks "disagree" on a metric when p < 0.01
LEVEL = 0.95  # the difference's interval
Z_INTERVAL = 1.959963984540054  # two-sided 95% normal quantile
Z_TEST = 2.5758293035489004  # two-sided 99% normal quantile: the test at CONSISTENCY_ALPHA
EXACT_UP_TO = 40  # seeds in all (both frameworks) for the exact Mann-Whitney null distribution

OUTCOMES = ("consistent", "inconsistent", "undecided")
# Further seeds beyond this are out of reach, not a count: an estimate sitting almost on the margin asks for
# astronomically many (2e25 was printed), which says only that more seeds will not decide it.
FURTHER_SEEDS_CAP = 10_000


@dataclass(frozen=True)
class Interval:
    """torch minus tf: a point estimate and its 95% interval (possibly unbounded), and how they were found."""

    estimate: float
    lo: float
    hi: float
    method: str  # "hodges-lehmann", "newcombe", "exact" (deterministic), "none" (no finite values)
    n_torch: int
    n_tf: int

    @property
    def bounded(self) -> bool:
        return bool(np.isfinite(self.lo) and np.isfinite(self.hi))


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings give each Mann-Whitney U = 0 .. m*n (no ties). Recurrence on the
    largest observation: it belongs to the first sample (adding n to U) or to the second."""
    if m == 0 or n == 0:
        return (1,)
    out = [0] * (m * n + 1)
    for u, c in enumerate(_u_counts(m - 1, n)):
        out[u + n] += c
    for u, c in enumerate(_u_counts(m, n - 1)):
        out[u] += c
    return tuple(out)


def _rank_depth(n1: int, n2: int, level: float = LEVEL) -> int:
    """k such that [d_(k), d_(N+1-k)] of the N = n1*n2 sorted pairwise differences covers the shift with
    probability >= level (0: no such interval, too few seeds)."""
    alpha = 1.0 - level
    if n1 + n2 <= EXACT_UP_TO:
        counts = np.asarray(_u_counts(n1, n2), dtype=np.float64)
        cdf = np.cumsum(counts) / counts.sum()
        # coverage of depth k is 1 - 2 P(U <= k-1): the deepest k whose tail stays within alpha/2
        return int(np.searchsorted(cdf, alpha / 2, side="right"))
    n = n1 * n2
    k = math.floor(n / 2 - Z_INTERVAL * math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))
    return max(k, 0)


def hodges_lehmann(a, b, level: float = LEVEL) -> Interval:
    """Shift of `a` against `b` (median of all a_i - b_j) and its distribution-free interval."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = np.sort(np.subtract.outer(a, b).ravel())
    k = _rank_depth(a.size, b.size, level)
    lo, hi = (d[k - 1], d[d.size - k]) if k >= 1 else (-math.inf, math.inf)
    return Interval(float(np.median(d)), float(lo), float(hi), "hodges-lehmann", a.size, b.size)


def newcombe(a, b, level: float = LEVEL) -> Interval:
    """Difference of two success rates (values 0/1), Newcombe's hybrid score interval from Wilson intervals."""
    from scipy import stats

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    k1, k2 = int(a.sum()), int(b.sum())
    p1, p2 = k1 / a.size, k2 / b.size
    w1 = stats.binomtest(k1, a.size).proportion_ci(confidence_level=level, method="wilson")
    w2 = stats.binomtest(k2, b.size).proportion_ci(confidence_level=level, method="wilson")
    d = p1 - p2
    lo = d - math.sqrt((p1 - w1.low) ** 2 + (w2.high - p2) ** 2)
    hi = d + math.sqrt((w1.high - p1) ** 2 + (p2 - w2.low) ** 2)
    return Interval(d, lo, hi, "newcombe", a.size, b.size)


def difference(torch_values, tf_values, outcomes: bool = False) -> Interval:
    """torch minus tf over the finite per-seed values of the two frameworks. `outcomes`: the values are
    declared successes and failures (1/0), compared as rates (Newcombe); else as measurements (Hodges-Lehmann)."""
    a = np.asarray(torch_values, np.float64)
    b = np.asarray(tf_values, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not a.size or not b.size:
        return Interval(math.nan, -math.inf, math.inf, "none", a.size, b.size)
    if outcomes:
        bad = sorted({float(v) for v in np.concatenate([a, b]) if v not in (0.0, 1.0)})
        if bad:
            raise ValueError(f"per-seed values declared outcomes (0 or 1) include {bad[:3]}: declare the metric a "
                             "measurement (remove it from its Experiment's outcomes) or make it 0/1")
        return newcombe(a, b)
    return hodges_lehmann(a, b)


def exact_difference(torch_values, tf_values) -> Interval:
    """A computed (not sampled) quantity: the difference is exact; an interval of zero width."""
    a = np.asarray(torch_values, np.float64)
    b = np.asarray(tf_values, np.float64)
    d = float(np.median(a) - np.median(b)) if a.size and b.size else math.nan
    lo, hi = (d, d) if np.isfinite(d) else (-math.inf, math.inf)
    return Interval(d, lo, hi, "exact", a.size, b.size)


def inside(interval: Interval, margin: float | None) -> bool:
    return margin is not None and interval.bounded and -margin <= interval.lo and interval.hi <= margin


def _spread_half_width(torch_values, tf_values) -> float:
    """The 95% half-width a normal approximation gives from the observed spread (pooled standard deviation);
    used where the rank interval is unbounded because there are too few seeds."""
    a = np.asarray(torch_values, np.float64)
    b = np.asarray(tf_values, np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size + b.size < 3:
        return math.nan
    pooled = np.concatenate([a - np.mean(a), b - np.mean(b)]) if a.size and b.size else np.array([])
    dof = a.size + b.size - 2
    if dof <= 0:
        return math.nan
    sd = math.sqrt(float(np.sum(pooled ** 2)) / dof)
    return Z_INTERVAL * sd * math.sqrt(1 / a.size + 1 / b.size)


def smallest_mann_whitney_p(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact Mann-Whitney test can give for samples of n1 and n2
    (complete separation): 2 / C(n1 + n2, n1). With 3 seeds against 3 it is 0.1, so a test at 0.01
    could never call the frameworks inconsistent, and saying "consistent" would be empty."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def seeds_to_reject() -> int:
    """The fewest seeds per framework for which a test at CONSISTENCY_ALPHA can reject at all."""
    n = 1
    while smallest_mann_whitney_p(n, n) >= CONSISTENCY_ALPHA:
        n += 1
    return n


def further_seeds(interval: Interval, margin: float | None, torch_values=(), tf_values=()) -> int | None:
    """About how many more seeds per framework would likely decide an undecided claim, assuming the estimate
    stays where it is and the interval narrows as 1/sqrt(seeds): towards *consistent* when the estimate lies
    inside the margin (the interval must shrink to margin - |estimate|), towards *inconsistent* otherwise (a
    99% interval must exclude 0); at least up to the 5 seeds per framework a test needs. None when nothing can
    be said (no estimate, or a margin of 0 with an estimate of 0); at most FURTHER_SEEDS_CAP."""
    d = interval.estimate
    if not np.isfinite(d):
        return None
    n = max(1.0, (interval.n_torch + interval.n_tf) / 2)
    half = (interval.hi - interval.lo) / 2 if interval.bounded else _spread_half_width(torch_values, tf_values)
    if not np.isfinite(half):
        return None
    if margin is not None and abs(d) < margin:
        target = margin - abs(d)
    elif d != 0:
        target = abs(d) * Z_INTERVAL / Z_TEST
    else:
        return None
    needed = n * (half / target) ** 2 if half > 0 else n
    # never fewer than the seeds a test at CONSISTENCY_ALPHA needs: below them a rank interval is unbounded or
    # as wide as the range of the differences, wider than the spread's normal approximation says
    needed = max(needed, seeds_to_reject())
    return min(FURTHER_SEEDS_CAP, max(1, math.ceil(needed - n)))


def further_seeds_text(more: int, short: bool = False) -> str:
    """What more seeds would do for an undecided claim, as a whole clause (one wording everywhere): "+N" (short)
    or "about N more seeds per framework would likely decide it"; at FURTHER_SEEDS_CAP, that they are out of reach."""
    if more >= FURTHER_SEEDS_CAP:
        cap = f"{FURTHER_SEEDS_CAP:,}"
        return f"+{cap}+" if short else f"out of reach: it would take {cap} or more seeds per framework"
    return f"+{more}" if short else f"about {more} more seeds per framework would likely decide it"


def outcome(interval: Interval, margin: float | None, p_value: float, reach_p: float = math.nan) -> str:
    """consistent: the interval inside the margin and the rates of reaching the metric not told apart;
    inconsistent: a test rejects at CONSISTENCY_ALPHA (p < 0.01) with the interval not inside the margin;
    undecided: neither (too little evidence either way)."""
    reach_differs = bool(np.isfinite(reach_p) and reach_p < CONSISTENCY_ALPHA)
    if inside(interval, margin) and not reach_differs:
        return "consistent"
    if np.isfinite(p_value) and p_value < CONSISTENCY_ALPHA:
        return "inconsistent"
    if interval.method == "exact" and interval.bounded and margin is not None:
        return "inconsistent"  # computed, not sampled: a difference beyond the margin is a real difference
    return "undecided"


def equivalence_margin(claim) -> tuple[float | None, str]:
    """The claim's equivalence margin and why, in the units of its per-seed quantity (the metric for a Band,
    a - b for an Ordering, a / b for a Ratio). A declared `equivalence` wins; otherwise the default rule:
    - a Band with both bounds finite: a quarter of its width (a framework difference that small moves the
      statistic by at most a quarter of the band, so it cannot by itself carry a value across the band);
    - a Band with one finite, non-zero bound: a tenth of that threshold's magnitude;
    - anything else (an Ordering, a Ratio, a band on 0 or unbounded): no default; the claim must declare one.
    None: no margin, so the claim can be inconsistent or undecided but never consistent."""
    from .spec import Band

    if claim.equivalence is not None:
        return float(claim.equivalence), claim.equivalence_reason
    if isinstance(claim, Band):
        lo, hi = float(claim.lo), float(claim.hi)
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            return (hi - lo) / 4, f"default: a quarter of the band [{lo:g}, {hi:g}]"
        bound = lo if np.isfinite(lo) else hi
        if np.isfinite(bound) and bound != 0:
            return abs(bound) / 10, f"default: a tenth of the threshold {bound:g}"
    return None, "no margin declared and no band to derive one from"


EXHAUSTIVE_UP_TO = 20_000  # orderings: a tied rank test enumerates them all up to this many (8 against 8: 12,870)


def rank_test_p(a, b) -> float:
    """Two-sided Mann-Whitney p of torch's against tf's finite values. With ties, scipy's default is the normal
    approximation, which is conservative at few seeds (5 against 5, fully separated but tied: 0.010 instead of
    2/252 = 0.008), so a test at 0.01 could not reject with the seeds meant to allow it; the exact permutation
    distribution of the tied ranks is used instead where it is small enough to enumerate."""
    from scipy import stats

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    values = np.concatenate([a, b])
    tied = np.unique(values).size < values.size
    if tied and math.comb(a.size + b.size, a.size) <= EXHAUSTIVE_UP_TO:
        method = stats.PermutationMethod(n_resamples=np.inf)  # every ordering: exact and deterministic
        return float(stats.mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
