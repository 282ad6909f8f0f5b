"""`python -m harness report`: a static, offline HTML report of the result records, and the compact verdict
table that `reproduce` and `report` end with.

The report (`<results>/report/index.html`, jinja2) holds the one-screen summary, every table, the figures
(`<results>/figures/*.svg`, linked as relative files), each claim's full setting text and the paper's
deviations, and the provenance. It loads nothing from the network: no CDN, no script, no web font.

Tiny-profile runs are smoke runs (a budget too small for most claims): their verdicts are labelled so and
shown beside the committed reduced-profile verdicts for the same claims, read from the repository's
generated `results/tables/<paper>_claims.csv`, so a smoke verdict is never mistaken for a finding.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import plots, tables
from .results import latest

REPORT = Path("report") / "index.html"
FIGURES = "figures"
TABLES = "tables"
# The committed, generated claims tables of the repository (absent in an installed package).
REFERENCE_TABLES = Path(__file__).resolve().parents[1] / "results" / "tables"
REFERENCE_COLUMN = f"{tables.REFERENCE_PROFILE} (committed)"


@dataclass
class Built:
    path: Path
    size: int  # bytes of index.html
    figures_size: int  # bytes of the figures it shows
    seconds: float
    figures: int
    reference_found: bool  # a smoke run's committed reduced verdicts were found


# --- the smoke label and the committed reference --------------------------------------------------------------


def reference_verdicts(table_dir: Path = REFERENCE_TABLES) -> dict[tuple[str, str], str]:
    """(paper, claim) -> the verdict of the committed reduced-profile run, from the generated claims CSVs."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(Path(table_dir).glob("*_claims.csv")):
        paper = path.name.removesuffix("_claims.csv")
        try:
            with open(path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if (row.get("setting") or "").startswith(f"[{tables.REFERENCE_PROFILE}]"):
                        found[(paper, row["claim"])] = tables.base_verdict(row.get("verdict") or "")
        except (OSError, KeyError, csv.Error, UnicodeDecodeError) as e:
            # Shown as missing, never guessed; said here, since the run's own results are what matters.
            print(f"warning: cannot read the committed reference {path}: {e!r}", file=sys.stderr)
    return found


CONSISTENCY_COLUMN = "torch-tf"  # consistent / inconsistent / undecided (harness.consistency)


def verdicts(records: Iterable[Mapping[str, Any]], reference: Mapping[tuple[str, str], str] | None = None,
             ) -> pd.DataFrame:
    """The compact verdict table; with `reference`, a column with the committed reduced-profile verdict."""
    records = list(records)
    df = tables.verdict_table(records)
    df["verdict"] = [tables.compact_verdict(v) for v in df["verdict"]]
    both = {(r.get("paper"), r.get("check")): r for r in latest(records) if r.get("kind") == "consistency"}
    df[CONSISTENCY_COLUMN] = [tables.consistency_word(both.get(tuple(c.split("/", 1)))) for c in df["claim"]]
    if reference is not None:
        df[REFERENCE_COLUMN] = [reference.get(tuple(c.split("/", 1)), tables.MISSING) for c in df["claim"]]
    return df


def verdict_summary(records: Iterable[Mapping[str, Any]], results_dir: Path | None = None,
                    width: int = tables.TERMINAL_WIDTH, reference_dir: Path = REFERENCE_TABLES) -> str:
    """What `reproduce` prints last: the compact verdict table (no wider than `width`), labelled as a smoke
    run beside the committed reduced-profile verdicts when every claim ran at the tiny profile, and where
    the report of `results_dir` is written."""
    recs = latest(records)
    if not any(r.get("kind") == "claim" for r in recs):
        return "(no claim records)"
    if tables.is_smoke(recs):
        reference = reference_verdicts(reference_dir)
        where = f"(column '{REFERENCE_COLUMN}')" if reference else f"(none found in {reference_dir})"
        lines = [tables.smoke_label(width, where),
                 tables.to_terminal(verdicts(recs, reference), width)]
    else:
        lines = ["Verdicts", tables.to_terminal(verdicts(recs), width)]
    if results_dir is not None:
        lines.append(f"report: `python -m harness --results-dir {results_dir} report` writes "
                     f"{results_dir / REPORT}")
    return "\n".join(lines)


# --- the HTML report ----------------------------------------------------------------------------------------


def _rows(df: pd.DataFrame) -> dict[str, Any]:
    shown = tables.formatted(df)
    numeric = [c in tables.SCI_COLUMNS | tables.NUM_COLUMNS for c in df.columns]
    return {"columns": list(df.columns), "numeric": numeric, "rows": shown.values.tolist()}


def _paper_info() -> dict[str, Any]:
    """Titles, citations and deviations from the registry; the report still renders without it."""
    from . import registry
    from .errors import HarnessError

    try:
        return registry.papers()
    except (HarnessError, ValueError, ImportError):
        return {}


def _claims_detail(records: list[Mapping[str, Any]], paper: str, figures: dict) -> list[dict[str, Any]]:
    from . import diagnosis

    diagnosed = diagnosis.by_claim(records)
    out = []
    for g in plots.claim_groups(records):
        if g["paper"] != paper:
            continue
        described = g.get("torch") or g.get("tf")
        expected = described.get("expected") or {}
        out.append({
            "anchor": tables.claim_anchor(paper, g["claim"], g["profile"]),
            "claim": g["claim"], "profile": g["profile"], "text": expected.get("text") or "",
            "setting": expected.get("setting") or "", "rule": expected.get("rule") or "",
            "paper_value": tables.fmt_reported(expected.get("reported"), expected.get("source")),
            "verdict": g["verdict"], "dataset": tables.datasets_used([described]),
            "figure": figures.get((paper, g["claim"], g["profile"])),
            "diagnosis": diagnosis.label(diagnosed.get((paper, g["claim"]), []))
            if g["profile"] == tables.REFERENCE_PROFILE else "",
        })
    return out


def _notes_file(paper) -> Path | None:
    """reproductions/<key>/NOTES.md (deviations, probes, findings) beside the paper's package, when it has one."""
    import importlib

    try:
        folder = Path(importlib.import_module(paper.package).__file__).parent
    except (AttributeError, ImportError, TypeError):  # no registry entry, or a package without a file
        return None
    notes = folder / "NOTES.md"
    return notes if notes.is_file() else None


def render_html(records: list[Mapping[str, Any]], figures: list[dict[str, Any]], report_dir: Path,
                results_dir: Path, reference: Mapping[tuple[str, str], str] | None) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("harness", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, report_dir)).as_posix()

    by_claim = {(f["paper"], f["claim"], f["profile"]): rel(f["path"]) for f in figures if f["section"] == "claims"}
    section_figure = {f["section"]: rel(f["path"]) for f in figures if f["section"] != "claims"}
    info = _paper_info()
    papers = []
    for key in tables.papers(records):
        p = info.get(key)
        csv_path = results_dir / TABLES / f"{key}_claims.csv"
        papers.append({
            "key": key, "title": getattr(p, "title", ""), "citation": getattr(p, "citation", ""),
            "deviations": list(getattr(p, "deviations", ())),
            "table": _rows(tables.short_claims(tables.claims_table(records, key))),
            "claims": _claims_detail(records, key, by_claim),
            # The training curves, one figure per experiment (plots.training_curves), and any other per-paper
            # figure a plotter adds.
            "figures": [{"src": rel(f["path"]), "title": f["title"]} for f in figures
                        if f["paper"] == key and f["section"] != "claims"],
            "csv": rel(csv_path) if csv_path.exists() else None,
            "notes": rel(notes) if (notes := _notes_file(p)) else None,
        })
    from . import diagnosis

    diagnosed = diagnosis.diagnosis_table(records)
    agreement = tables.agreement_table(records)
    bench = tables.benchmark_table(records)
    smoke = tables.is_smoke(records)
    return env.get_template("report.html.j2").render(
        # The newest record's time, not the clock: the same records give the same file (no churn in git).
        newest=max((str(r.get("time")) for r in records if r.get("time")), default="unknown"),
        n_records=len(records),
        smoke=smoke, smoke_profile=tables.SMOKE_PROFILE, reference_profile=tables.REFERENCE_PROFILE,
        reference_found=bool(reference),
        summary=_rows(tables.summary_table(records)), legend=tables.SUMMARY_LEGEND.replace("*", ""),
        verdicts=_rows(verdicts(records, reference if smoke else None)),
        agreement=_rows(agreement) if not agreement.empty else None,
        agreement_passed=sum(v == "pass" for v in agreement["verdict"]), agreement_total=len(agreement),
        agreement_figure=section_figure.get("agreement"),
        papers=papers,
        benchmark=_rows(bench) if not bench.empty else None, benchmark_figure=section_figure.get("benchmark"),
        diagnoses=_rows(diagnosed) if not diagnosed.empty else None, diagnosis_legend=diagnosis.LEGEND.replace("*", ""),
        provenance=_rows(tables.provenance(records)),
        dirty=tables.any_dirty(records),
    )


def write_tables(records: Iterable[Mapping[str, Any]], results_dir: str | Path,
                 with_report: bool = False) -> list[dict[str, Any]]:
    """The `table` verb's work: the tables, the README (linking the HTML report when there is or will be
    one) and the figures under `results_dir`. Returns the figures written."""
    results_dir = Path(results_dir)
    recs = latest(records)
    tables.check_overwrite(results_dir / "README.md")  # refuse before anything is written
    has_report = with_report or (results_dir / REPORT).is_file()
    tables.write_all(recs, results_dir / TABLES, results_dir / "README.md",
                     report_href=REPORT.as_posix() if has_report else None)
    return plots.write_all(recs, results_dir / FIGURES)


def build(records: Iterable[Mapping[str, Any]], results_dir: str | Path,
          reference_dir: Path = REFERENCE_TABLES) -> Built:
    """Write the tables and README, the figures and `report/index.html` under `results_dir`."""
    start = time.perf_counter()
    results_dir = Path(results_dir)
    recs = latest(records)
    report_path = results_dir / REPORT
    tables.check_overwrite(report_path)  # refuse before anything is written
    figures = write_tables(recs, results_dir, with_report=True)
    reference = reference_verdicts(reference_dir) if tables.is_smoke(recs) else None
    html = render_html(recs, figures, report_path.parent, results_dir, reference)
    tables.claim_dir(report_path.parent)
    tables.write_text(report_path, html)
    return Built(report_path, report_path.stat().st_size, sum(Path(f["path"]).stat().st_size for f in figures),
                 time.perf_counter() - start, len(figures), bool(reference))


def cli(results_dir: Path) -> int:
    """The `report` verb: build from `<results_dir>/records.jsonl`; print the summary and where it is."""
    from . import results
    from .errors import ResultsError

    records, problems = results.read(results_dir / "records.jsonl")
    for p in problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    if not records:
        raise ResultsError(f"no records in {results_dir / 'records.jsonl'}; run `python -m harness agree ...` or "
                           f"`python -m harness reproduce ...` first")
    from .diagnosis import with_diagnoses

    records = with_diagnoses(records, results_dir)  # the budget curves and diagnoses `diagnose` recorded
    built = build(records, results_dir)
    recs = latest(records)
    if tables.is_smoke(recs):
        print(tables.smoke_label(where="beside them in the report" if built.reference_found else
                                 f"(none found in {REFERENCE_TABLES})"))
    print("Summary\n" + tables.to_terminal(tables.summary_table(recs)))
    print(f"wrote the report ({built.size / 1024:.0f} KB; {built.figures} figures, "
          f"{built.figures_size / 1024:.0f} KB) in {built.seconds:.1f} s")
    print(f"report: {built.path}")  # last, whole: a path is never wrapped
    return 0
