"""Comparison tables from result records: Markdown (tabulate), CSV and LaTeX, and the results README.

Everything here is computed from records (harness/results.py); nothing is edited by hand. The claims
table keeps the paper's number (`expected.reported`, with its source) apart from the reduced-scale torch
and tf results, so a reduced number is never presented as the paper's.

The DataFrames hold raw numbers (None where a framework has no result, NaN where a run produced NaN);
numbers are formatted only when written: 3 significant digits, errors in scientific notation.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .consistency import further_seeds_text
from .errors import ResultsError
from .results import latest

MISSING = "—"
TERMINAL_WIDTH = 120  # what `reproduce`, `table` and `report` print must fit
IDENTIFIER_COLUMNS = {"claim", "check"}  # wrapped in a terminal table only when free text cannot make room
DIFF = "|torch-tf|"  # ASCII on purpose: a Unicode minus breaks pdflatex and some CSV readers

AGREEMENT_COLUMNS = ["check", "dtype", "kind", "max abs", "max rel", "tol", "first divergence", "verdict",
                     "tol reason"]
CLAIM_COLUMNS = ["claim", "paper", "setting", "torch", "tf", DIFF, "rule", "verdict"]
BENCHMARK_COLUMNS = ["paper", "check", "framework", "metric", "value", "min", "max", "vs plain", "vs fed"]

SCI_COLUMNS = {"max abs", "max rel", "tol"}
NUM_COLUMNS = {"torch", "tf", DIFF, "value", "min", "max", "f64 err/tol", "f32 err/tol"}


# --- number formatting ------------------------------------------------------------------------------------


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def fmt_num(x: Any) -> str:
    """3 significant digits; plain notation for 1e-3 <= |x| < 1e5 (integer digits kept), else scientific."""
    if x is None:
        return MISSING
    if not is_number(x):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e5:
        digits = max(0, 2 - math.floor(math.log10(abs(x))))
        return f"{x:.{digits}f}"
    return f"{x:.2e}"


def fmt_sci(x: Any) -> str:
    """An error or tolerance: always scientific, 3 significant digits."""
    if x is None:
        return MISSING
    if not is_number(x):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "0" if x == 0 else f"{x:.2e}"


def fmt_reported(reported: Any, source: str | None) -> str:
    """The paper's own number exactly as the paper gives it, with where it is: "1425 (Fig. 1 caption)"."""
    if reported is None:
        text = MISSING
    elif is_number(reported):
        x = float(reported)
        text = str(int(x)) if math.isfinite(x) and x.is_integer() and abs(x) < 1e15 else f"{x:g}"
    else:
        text = str(reported)
    # A reported text that already names its source (the paper's own wording) does not repeat it.
    return f"{text} ({source})" if source and f"({source})" not in text else text


# --- tables -----------------------------------------------------------------------------------------------


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    # object dtype keeps None (no result) apart from NaN (a result that is NaN).
    return pd.DataFrame([[r.get(c) for c in columns] for r in rows], columns=columns, dtype=object)


def _verdict(passed: bool | None) -> str:
    return "report" if passed is None else "pass" if passed else "FAIL"


def agreement_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per latest agreement record (torch vs tf on the same weights), in record order."""
    rows = []
    for r in latest(x for x in records if x.get("kind") == "agreement"):
        details = r.get("details") or {}
        expected = r.get("expected") or {}
        rows.append({
            "check": f"{r['paper']}/{r['check']}",
            "dtype": r.get("dtype"),
            "kind": details.get("kind") or r["check"].rsplit("/", 1)[-1],
            "max abs": details.get("max_abs"),
            "max rel": r.get("value"),
            "tol": expected.get("tol"),
            "first divergence": details.get("first_divergence") or "",
            "verdict": _verdict(r.get("passed")),
            "tol reason": expected.get("tol_reason") or "",
        })
    return _frame(rows, AGREEMENT_COLUMNS)


def papers(records: Iterable[Mapping[str, Any]],
           kinds: Sequence[str] = ("claim", "consistency")) -> list[str]:
    """Papers with records of `kinds`: registered ones in the registry's (publication) order, then any
    others in order of first appearance."""
    from . import registry
    from .errors import HarnessError

    found = list(dict.fromkeys(r["paper"] for r in records if r.get("kind") in kinds))
    try:
        order = {key: i for i, key in enumerate(registry.papers())}
    except (HarnessError, ValueError):  # records must still render when the registry cannot load
        order = {}
    return sorted(found, key=lambda key: (key not in order, order.get(key, 0)))


def claims_table(records: Iterable[Mapping[str, Any]], paper: str) -> pd.DataFrame:
    """One row per claim (and profile) of `paper`: the paper's number and source, the reduced setting,
    the torch and tf results, their difference, the rule and a verdict over both frameworks."""
    records = list(records)
    mine = latest(r for r in records if r.get("paper") == paper and r.get("kind") in ("claim", "consistency"))
    groups: dict[tuple, dict[str, Mapping]] = {}
    for r in mine:
        g = groups.setdefault((r["check"], r.get("profile")), {})
        g["consistency" if r["kind"] == "consistency" else r["framework"]] = r
    rows = []
    for (claim, profile), g in groups.items():
        torch_rec, tf_rec = g.get("torch"), g.get("tf")
        runs = [x for x in (torch_rec, tf_rec) if x is not None]
        described = runs[0] if runs else g.get("consistency", {})
        expected = described.get("expected") or {}
        rules = [x["expected"].get("rule") for x in runs if x.get("passed") is not None] or \
                [x["expected"].get("rule") for x in runs]
        setting = expected.get("setting") or ""
        tv = torch_rec.get("value") if torch_rec else None
        fv = tf_rec.get("value") if tf_rec else None
        rows.append({
            "claim": claim,
            "paper": fmt_reported(expected.get("reported"), expected.get("source")),
            "setting": f"[{profile}] {setting}".strip() if profile else setting,
            "torch": tv,
            "tf": fv,
            DIFF: abs(float(tv) - float(fv)) if is_number(tv) and is_number(fv) else None,
            "rule": rules[0] if rules else "",
            "verdict": claim_verdict(torch_rec, tf_rec, g.get("consistency")),
        })
    return with_diagnosis_column(_frame(rows, CLAIM_COLUMNS), records, paper)


def with_diagnosis_column(df: pd.DataFrame, records: list, paper: str) -> pd.DataFrame:
    """Beside the verdict (never instead of it), each diagnosed claim's diagnosis (harness.diagnosis) on its
    reduced-profile row; the column is there only when the paper has diagnoses."""
    from . import diagnosis

    found = {claim: recs for (p, claim), recs in diagnosis.by_claim(records).items() if p == paper}
    if found and not df.empty:
        df["diagnosis"] = [diagnosis.short_label(found.get(c, [])) if str(s).startswith("[reduced]") else ""
                           for c, s in zip(df["claim"], df["setting"], strict=True)]
    return df


def claim_verdict(torch_rec: Mapping | None, tf_rec: Mapping | None, consistency: Mapping | None) -> str:
    """Both frameworks and their consistency in words: "reproduced (both)", "torch only", "tf only",
    "not reproduced (torch: v, tf: v)", "report"; notes for a missing framework or inconsistent results."""
    recs = {"torch": torch_rec, "tf": tf_rec}
    ran = {fw: r for fw, r in recs.items() if r is not None}
    judged = {fw: r["passed"] for fw, r in ran.items() if r.get("passed") is not None}
    notes = [f"no {fw} result" for fw, r in recs.items() if r is None]
    notes += [f"{fw} report-only" for fw in ran if fw not in judged and judged]
    if not ran:
        base = "no result"
    elif not judged:
        base = "report"
    elif len(judged) == 2:
        t, f = judged["torch"], judged["tf"]
        if t and f:
            base = "reproduced (both)"
        elif t:
            base = "torch only"
        elif f:
            base = "tf only"
        else:
            base = (f"not reproduced (torch: {fmt_num(torch_rec.get('value'))}, "
                    f"tf: {fmt_num(tf_rec.get('value'))})")
    else:
        (fw, ok), = judged.items()
        base = f"reproduced ({fw})" if ok else f"not reproduced ({fw}: {fmt_num(ran[fw].get('value'))})"
    notes += diverged_notes(ran)
    notes += consistency_notes(consistency, bool(judged))
    return "; ".join([base, *notes])


DIVERGED = "seeds diverged"  # the words of a divergence note, which the compact verdict keeps (report.verdicts)


def diverged_notes(ran: Mapping[str, Mapping]) -> list[str]:
    """Per framework, how many seeds of the claim's runs diverged (the value shown is over the others; the
    framework fails the claim): "torch: 1 of 5 seeds diverged". Claim records list them per input."""
    notes = []
    for fw, rec in ran.items():
        inputs = ((rec.get("details") or {}).get("inputs") or {}).values()
        counts = [(len(i.get("diverged") or {}), i.get("seeds")) for i in inputs if isinstance(i, Mapping)]
        worst = max(counts, default=(0, None))
        if worst[0]:
            notes.append(f"{fw}: {worst[0]} of {worst[1]} {DIVERGED} (a diverged seed fails the claim)")
    return notes


def consistency_word(consistency: Mapping | None) -> str:
    """The torch-tf outcome in a word or two for the compact verdict table: "consistent", "inconsistent",
    "undecided (+N)" with N further seeds per framework; a record from before the outcomes says only whether
    its rank test rejected ("inconsistent") or not ("not tested": not agreement)."""
    if consistency is None:
        return MISSING
    outcome = consistency_outcome(consistency)
    more = (consistency.get("details") or {}).get("further_seeds")
    return f"undecided ({further_seeds_text(more, short=True)})" if outcome == "undecided" and more else outcome


def consistency_outcome(consistency: Mapping) -> str:
    """consistent / inconsistent / undecided (harness.consistency); a record from before the three outcomes is
    "inconsistent" when its rank test rejected and otherwise "not tested", never agreement."""
    outcome = (consistency.get("details") or {}).get("outcome")
    if outcome is None:
        return "inconsistent" if consistency.get("passed") is False else "not tested"
    return str(outcome)


def consistency_notes(consistency: Mapping | None, judged: bool) -> list[str]:
    """The torch-tf consistency outcome in words. Records with an outcome (consistent / inconsistent /
    undecided, harness.consistency) say which, with the margin or the further seeds; older records without one
    only had the rank test, whose "passed: None" meant too few seeds."""
    if consistency is None:
        return []
    details = consistency.get("details") or {}
    outcome = details.get("outcome")
    if consistency.get("passed") is False:
        p = consistency.get("value")
        return ["frameworks inconsistent" + (f" (p={fmt_sci(p)})" if is_number(p) else "")]
    if not judged:
        return []
    if outcome is None:  # a record from before the three outcomes
        return ["too few seeds to test torch-tf consistency"] if consistency.get("passed") is None else []
    if outcome == "consistent":
        margin = (consistency.get("expected") or {}).get("margin")
        return ["torch-tf consistent" + (f" (within +-{fmt_num(margin)})" if is_number(margin) else "")]
    more = details.get("further_seeds")
    return ["torch-tf consistency undecided" + (f" ({further_seeds_text(more)})" if more else "")]


def benchmark_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in latest(x for x in records if x.get("kind") == "benchmark"):
        details = r.get("details") or {}
        rows.append({"paper": r["paper"], "check": r["check"], "framework": r["framework"],
                     "metric": r["metric"], "value": r.get("value"), "min": details.get("min"),
                     "max": details.get("max"), "vs plain": _signed_pct(details.get("overhead")),
                     "vs fed": _signed_pct(details.get("fed_overhead"))})
    return _frame(rows, BENCHMARK_COLUMNS)


def _signed_pct(x) -> str | None:
    """The harness's time per item over a plain loop's, minus one, as bench prints it (+5%: 5% slower)."""
    return f"{x:+.0%}" if is_number(x) else None


# --- the one-screen summary ---------------------------------------------------------------------------------

SUMMARY_COLUMNS = ["paper", "agreement", "f64 err/tol", "f32 err/tol", "claims both/one/no/rep",
                   "consistent y/n/?", "profile", "data"]


def error_over_tol(record: Mapping[str, Any]) -> float | None:
    """An agreement check's error as a fraction of its tolerance (1 is the tolerance): 0 for an exact match
    under a zero tolerance, inf for any error under a zero tolerance, None when the record has no numbers."""
    err, tol = record.get("value"), (record.get("expected") or {}).get("tol")
    if not (is_number(err) and is_number(tol)):
        return None
    if math.isnan(err):
        return math.inf  # a NaN error never passes; the worst possible margin
    if tol == 0:
        return 0.0 if err == 0 else math.inf
    return float(err) / float(tol)


def short_dataset(label: str | None) -> str:
    """One dataset label ("name: subset (source)", see harness.data) in a few words: "cifar10", "generated",
    and a fallback named visibly: "digits (FALLBACK: mnist not found: no data directory given)"."""
    text = str(label or "unknown").strip()
    fallback = re.search(r"FALLBACK to (\S+?):\s*(\S+) was requested(?: but not found \(([^();]*))?", text)
    if fallback:
        got, wanted, why = fallback.groups()
        why = f": {textwrap.shorten(why.strip(), 40, placeholder='...')}" if why and why.strip() else ""
        return f"{got} (FALLBACK: {wanted} not found{why})"
    name = text.split(":", 1)[0].strip()
    if "FALLBACK" in text:  # a fallback worded otherwise is still named as one
        return f"{name} (FALLBACK)"
    return name  # "generated:<task>" is "generated": the task is the experiment, not a dataset


def datasets_used(records: Iterable[Mapping[str, Any]]) -> str:
    """Every distinct dataset the claim records of one paper used, short, fallbacks first. A record joins
    the labels of several datasets with ";" (no space after it; a label's own "; " keeps its space)."""
    names: dict[str, None] = {}
    for r in records:
        for label in re.split(r";(?! )", str(r.get("dataset") or "unknown")):
            names[short_dataset(label)] = None
    order = list(names)
    return ", ".join(sorted(order, key=lambda n: ("FALLBACK" not in n, order.index(n))))


def base_verdict(verdict: str) -> str:
    """A claim_verdict without its notes: "reproduced (both)", "torch only", "not reproduced (...)", ..."""
    return verdict.split(";", 1)[0].strip()


def compact_verdict(verdict: str) -> str:
    """The base verdict and, never dropped, its notes of diverged seeds."""
    base, *notes = [part.strip() for part in verdict.split(";")]
    return "; ".join([base, *(n for n in notes if DIVERGED in n)])


def claim_outcome(verdict: str) -> str:
    """A claim_verdict in one of four words: both, one, not, report."""
    base = base_verdict(verdict)
    if base == "reproduced (both)":
        return "both"
    if base in ("torch only", "tf only") or base.startswith("reproduced ("):
        return "one"
    if base.startswith("not reproduced"):
        return "not"
    return "report"


def summary_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per paper (registered ones in publication order): agreement checks passed/total and the worst
    float64 and float32 error relative to tolerance, the claims reproduced in both frameworks / in one / not /
    report-only, the consistency verdicts, the profiles run and the data actually used."""
    recs = latest(records)
    rows = []
    for paper in papers(recs, kinds=("agreement", "claim", "consistency")):
        mine = [r for r in recs if r.get("paper") == paper]
        agree = [r for r in mine if r.get("kind") == "agreement"]
        worst = {}
        for dtype in ("float64", "float32"):
            ratios = [x for r in agree if r.get("dtype") == dtype and (x := error_over_tol(r)) is not None]
            worst[dtype] = max(ratios) if ratios else None
        outcomes = Counter(claim_outcome(v) for v in claims_table(recs, paper)["verdict"])
        cons = Counter(consistency_outcome(r) for r in mine if r.get("kind") == "consistency")
        claims = [r for r in mine if r.get("kind") in ("claim", "consistency")]
        rows.append({
            "paper": paper,
            "agreement": f"{sum(r.get('passed') is True for r in agree)}/{len(agree)}" if agree else MISSING,
            "f64 err/tol": worst["float64"],
            "f32 err/tol": worst["float32"],
            "claims both/one/no/rep": (f"{outcomes['both']}/{outcomes['one']}/{outcomes['not']}/"
                                       f"{outcomes['report']}") if claims else MISSING,
            # "not tested" (a record from before the three outcomes) is counted as undecided, never consistent.
            "consistent y/n/?": (f"{cons['consistent']}/{cons['inconsistent']}/"
                                 f"{cons['undecided'] + cons['not tested']}") if cons else MISSING,
            "profile": ",".join(sorted({str(r.get("profile")) for r in claims})) or MISSING,
            "data": datasets_used(r for r in claims if r.get("kind") == "claim") if claims else MISSING,
        })
    df = _frame(rows, SUMMARY_COLUMNS)
    from . import diagnosis

    found = diagnosis.by_claim(recs)
    if found and not df.empty:  # only when there are diagnoses: each paper's diagnosis kinds, counted
        df["diagnoses"] = [diagnosis.kind_counts([r for (p, _), rs in found.items() if p == paper for r in rs])
                           for paper in df["paper"]]
    return df


SMOKE_PROFILE = "tiny"  # a budget that shows the code runs; its verdicts are not the project's findings
REFERENCE_PROFILE = "reduced"  # the profile whose committed verdicts are the findings


def is_smoke(records: Iterable[Mapping[str, Any]]) -> bool:
    """True when every claim record ran at the smoke profile."""
    return {r.get("profile") for r in records if r.get("kind") == "claim"} == {SMOKE_PROFILE}


SMOKE_NOTE = (f"SMOKE RUN (profile '{SMOKE_PROFILE}'): a budget too small for most claims, so these verdicts test "
              f"that the code runs, not the papers. The findings are the committed '{REFERENCE_PROFILE}' verdicts")


def smoke_label(width: int = TERMINAL_WIDTH, where: str = "beside them (`python -m harness report`)") -> str:
    """The label of tiny-profile output, wrapped to `width`; `where` says where the real verdicts are."""
    text = f"{SMOKE_NOTE} {where}."
    return "\n".join(textwrap.wrap(text, width))


def slug(text: str) -> str:
    """A file-name and HTML-id safe form of a key."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def claim_anchor(paper: str, claim: str, profile: Any) -> str:
    """The id of a claim's entry in the HTML report."""
    return f"claim-{slug(paper)}-{slug(claim)}-{slug(str(profile))}"


def short_claims(df: pd.DataFrame) -> pd.DataFrame:
    """A claims table without the long setting text: its profile stays (the full setting is in the CSV and
    the HTML report)."""
    out = df.copy()
    out.insert(1, "profile", [s.split("]", 1)[0].lstrip("[") if s.startswith("[") else "" for s in df["setting"]])
    return out.drop(columns=["setting"])


VERDICT_COLUMNS = ["claim", "torch", "tf", "paper", "verdict"]


def verdict_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The compact verdict table `reproduce` ends with: claim, torch, tf, the paper's number, verdict."""
    recs = latest(records)
    frames = []
    for paper in papers(recs):
        df = claims_table(recs, paper)
        frames.append(pd.DataFrame({"claim": [f"{paper}/{c}" for c in df["claim"]], "torch": df["torch"],
                                    "tf": df["tf"], "paper": df["paper"], "verdict": df["verdict"]}, dtype=object))
    return pd.concat(frames, ignore_index=True) if frames else _frame([], VERDICT_COLUMNS)


def _text_width(cells: Iterable[Any]) -> int:
    return max((len(line) for cell in cells for line in str(cell).splitlines()), default=0)


def to_terminal(df: pd.DataFrame, width: int = TERMINAL_WIDTH) -> str:
    """A plain-text table no wider than `width`. Text columns wider than a common cap are wrapped (tabulate's
    maxcolwidths), the cap as large as the width allows; free text is wrapped before identifiers (a claim or
    check name reads badly broken), and numbers never are."""
    from tabulate import tabulate

    if df.empty:
        return "(no records)"
    shown = formatted(df)
    numeric = [c in SCI_COLUMNS | NUM_COLUMNS for c in df.columns]
    natural = [_text_width([c, *shown[c]]) for c in shown.columns]

    def render(caps: list[int | None]) -> str:
        limits = [None if cap is None or w <= cap else cap for cap, w in zip(caps, natural, strict=True)]
        return tabulate(shown.values.tolist(), headers=list(shown.columns), disable_numparse=True,
                        colalign=["right" if num else "left" for num in numeric],
                        maxcolwidths=limits, maxheadercolwidths=limits)

    text = render([None] * len(natural))
    # First free text alone down to 12 characters, then identifiers too down to 6 (narrower is unreadable).
    for wrapped, floor in (({c for c in df.columns if c not in IDENTIFIER_COLUMNS}, 12), (set(df.columns), 6)):
        chosen = [not num and c in wrapped for c, num in zip(df.columns, numeric, strict=True)]
        cap = max((w for ok, w in zip(chosen, natural, strict=True) if ok), default=0)
        while _text_width([text]) > width and cap > floor:
            cap -= 1
            text = render([cap if ok else None for ok in chosen])
        if _text_width([text]) <= width:
            break
    return text

# --- only generated files are ever replaced ----------------------------------------------------------------

# A generated Markdown or HTML file starts with this comment; a directory of generated files (tables/,
# figures/, report/) holds DIR_MARKER. Anything else at a path the harness writes is the user's and is left
# alone: `--results-dir .` in a project root must not replace the project's README.md.
GENERATED = "<!-- GENERATED by `python -m harness"
DIR_MARKER = ".generated-by-harness"
MARKER_DEPTH = 3  # how many directories up a generated file looks for DIR_MARKER


def is_generated(path: Path) -> bool:
    """True if `path` is a file the harness wrote: a generated header, or a file in a generated directory
    (figures/claims/<paper>/ counts as inside figures/)."""
    if any((parent / DIR_MARKER).is_file() for parent in list(path.parents)[:MARKER_DEPTH]):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(512).decode("utf-8", errors="replace")
    except OSError:
        return False
    # The marker opens the file, or follows an HTML file's doctype line.
    return any(line.startswith(GENERATED) for line in head.lstrip().splitlines()[:2])


def check_overwrite(path: Path) -> None:
    """Raise ResultsError (exit 2) when `path` exists and the harness did not generate it."""
    path = Path(path)
    if path.is_dir():
        raise ResultsError(f"{path} is a directory, not a file the harness generated; move it away or pass "
                           f"another --results-dir")
    if path.exists() and not is_generated(path):
        raise ResultsError(f"refusing to overwrite {path}: the harness did not generate it (no generated "
                           f"marker); move it away or pass another --results-dir")


def claim_dir(directory: Path) -> None:
    """Mark `directory` as holding generated files: only a new or empty directory is claimed, so a user's
    directory of the same name is never taken over (its files then fail `check_overwrite`)."""
    directory = Path(directory)
    marker = directory / DIR_MARKER
    if marker.is_file():
        return
    if directory.is_dir() and any(directory.iterdir()):
        return
    directory.mkdir(parents=True, exist_ok=True)
    marker.write_text("Files in this directory are generated by `python -m harness`; "
                      "it overwrites them. Do not edit by hand.\n", encoding="utf-8")


# --- writers ----------------------------------------------------------------------------------------------


def formatted(df: pd.DataFrame) -> pd.DataFrame:
    """All cells as strings, numbers formatted per column."""
    out = df.copy()
    for col in out.columns:
        fmt: Callable[[Any], str] = fmt_sci if col in SCI_COLUMNS else fmt_num if col in NUM_COLUMNS else \
            (lambda v: "" if v is None else str(v))
        out[col] = [fmt(v) for v in df[col]]
    return out


def to_markdown(df: pd.DataFrame) -> str:
    if df.empty:
        return "(no records)"
    shown = formatted(df).map(lambda s: s.replace("|", "\\|"))
    shown.columns = [c.replace("|", "\\|") for c in shown.columns]
    align = ["right" if c in SCI_COLUMNS | NUM_COLUMNS else "left" for c in df.columns]
    # disable_numparse: tabulate would otherwise re-format the already formatted numbers.
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "|": r"\textbar{}",
        "<": r"\textless{}", ">": r"\textgreater{}", "—": "---", "−": "-", "×": r"$\times$"}


def tex_escape(text: str) -> str:
    """LaTeX-safe text; < > | are escaped too (they print as other glyphs in the default OT1 encoding)."""
    return "".join(_TEX.get(ch, ch) for ch in text)


def to_latex(df: pd.DataFrame) -> str:
    shown = formatted(df).map(tex_escape)
    shown.columns = [tex_escape(c) for c in shown.columns]
    column_format = "".join("r" if c in SCI_COLUMNS | NUM_COLUMNS else "l" for c in df.columns)
    return shown.to_latex(index=False, escape=False, column_format=column_format or "l")


def to_csv(df: pd.DataFrame) -> str:
    """Raw numbers at full precision; an empty cell is a missing result, "nan" a NaN result."""
    raw = df.map(lambda v: "" if v is None else v)
    return raw.to_csv(index=False, na_rep="nan", lineterminator="\n")


def write_text(path: Path, text: str) -> Path:
    """Write via a temporary file and rename, so a crash never leaves a half-written table. Refuses to
    replace a file the harness did not generate (see `check_overwrite`)."""
    check_overwrite(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_formats(df: pd.DataFrame, out_dir: Path, stem: str) -> list[Path]:
    claim_dir(out_dir)
    # The Markdown table leaves out the long setting text (the CSV keeps it; the HTML report shows it).
    return [write_text(out_dir / f"{stem}.md", to_markdown(short_claims(df) if "setting" in df else df)),
            write_text(out_dir / f"{stem}.csv", to_csv(df)),
            write_text(out_dir / f"{stem}.tex", to_latex(df))]


def write_all(records: Iterable[Mapping[str, Any]], out_dir: str | os.PathLike,
              readme_path: str | os.PathLike | None = None, report_href: str | None = None) -> list[Path]:
    """Write `<paper>_claims.{md,csv,tex}` per paper, `agreement.{md,csv,tex}` and `benchmark.{md,csv,tex}`
    (when there are such records) under `out_dir`, and the generated index at `readme_path` if given (with a
    link to the HTML report at `report_href`, relative to it). Returns the files written. Nothing is written
    when any file it would replace was not generated by the harness."""
    recs = latest(records)
    out_dir = Path(out_dir)
    if readme_path is not None:
        check_overwrite(Path(readme_path))  # before any table is written, so a refusal leaves no trace
    written: list[Path] = []
    sections: list[tuple[str, pd.DataFrame, str]] = []
    agreement = agreement_table(recs)
    if not agreement.empty:
        written += _write_formats(agreement, out_dir, "agreement")
        sections.append(("Agreement: torch vs tf on the same weights", agreement, "agreement"))
    for paper in papers(recs):
        table = claims_table(recs, paper)
        written += _write_formats(table, out_dir, f"{paper}_claims")
        sections.append((f"Claims: {paper}", table, f"{paper}_claims"))
    from . import diagnosis

    diagnosed = diagnosis.diagnosis_table(recs)
    if not diagnosed.empty:
        written += _write_formats(diagnosed, out_dir, "diagnoses")
        sections.append(("Diagnoses of the claims that do not reproduce", diagnosed, "diagnoses"))
    bench = benchmark_table(recs)
    if not bench.empty:
        written += _write_formats(bench, out_dir, "benchmark")
        sections.append(("Benchmarks", bench, "benchmark"))
    if readme_path is not None:
        readme_path = Path(readme_path)
        written.append(write_text(readme_path, _readme(recs, sections, out_dir, readme_path.parent,
                                                        report_href)))
    return written


def _counted(values: list[Any]) -> str:
    counts = Counter("unknown" if v is None else str(v) for v in values)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} ({n} record{'s' if n > 1 else ''})" for v, n in counts.most_common())


def provenance(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The git sha and numerics environment the records were made with (each distinct value counted;
    records without a numerics environment are left out of its rows)."""
    rows = [{"setting": "git sha", "recorded": _counted([r.get("git_sha") for r in records])}]
    times = sorted(r["time"] for r in records if r.get("time"))
    if times:
        rows.append({"setting": "records made (UTC)", "recorded": f"{times[0]} .. {times[-1]}"})
    envs = [r["numerics"] for r in records if r.get("numerics")]
    for k in dict.fromkeys(k for env in envs for k in env):
        rows.append({"setting": k, "recorded": _counted([env.get(k) for env in envs])})
    return pd.DataFrame(rows, columns=["setting", "recorded"], dtype=object)


SUMMARY_LEGEND = (
    "*agreement*: checks passed/total (torch vs tf on the same weights); *f64/f32 err/tol*: the worst error "
    "as a fraction of its tolerance (below 1 passes; 0 is an exact match); *claims*: reproduced in both "
    "frameworks / in one / in neither (no) / report-only (rep); *consistent*: torch and tf seed distributions "
    "consistent (y: the 95% interval of the torch-tf difference lies within the claim's equivalence margin) / "
    "inconsistent (n: p < 0.01) / undecided (?); *data*: what the runs actually loaded "
    "(generated: synthetic tasks); *diagnoses* (once `diagnose` has run): the kinds of diagnosis of the paper's "
    "claims, each explained in the Diagnoses section."
)


def any_dirty(records) -> bool:
    """Whether a record the tables show (the latest of its check) was made from a tree with uncommitted
    changes; one superseded by a newer record of the same check is not shown and does not count."""
    return any(str(r.get("git_sha") or "").endswith("-dirty") for r in latest(records))


def _readme(records, sections, out_dir: Path, readme_dir: Path, report_href: str | None = None) -> str:
    rel = Path(os.path.relpath(out_dir, readme_dir)).as_posix()
    lines = [
        f"{GENERATED} table` from the result records. Do not edit by hand: the next run overwrites it. -->",
        "# Results",
        "",
        "Generated by `python -m harness table` from the result records; **do not edit by hand**.",
        "",
    ]
    if any_dirty(records):
        lines += ["**Warning:** some records were made from a tree with uncommitted changes (`-dirty`).", ""]
    if is_smoke(records):
        label = smoke_label(width=len(SMOKE_NOTE) + 200, where="in the repository's results/README.md")
        lines += [f"**{label}**", ""]
    lines += ["## Summary", "", to_markdown(summary_table(records)), "", SUMMARY_LEGEND, ""]
    if report_href:
        lines += [f"Plots, every claim's full setting and its deviations from the paper: "
                  f"[the HTML report]({report_href}).", ""]
    lines += ["In the claims tables, *paper* is the paper's own number and where it is; *torch* and *tf* are this",
              "project's reduced-scale results at *profile*, never the paper's numbers. The full setting of each",
              f"claim is in the CSV files and {'the HTML report' if report_href else '`python -m harness report`'}.",
              ""]
    for title, df, stem in sections:
        shown = short_claims(df) if "setting" in df else df
        if report_href and "setting" in df:  # each claim links to its full setting in the report
            paper = stem.removesuffix("_claims")
            shown["claim"] = [f"[{c}]({report_href}#{claim_anchor(paper, c, p)})"
                              for c, p in zip(shown["claim"], shown["profile"], strict=True)]
        lines += [f"## {title}", "", f"Files: [{stem}.md]({rel}/{stem}.md), [{stem}.csv]({rel}/{stem}.csv), "
                  f"[{stem}.tex]({rel}/{stem}.tex)", "", to_markdown(shown), ""]
        if stem == "diagnoses":
            from .diagnosis import LEGEND

            lines += [LEGEND, ""]
    lines += ["## Provenance: numerics environment and git sha", "",
              to_markdown(provenance(records)) if records else "(no records)", ""]
    return "\n".join(lines)


def render_for_terminal(records: Iterable[Mapping[str, Any]], width: int = TERMINAL_WIDTH) -> str:
    """The summary, agreement, claims and benchmark tables as plain text no wider than `width` (the long
    setting text is left to the CSV and the HTML report)."""
    recs = latest(records)
    if not recs:
        return "(no records)"
    parts = [smoke_label(width)] if is_smoke(recs) else []
    parts.append("Summary\n" + to_terminal(summary_table(recs), width))
    agreement = agreement_table(recs)
    if not agreement.empty:
        # Hundreds of passing checks do not belong in a terminal: the failures and the tolerance overrides do.
        notable = agreement[(agreement["verdict"] != "pass") | (agreement["tol reason"] != "")]
        head = (f"Agreement (torch vs tf): {sum(agreement['verdict'] == 'pass')}/{len(agreement)} passed; "
                f"failures and tolerance overrides below ({len(notable)}), every check in tables/agreement.md")
        parts.append("\n".join(textwrap.wrap(head, width)) + (
            "\n" + to_terminal(notable.drop(columns=["dtype", "kind"]), width) if not notable.empty else ""))
    for paper in papers(recs):
        parts.append(f"Claims: {paper}\n" + to_terminal(short_claims(claims_table(recs, paper)), width))
    bench = benchmark_table(recs)
    if not bench.empty:
        parts.append("Benchmarks\n" + to_terminal(bench, width))
    return "\n\n".join(parts)
