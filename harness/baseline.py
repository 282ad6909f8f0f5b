"""Regression verdict of current records against a committed baseline, for CI.

The newest record per check (kind, paper, framework, check, profile, dtype) is compared with the
baseline's. Only records with the same profile, dtype and data are compared: a tiny-profile run says
nothing about a reduced-profile baseline, and a run that trained on the 8x8 digits fallback says nothing
about one that trained on MNIST. A verdict over zero comparable checks is a failure, not a pass.

Both files are read strictly (`read_records`): the committed baseline is CI's contract, so a line that
does not parse or validate is an error (exit 2) naming the file and line, never a skipped check.

Deterministic checks are compared strictly; their values do not depend on seeds or training:
  - an agreement check that passed in the baseline and fails now is a regression;
  - a claim whose record says `details["deterministic"] is True` (computed without training, e.g. a
    noise schedule) regresses when its verdict flips to not reproduced or its value leaves its band.
Claims from training runs are compared by their per-seed values (`details.inputs[...]["values"]`):
  - where both sides have enough seeds for a test to be able to reject, each input is tested with a
    two-sided Mann-Whitney test on the finite values and Fisher's exact test on how many seeds were
    finite, each at VERDICT_ALPHA / K (Bonferroni over the K tests of the verdict that can reject at
    that level, Tarone's procedure, so that seed and machine variation alone fails a verdict with
    probability at most VERDICT_ALPHA). A claim regresses when a test rejects and its verdict got worse
    (pass -> fail, or its value left its band);
  - a claim with too few seeds for any test (e.g. one seed per framework at the tiny profile) is a smoke
    check: it regresses only when it produces a non-finite value where the baseline's was finite (no
    longer running at all is a missing check, different data is "not comparable");
  - a verdict that flips while the values are statistically indistinguishable is a warning ("verdict
    near its band; seed variation"), not a regression.
Not comparable (exit 2 when there is no regression): a check whose records were made from different
data (`data_identity` differs), with both datasets named.
Warnings: an agreement error (max_rel) more than 100x the baseline's while still under its tolerance, a
loosened tolerance where both records' tolerance comes from a written rule (a float32 tolerance measured
per run against the float64 arbiter moves with the machine), a changed tolerance rule, a moved band, a
claim turned report-only, training values that moved beyond seed variation while the verdict held,
frameworks turned statistically inconsistent (a consistency test at p < 0.01 can flip by chance), a claim
whose torch-tf consistency went from consistent to undecided, a changed equivalence margin.
Improvements (fail -> pass) and new checks are listed; they never fail the verdict.
Benchmarks are compared by `bench_regress` (noise-aware; only records from the same machine kind).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from . import results
from .claims import smallest_mann_whitney_p
from .consistency import further_seeds_text
from .errors import ResultsError
from .results import KEY_FIELDS, key, latest
from .tables import fmt_num, fmt_sci

GROWTH_WARNING = 100.0  # warn when an agreement error grows by more than this factor
VERDICT_ALPHA = 0.01  # family-wise: how often seed and machine variation alone may fail a verdict

Record = Mapping[str, Any]

# --- reading ----------------------------------------------------------------------------------------------

_GZIP_MAGIC = b"\x1f\x8b"


def read_records(path: str | Path, role: str = "baseline") -> list[Record]:
    """Every record of the JSON Lines file at `path`, or ResultsError (exit 2) on the first bad line.

    Strict on purpose: a skipped line would turn the check it held into a "new" or "missing" one and could
    let a regression pass. `role` ("baseline", "current records") names the file in the message.
    """
    path = Path(path)
    fix = (f"restore it (`git checkout -- {path}`) or regenerate it with `make baseline`" if role == "baseline"
           else "remove the bad line or rerun the checks into an empty --results-dir")
    try:
        with path.open("rb") as f:
            head = f.read(2)
    except FileNotFoundError:
        hint = ("pass the committed baseline, e.g. results/baseline.jsonl" if role == "baseline"
                else "run `python -m harness agree ...` or `reproduce ...` into that results directory first")
        raise ResultsError(f"no records at {path} (the {role} file does not exist); {hint}") from None
    except OSError as e:
        raise ResultsError(f"cannot read {role} {path}: {e.strerror or e}") from None
    if head == _GZIP_MAGIC:
        raise ResultsError(f"{role} {path} is gzip-compressed, not JSON Lines; decompress it (gunzip) first")
    records, problems = results.read(path, also=check_claim_evidence)  # one pass: every problem has its line
    if problems:
        first = problems[0]
        first = f"{path}{first[len(path.name):]}" if first.startswith(f"{path.name}:") else f"{path}: {first}"
        more = f" (and {len(problems) - 1} more bad lines)" if len(problems) > 1 else ""
        raise ResultsError(f"invalid {role} {first}{more}; {fix}")
    if not records:
        raise ResultsError(f"{role} {path} holds no records; {fix}")
    return records


def check_claim_evidence(record: Record) -> None:
    """A training claim must carry its per-seed values; raise ResultsError naming what is missing."""
    if record.get("kind") not in ("claim", "budget") or _deterministic(record):  # budget: harness.diagnosis
        return
    inputs = (record.get("details") or {}).get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        raise ResultsError(f"claim {record.get('check')!r} has no per-seed values (details.inputs); "
                           f"a training claim is compared by them")
    for name, entry in inputs.items():
        values = entry.get("values") if isinstance(entry, Mapping) else None
        if not isinstance(values, list) or not values or _number_list(values) is None:
            raise ResultsError(f"claim {record.get('check')!r}: details.inputs[{name!r}]['values'] must be a "
                               f"non-empty list of numbers")


# --- data identity ----------------------------------------------------------------------------------------


def data_identity(record: Record) -> str:
    """What data a record was made from, without where it was read from.

    The `dataset` field reads "NAME: SUBSET (SOURCE)" per dataset, joined by ";" (e.g. "mnist: train
    60000 of 60000, test 10000 of 10000 (mnist: IDX files in /data/mnist (...))"). The parenthesised
    source holds paths and library versions that differ between machines with the same data, so it is
    dropped; the name and subset stay (a digits fallback or another subset is other data).
    """
    text = str(record.get("dataset") or "")
    out, depth = [], 0
    for i, ch in enumerate(text):
        if ch == "(" and (depth or text[i - 1:i] == " "):  # " (" opens a source; "task-2a(5.2)" is a name
            depth += 1
            continue
        if ch == ")" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    return re.sub(r"\s+", " ", "".join(out)).strip()


# --- the verdict ------------------------------------------------------------------------------------------


@dataclass
class Change:
    """One check that differs from the baseline, and why it matters."""

    key: tuple | None  # None: a verdict about the comparison as a whole (nothing comparable)
    reason: str
    before: Record | None = None
    after: Record | None = None

    @property
    def label(self) -> str:
        if self.key is None:
            return "(all)"
        k = dict(zip(KEY_FIELDS, self.key, strict=True))
        return f"{k['kind']} {k['paper']}/{k['check']}"

    def row(self) -> list[str]:
        k = dict(zip(KEY_FIELDS, self.key, strict=True)) if self.key else {}
        return [self.label, k.get("framework") or "", k.get("profile") or "-", k.get("dtype") or "-",
                _state(self.before), _state(self.after), self.reason]


def _state(r: Record | None) -> str:
    if r is None:
        return "(missing)"
    value = r.get("value")
    shown = fmt_sci(value) if r.get("kind") in ("agreement", "consistency") else fmt_num(value)
    verdict = {True: "pass", False: "FAIL", None: "report"}[r.get("passed")]
    return f"{verdict} {shown}"


@dataclass
class Verdict:
    regressions: list[Change] = field(default_factory=list)
    warnings: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    new: list[Change] = field(default_factory=list)
    incomparable: list[Change] = field(default_factory=list)  # made from different data
    compared: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1: a regression; 2: checks made from other data than the baseline (no verdict on them); 0: pass."""
        return 1 if self.regressions else 2 if self.incomparable else 0

    def render(self, list_all: bool = False, shown: int = 25) -> str:
        """Regressions, warnings and not-comparable checks are always listed in full; improvements and new
        checks up to `shown` rows each unless `list_all` (a first run against an old baseline can add
        hundreds)."""
        headers = ["check", "framework", "profile", "dtype", "baseline", "now", "why"]
        out = [f"compared {self.compared} checks with the baseline (same profile, dtype and data): "
               f"{len(self.regressions)} regressions, {len(self.warnings)} warnings, "
               f"{len(self.improvements)} improvements, {len(self.new)} new, "
               f"{len(self.incomparable)} not comparable"]
        out += [f"note: {n}" for n in self.notes]
        out += [f"FAIL: {c.reason}" for c in self.regressions if c.key is None]
        short = ("IMPROVEMENTS", "NEW (not in the baseline)")
        for title, changes in (("REGRESSIONS", self.regressions), ("NOT COMPARABLE", self.incomparable),
                               ("WARNINGS", self.warnings), ("IMPROVEMENTS", self.improvements),
                               ("NEW (not in the baseline)", self.new)):
            changes = [c for c in changes if c.key is not None]
            if changes:
                cut = not list_all and title in short and len(changes) > shown
                rows = changes[:shown] if cut else changes
                out += ["", f"{title} ({len(changes)})",
                        tabulate([c.row() for c in rows], headers=headers, disable_numparse=True,
                                 maxcolwidths=[None] * 6 + [70])]
                if cut:
                    out.append(f"... and {len(changes) - shown} more (--list-all lists every one)")
        out.append("")
        if self.regressions:
            out.append(f"FAIL: {len(self.regressions)} regression(s)")
        elif self.incomparable:
            out.append(f"NOT COMPARABLE: {len(self.incomparable)} check(s) were made from other data than the "
                       f"baseline, so the verdict says nothing about them; rerun with the baseline's data "
                       f"(--data-dir or HARNESS_DATA_DIR) or regenerate the baseline on purpose")
        else:
            out.append("PASS: no regressions")
        return "\n".join(out)


# --- helpers ----------------------------------------------------------------------------------------------


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _number_list(values: list) -> np.ndarray | None:
    numbers = [_number(v) for v in values]
    return None if any(n is None for n in numbers) else np.asarray(numbers, dtype=np.float64)


def _finite(x: Any) -> bool:
    v = _number(x)
    return v is not None and math.isfinite(v)


def _deterministic(r: Record) -> bool:
    return (r.get("details") or {}).get("deterministic") is True


def _band(r: Record) -> tuple[float, float] | None:
    """The record's band [lo, hi], or None when it has no finite bound (an ordering, a report-only claim)."""
    expected = r.get("expected") or {}
    lo, hi = _number(expected.get("lo")), _number(expected.get("hi"))
    lo = -math.inf if lo is None or math.isnan(lo) else lo
    hi = math.inf if hi is None or math.isnan(hi) else hi
    return None if math.isinf(lo) and math.isinf(hi) else (lo, hi)


def _show_band(band: tuple[float, float] | None) -> str:
    return "none" if band is None else f"[{fmt_num(band[0])}, {fmt_num(band[1])}]"


def _inside(r: Record) -> bool | None:
    band = _band(r)
    if band is None:
        return None
    return _finite(r.get("value")) and band[0] <= float(r["value"]) <= band[1]


def _show_values(values: np.ndarray, listed: int = 8) -> str:
    """Per-seed values in a table cell: each one when few, else their median, range and non-finite count."""
    if values.size <= listed:
        return "[" + ", ".join(fmt_num(float(v)) for v in values) + "]"
    finite = values[np.isfinite(values)]
    missing = f", {values.size - finite.size} non-finite" if finite.size < values.size else ""
    if not finite.size:
        return f"{values.size} seeds, none finite"
    return (f"{values.size} seeds: median {fmt_num(float(np.median(finite)))}, range "
            f"[{fmt_num(float(finite.min()))}, {fmt_num(float(finite.max()))}]{missing}")


def _eps(dtype: str | None) -> float:
    return float(np.finfo(np.float32 if dtype == "float32" else np.float64).eps)


# --- agreement --------------------------------------------------------------------------------------------


def tol_rule(r: Record) -> str:
    """Where an agreement record's tolerance comes from: "written" (a fixed rule; float64, and every record
    made before the float64 arbiter) or "arbiter" (float32, measured per run from each framework's distance
    to float64: it moves with the machine's rounding), read from `details["tol_rule"]` (or
    `expected["tol_rule"]`, beside the tolerance itself)."""
    rule = (r.get("details") or {}).get("tol_rule") or (r.get("expected") or {}).get("tol_rule")
    return str(rule or "written")


def _agreement(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    bp, cp = b.get("passed"), c.get("passed")
    tol_b, tol_c = _number(b["expected"].get("tol")), _number(c["expected"].get("tol"))
    if bp is True and cp is False:
        regress.append(f"agreement now fails: max_rel {fmt_sci(c.get('value'))} > tol {fmt_sci(tol_c)}"
                       + (f" (first divergence: {c['details']['first_divergence']})"
                          if (c.get("details") or {}).get("first_divergence") else ""))
    elif bp is False and cp is True:
        improve.append("agreement now passes")
    elif bp is True and cp is True:
        before, now = _number(b.get("value")), _number(c.get("value"))
        if before is not None and now is not None:
            floor = max(before, _eps(c.get("dtype")))  # from 0 to one rounding error is no growth
            if now > GROWTH_WARNING * floor:
                warn.append(f"max_rel grew {now / floor:.3g}x ({fmt_sci(before)} -> {fmt_sci(now)}), "
                            f"still under tol {fmt_sci(tol_c)}")
    rule_b, rule_c = tol_rule(b), tol_rule(c)
    if rule_b != rule_c:
        warn.append(f"tolerance rule changed from {rule_b} to {rule_c}")
    elif rule_c == "written" and tol_b is not None and tol_c is not None and tol_c > tol_b:
        warn.append(f"tolerance loosened from {fmt_sci(tol_b)} to {fmt_sci(tol_c)}"
                    + (f" ({c['expected']['tol_reason']})" if c["expected"].get("tol_reason") else ""))


# --- claims -----------------------------------------------------------------------------------------------


def _claim_strict(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    """A deterministic claim: any flip to not reproduced, or its value leaving its band, is a regression."""
    bp, cp = b.get("passed"), c.get("passed")
    if bp is True and cp is False:
        regress.append(f"claim no longer reproduced ({c['expected'].get('rule', '')})")
    elif bp is False and cp is True:
        improve.append("claim now reproduced")
    if _inside(b) is True and _inside(c) is False:
        lo, hi = _band(c)
        regress.append(f"value {fmt_num(c.get('value'))} left its band [{fmt_num(lo)}, {fmt_num(hi)}] "
                       f"(baseline {fmt_num(b.get('value'))} was inside)")


@dataclass
class SeedTest:
    """One test of whether an input's per-seed values moved beyond seed and machine variation."""

    input: str
    test: str  # "Mann-Whitney" (finite values) or "Fisher" (how many seeds were finite)
    p: float
    floor: float  # the smallest p-value this test can give at these sample sizes
    able: bool = False  # the floor is below the verdict's per-test level (set by `_tarone_alpha`)

    def show(self) -> str:
        return f"{self.input}: {self.test} p={fmt_sci(self.p)}"


def _seed_values(r: Record) -> dict[str, np.ndarray]:
    return {name: _number_list(entry["values"]) for name, entry in r["details"]["inputs"].items()}


def _seed_tests(b: Record, c: Record) -> list[SeedTest]:
    """The tests each input shared by both records allows (see the module docstring)."""
    from scipy import stats

    before, after = _seed_values(b), _seed_values(c)
    out = []
    for name in sorted(set(before) & set(after)):
        x, y = before[name], after[name]
        fx, fy = np.isfinite(x), np.isfinite(y)
        if (~fx).any() or (~fy).any():  # reached-the-metric counts, e.g. convergence rates
            p = float(stats.fisher_exact([[fx.sum(), (~fx).sum()], [fy.sum(), (~fy).sum()]]).pvalue)
            # Floor: the Mann-Whitney bound, at least Fisher's smallest p (complete separation) at these sizes;
            # a larger floor only marks fewer tests able, and a test not marked able never rejects.
            out.append(SeedTest(name, "Fisher", p, smallest_mann_whitney_p(x.size, y.size)))
        x, y = x[fx], y[fy]
        if x.size and y.size:
            both = np.concatenate([x, y])
            p = 1.0 if np.unique(both).size == 1 else float(stats.mannwhitneyu(x, y, alternative="two-sided").pvalue)
            out.append(SeedTest(name, "Mann-Whitney", p, smallest_mann_whitney_p(x.size, y.size)))
    return out


def _tarone_alpha(tests: list[SeedTest]) -> float:
    """The per-test level that holds the whole verdict at VERDICT_ALPHA, and mark which tests can reach it.

    Bonferroni over only the tests that can reject (Tarone, Biometrics 46, 1990): with K the smallest
    count such that at most K tests can give a p-value below VERDICT_ALPHA / K, each of those is run at
    VERDICT_ALPHA / K. A test that cannot reach that level (too few seeds) never rejects, so leaving it
    out of the count keeps the family-wise guarantee while not diluting the tests that can.
    """
    floors = [t.floor for t in tests]
    k = 1
    while sum(f < VERDICT_ALPHA / k for f in floors) > k:
        k += 1
    alpha = VERDICT_ALPHA / k
    for t in tests:
        t.able = t.floor < alpha
    return alpha


def _claim_by_seeds(b: Record, c: Record, tests: list[SeedTest], alpha: float,
                    regress: list, warn: list, improve: list) -> None:
    """A claim from training runs: judged by its per-seed values, not by a verdict one seed can flip."""
    before, after = _seed_values(b), _seed_values(c)
    values = "; ".join(f"{name} baseline {_show_values(before[name])} now {_show_values(after[name])}"
                       for name in sorted(set(before) & set(after)))
    if set(before) != set(after):
        warn.append(f"claim inputs changed from {sorted(before)} to {sorted(after)}: only shared inputs tested")
    testable = [t for t in tests if t.able]
    moved = [t for t in testable if t.p < alpha]
    worse = (b.get("passed") is True and c.get("passed") is False) or (_inside(b) is True and _inside(c) is False)
    better = b.get("passed") is False and c.get("passed") is True
    if not testable:  # a smoke check: too few seeds for any test to reject
        lost = [name for name in sorted(set(before) & set(after))
                if np.isfinite(before[name]).any() and not np.isfinite(after[name]).any()]
        if _finite(b.get("value")) and not _finite(c.get("value")):
            lost.insert(0, f"value {fmt_num(b.get('value'))} -> {fmt_num(c.get('value'))}")
        if lost:
            regress.append(f"smoke check: no finite value any more where the baseline had one ({', '.join(lost)})")
        elif worse:
            warn.append(f"verdict near its band; seed variation: too few seeds for a test (smoke check: it "
                        f"runs, is finite, same data); {values}")
        elif better:
            improve.append(f"claim now reproduced (too few seeds to tell from seed variation; {values})")
        return
    evidence = ", ".join(t.show() for t in (moved or testable))
    if moved and worse:
        regress.append(f"claim got worse beyond seed variation ({evidence} < {fmt_sci(alpha)}); {values}")
    elif moved and better:
        improve.append(f"claim now reproduced, beyond seed variation ({evidence}); {values}")
    elif moved:
        warn.append(f"values moved beyond seed variation ({evidence} < {fmt_sci(alpha)}) but the verdict "
                    f"holds; {values}")
    elif worse:
        warn.append(f"verdict near its band; seed variation: values statistically indistinguishable "
                    f"({evidence} >= {fmt_sci(alpha)}); {values}")
    elif better:
        improve.append(f"claim now reproduced (within seed variation: {evidence}); {values}")


def _claim_common(b: Record, c: Record, warn: list) -> None:
    if b.get("passed") is not None and c.get("passed") is None:
        warn.append("claim became report-only")
    if _band(b) != _band(c):
        warn.append(f"acceptance band changed from {_show_band(_band(b))} to {_show_band(_band(c))}")


def consistency_outcome(r: Record) -> str:
    """consistent / inconsistent / undecided; a record from before the three outcomes had only the rank test,
    so its pass is "not rejected" (no interval against a margin): read as undecided, never as consistent."""
    outcome = (r.get("details") or {}).get("outcome")
    if outcome is not None:
        return str(outcome)
    return "inconsistent" if r.get("passed") is False else "undecided"


def _consistency(b: Record, c: Record, regress: list, warn: list, improve: list) -> None:
    bo, co = consistency_outcome(b), consistency_outcome(c)
    if co == "inconsistent" and bo != "inconsistent":
        warn.append(f"torch and tf became statistically inconsistent (p={fmt_sci(c.get('value'))}; was {bo})")
    elif co == "consistent" and bo != "consistent":
        improve.append(f"torch and tf now consistent within their equivalence margin (was {bo})")
    elif bo == "consistent" and co == "undecided":
        more = (c.get("details") or {}).get("further_seeds")
        warn.append("torch-tf consistency now undecided (was consistent)"
                    + (f"; {further_seeds_text(more)}" if more else ""))
    bm, cm = ((r.get("expected") or {}).get("margin") for r in (b, c))
    if "margin" in (b.get("expected") or {}) and bm != cm:
        warn.append(f"equivalence margin changed from {bm} to {cm}")


# --- compare ----------------------------------------------------------------------------------------------


def _coverage(records: Iterable[Record]) -> str:
    records = list(records)
    profiles = sorted({str(r.get("profile") or "none") for r in records})
    dtypes = sorted({str(r.get("dtype") or "none") for r in records})
    return (f"{len(records)} checks (profiles: {', '.join(profiles) or '-'}; "
            f"dtypes: {', '.join(dtypes) or '-'})")


def _elsewhere(k: tuple, current: Mapping[tuple, Record]) -> str:
    """Where the current records have this check under another profile or dtype, in words."""
    kind, paper, framework, check, profile, dtype = k
    others = [(p, d) for (ki, pa, fw, ch, p, d) in current
              if (ki, pa, fw, ch) == (kind, paper, framework, check) and (p, d) != (profile, dtype)]
    if not others:
        return ""
    where = ", ".join(f"profile {p}, dtype {d}" for p, d in others)
    return f" (present now under {where}: not comparable with profile {profile}, dtype {dtype})"


DIAGNOSTIC_KINDS = ("budget", "diagnosis")  # harness.diagnosis: evidence about a claim, not a verdict


def compare(current_records: Iterable[Record], baseline_records: Iterable[Record],
            allow_missing: bool = False) -> Verdict:
    """Regression verdict of the newest current record per check against the newest baseline record (a benchmark
    against every run of it the baseline holds: `bench_regress`)."""
    verdict = Verdict()
    baseline_records = list(baseline_records)
    cur_all, base_all = latest(current_records), latest(baseline_records)
    for r in (*cur_all, *base_all):
        check_claim_evidence(r)
    diagnostic = sum(r.get("kind") in DIAGNOSTIC_KINDS for r in cur_all)
    if diagnostic:
        verdict.notes.append(f"{diagnostic} budget-curve and diagnosis records not compared (they explain a "
                             "verdict, they are not one)")
    cur = {key(r): r for r in cur_all if r.get("kind") not in ("benchmark", *DIAGNOSTIC_KINDS)}
    base = {key(r): r for r in base_all if r.get("kind") not in ("benchmark", *DIAGNOSTIC_KINDS)}
    bench_runs = [r for r in baseline_records if r.get("kind") == "benchmark"]  # every run, not only the newest
    if _compare_benchmarks_only(cur_all, bench_runs, cur, base, verdict):
        return verdict
    verdict.new += [Change(k, "new check", None, r) for k, r in cur.items() if k not in base]
    if not any(k in cur for k in base):
        verdict.regressions.append(Change(None, (
            f"nothing comparable: the baseline has {_coverage(base.values())}, the current records have "
            f"{_coverage(cur.values())}; only the same check with the same profile and dtype is compared "
            f"(a tiny run is not compared with a reduced baseline), and a verdict over zero checks "
            f"means nothing"
        )))
        return verdict
    pairs = []
    for k, b in base.items():
        c = cur.get(k)
        if c is None:
            change = Change(k, "missing from the current records" + _elsewhere(k, cur), b, None)
            (verdict.warnings if allow_missing else verdict.regressions).append(change)
        elif data_identity(b) != data_identity(c):
            verdict.incomparable.append(Change(
                k, f"not comparable: made from different data (baseline: {data_identity(b) or 'none'}; "
                   f"now: {data_identity(c) or 'none'})", b, c))
        else:
            pairs.append((k, b, c))
    verdict.compared += len(pairs)
    by_seeds = {k: _seed_tests(b, c) for k, b, c in pairs if b.get("kind") == "claim"
                and not (_deterministic(b) or _deterministic(c))}
    alpha = _tarone_alpha([t for tests in by_seeds.values() for t in tests])
    m = sum(t.able for tests in by_seeds.values() for t in tests)
    if m:
        verdict.notes.append(f"{m} seed-distribution tests, each at p < {fmt_sci(alpha)} "
                             f"({VERDICT_ALPHA} over the whole verdict)")
    for k, b, c in pairs:
        regress: list[str] = []
        warn: list[str] = []
        improve: list[str] = []
        kind = b.get("kind")
        if kind == "agreement":
            _agreement(b, c, regress, warn, improve)
        elif kind == "consistency":
            _consistency(b, c, regress, warn, improve)
        elif kind == "claim":
            if k in by_seeds:
                _claim_by_seeds(b, c, by_seeds[k], alpha, regress, warn, improve)
            else:
                _claim_strict(b, c, regress, warn, improve)
            _claim_common(b, c, warn)
        if regress:
            verdict.regressions.append(Change(k, "; ".join(regress), b, c))
        if warn:
            verdict.warnings.append(Change(k, "; ".join(warn), b, c))
        if improve:
            verdict.improvements.append(Change(k, "; ".join(improve), b, c))
    return verdict


def _compare_benchmarks_only(cur_all: list[Record], bench_base: list[Record], cur: Mapping, base: Mapping,
                             verdict: Verdict) -> bool:
    """Compare the newest benchmark records against every run in the baseline (`bench_regress`); True when there
    is nothing else to compare (a bench baseline), so the correctness verdict over zero checks does not fail it."""
    from . import bench_regress

    bench_cur = [r for r in cur_all if r.get("kind") == "benchmark"]
    bench_regress.compare_benchmarks(bench_cur, bench_base, verdict)
    if cur or base or not (bench_cur or bench_base):
        return False
    cur_keys = {key(r) for r in bench_cur}
    if not any(key(r) in cur_keys for r in bench_base):
        verdict.regressions.append(Change(None, "nothing comparable: no benchmark case of the bench baseline was "
                                                "timed in the current records"))
    return True
