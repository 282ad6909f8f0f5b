"""Tables from records: contents, verdict texts, the paper's number kept apart, and the written files."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from harness import results, tables

ENV = {"python": "3.11.9", "torch": "2.13.0", "tensorflow": "2.21.0", "threads": 1}
T0 = "2024-05-01T10:00:00.000000+00:00"
T1 = "2024-05-02T10:00:00.000000+00:00"
REPORT = "report only (median shown)"


def claim(check, framework, value, passed, paper="backprop", reported=1425, source="Fig. 1 caption",
          profile="reduced", time=T1, rule="median sweeps in [712.5, 4275]"):
    return results.make_record(
        kind="claim", paper=paper, framework=framework, check=check, metric=rule, value=value, passed=passed,
        expected={"rule": rule, "lo": 712.5, "hi": 4275.0, "reported": reported, "source": source,
                  "setting": "8 hidden units, 4 seeds"},
        seed=[0, 1, 2, 3], dataset="symmetry", profile=profile, dtype="float32", numerics=ENV,
        git_sha="abc123", time=time)


def consistency(check, p, passed, paper="backprop"):
    return results.make_record(
        kind="consistency", paper=paper, framework="both", check=check, metric="p_value", value=p,
        passed=passed, expected={"rule": "torch and tf consistent (p >= 0.01)"}, profile="reduced",
        dtype="float32", numerics=ENV, git_sha="abc123", time=T1)


def agreement(check, value, passed, tol, max_abs, first=None, reason=None, paper="backprop"):
    return results.make_record(
        kind="agreement", paper=paper, framework="both", check=check, metric="max_rel", value=value,
        passed=passed, expected={"tol": tol, "tol_reason": reason}, seed=0, dataset="generated",
        dtype=check.split("/")[1], numerics=ENV, git_sha="abc123", time=T1,
        details={"max_abs": max_abs, "first_divergence": first, "detail": None})


@pytest.fixture
def records():
    return [
        agreement("symmetry/float64/grad", 3e-15, True, 1e-12, 1.2e-16),
        agreement("symmetry/float32/forward", math.inf, False, 1e-5, math.inf, first="tap hidden"),
        agreement("symmetry/float32/trajectory", 2e-6, True, 4e-5, 1e-7, reason="10 steps: rounding grows"),
        claim("both-pass", "torch", 1500.0, True, time=T0),  # superseded by the next torch record
        claim("both-pass", "torch", 1510.0, True),
        claim("both-pass", "tf", 1490.0, True),
        consistency("both-pass", 0.6, True),
        claim("torch-only", "torch", 1000.0, True),
        claim("torch-only", "tf", 5000.0, False),
        consistency("torch-only", 0.001, False),
        claim("tf-only", "torch", 9000.0, False),
        claim("tf-only", "tf", 2000.0, True),
        claim("neither", "torch", 5000.0, False),
        claim("neither", "tf", math.nan, False),
        claim("report", "torch", 0.25, None, reported=None, source="Table 2", rule=REPORT),
        claim("report", "tf", 0.5, None, reported=None, source="Table 2", rule=REPORT),
        claim("no-torch", "tf", 1000.0, True, reported="about 1/3", source="p. 535"),
        claim("resnet-claim", "torch", 8.0, True, paper="resnet", reported=8.75, source="Table 6"),
        results.make_record(kind="benchmark", paper="resnet", framework="torch", check="tiny/train_step",
                            metric="images_per_second", value=1234.5678, expected={}, passed=None,
                            numerics=ENV, git_sha="abc123", time=T1,
                            details={"min": 1200.0, "max": 1300.0, "overhead": 0.052, "fed_overhead": -0.013}),
    ]


def row(df, column, value):
    (match,) = df.index[df[column] == value]
    return df.loc[match]


def test_number_formatting():
    assert tables.fmt_num(1425) == "1425"
    assert tables.fmt_num(1425.4) == "1425"
    assert tables.fmt_num(12.345) == "12.3"
    assert tables.fmt_num(0.012345) == "0.0123"
    assert tables.fmt_num(1e-7) == "1.00e-07"
    assert tables.fmt_num(123456.0) == "1.23e+05"
    assert tables.fmt_num(0) == "0"
    assert tables.fmt_num(math.nan) == "nan" and tables.fmt_num(-math.inf) == "-inf"
    assert tables.fmt_num(None) == tables.MISSING
    assert tables.fmt_sci(3e-15) == "3.00e-15" and tables.fmt_sci(0.5) == "5.00e-01"
    assert tables.fmt_reported(1425.0, "Fig. 1 caption") == "1425 (Fig. 1 caption)"
    assert tables.fmt_reported(8.75, "Table 6") == "8.75 (Table 6)"
    assert tables.fmt_reported(None, "Table 2") == f"{tables.MISSING} (Table 2)"
    assert tables.fmt_reported("FID 5.24 (Table 1)", "Table 1") == "FID 5.24 (Table 1)"  # not "(Table 1) (Table 1)"


def test_agreement_table(records):
    df = tables.agreement_table(records)
    assert list(df.columns) == tables.AGREEMENT_COLUMNS
    assert list(df["check"]) == ["backprop/symmetry/float64/grad", "backprop/symmetry/float32/forward",
                                 "backprop/symmetry/float32/trajectory"]
    assert list(df["verdict"]) == ["pass", "FAIL", "pass"]
    assert list(df["kind"]) == ["grad", "forward", "trajectory"]
    assert list(df["dtype"]) == ["float64", "float32", "float32"]
    fail = row(df, "verdict", "FAIL")
    assert fail["max rel"] == math.inf and fail["first divergence"] == "tap hidden" and fail["tol"] == 1e-5
    assert row(df, "kind", "trajectory")["tol reason"] == "10 steps: rounding grows"


def test_claims_table_verdicts(records):
    df = tables.claims_table(records, "backprop")
    assert list(df.columns) == tables.CLAIM_COLUMNS
    assert list(df["claim"]) == ["both-pass", "torch-only", "tf-only", "neither", "report", "no-torch"]
    verdict = dict(zip(df["claim"], df["verdict"], strict=True))
    assert verdict["both-pass"] == "reproduced (both)"
    assert verdict["torch-only"] == "torch only; frameworks inconsistent (p=1.00e-03)"
    assert verdict["tf-only"] == "tf only"
    assert verdict["neither"] == "not reproduced (torch: 5000, tf: nan)"
    assert verdict["report"] == "report"
    assert verdict["no-torch"] == "reproduced (tf); no torch result"


def test_claims_table_numbers(records):
    df = tables.claims_table(records, "backprop")
    both = row(df, "claim", "both-pass")
    assert both["torch"] == 1510.0  # the latest torch record, not the superseded 1500
    assert both["tf"] == 1490.0
    assert both[tables.DIFF] == pytest.approx(20.0)
    assert row(df, "claim", "torch-only")[tables.DIFF] == pytest.approx(4000.0)
    neither = row(df, "claim", "neither")
    assert math.isnan(neither["tf"]) and math.isnan(neither[tables.DIFF])  # a NaN result: NaN difference
    no_torch = row(df, "claim", "no-torch")
    assert no_torch["torch"] is None and no_torch[tables.DIFF] is None
    assert both["rule"] == "median sweeps in [712.5, 4275]"
    assert both["setting"] == "[reduced] 8 hidden units, 4 seeds"


def test_paper_column_is_only_the_papers_number(records):
    df = tables.claims_table(records, "backprop")
    assert row(df, "claim", "both-pass")["paper"] == "1425 (Fig. 1 caption)"
    assert row(df, "claim", "report")["paper"] == f"{tables.MISSING} (Table 2)"  # the paper gives no number
    assert row(df, "claim", "no-torch")["paper"] == "about 1/3 (p. 535)"
    for measured in ("1510", "1490", "1000", "5000", "0.25"):
        assert not any(measured in cell for cell in df["paper"])
    resnet = tables.claims_table(records, "resnet")
    assert list(resnet["paper"]) == ["8.75 (Table 6)"] and list(resnet["torch"]) == [8.0]


def test_profiles_are_separate_rows():
    recs = [claim("c", "torch", 1500.0, True), claim("c", "tf", 1500.0, True),
            claim("c", "torch", 3.0, False, profile="tiny")]
    df = tables.claims_table(recs, "backprop")
    assert list(df["setting"].str.split("]").str[0]) == ["[reduced", "[tiny"]
    assert list(df["verdict"]) == ["reproduced (both)", "not reproduced (torch: 3.00); no tf result"]


def test_write_all(records, tmp_path):
    out = tmp_path / "results" / "tables"
    readme = tmp_path / "results" / "README.md"
    written = tables.write_all(records, out, readme)
    names = sorted(p.relative_to(tmp_path / "results").as_posix() for p in written)
    assert names == sorted(["README.md"] + [f"tables/{stem}.{ext}" for stem in
                                           ("agreement", "backprop_claims", "resnet_claims", "benchmark")
                                           for ext in ("md", "csv", "tex")])
    assert all(p.exists() for p in written)
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind

    csv = pd.read_csv(io.StringIO((out / "backprop_claims.csv").read_text()), keep_default_na=False)
    both = csv[csv["claim"] == "both-pass"].iloc[0]
    assert float(both["torch"]) == 1510.0 and float(both[tables.DIFF]) == 20.0
    assert both["paper"] == "1425 (Fig. 1 caption)"
    neither = csv[csv["claim"] == "neither"].iloc[0]
    assert neither["tf"] == "nan" and neither["torch"] == "5000.0"
    no_torch = csv[csv["claim"] == "no-torch"].iloc[0]
    assert no_torch["torch"] == "" and no_torch[tables.DIFF] == ""  # no result: empty, not "nan"

    bench = pd.read_csv(io.StringIO((out / "benchmark.csv").read_text()), keep_default_na=False).iloc[0]
    assert (bench["vs plain"], bench["vs fed"]) == ("+5%", "-1%")  # the harness's overhead, as bench prints it

    md = (out / "backprop_claims.md").read_text()
    assert "8 hidden units" not in md and "| reduced " in md  # the setting's profile stays, its text leaves
    assert "8 hidden units, 4 seeds" in (out / "backprop_claims.csv").read_text()
    assert "\\|torch-tf\\|" in md  # a bare | would split the Markdown column
    assert "| both-pass " in md and "1510" in md and "reproduced (both)" in md
    agreement_md = (out / "agreement.md").read_text()
    assert "3.00e-15" in agreement_md and "1.00e-12" in agreement_md  # not re-parsed by tabulate

    tex = (out / "backprop_claims.tex").read_text()
    assert tex.startswith("\\begin{tabular}") and "\\toprule" in tex and "\\end{tabular}" in tex
    assert "\\textbar{}torch-tf\\textbar{}" in tex
    assert "---" in tex and "—" not in tex
    tex_agreement = (out / "agreement.tex").read_text()
    assert "symmetry/float64/grad" in tex_agreement and "tap hidden" in tex_agreement

    text = readme.read_text()
    assert text.startswith(tables.GENERATED)
    assert text.index("## Summary") < text.index("## Agreement") < text.index("## Provenance")  # summary first
    assert "generated by `python -m harness table`" in text.lower()
    assert "do not edit by hand" in text.lower()
    assert text.index("do not edit") < text.index("## ")  # said at the top
    assert "abc123" in text and "3.11.9" in text and "2.21.0" in text
    assert "reproduced (both)" in text and "tap hidden" in text and "8.75 (Table 6)" in text
    assert "(tables/backprop_claims.csv)" in text


def test_readme_warns_about_a_dirty_tree(tmp_path):
    rec = dict(claim("c", "torch", 1.0, True))
    rec["git_sha"] = "abc123-dirty"
    tables.write_all([rec], tmp_path / "t", tmp_path / "README.md")
    assert "uncommitted changes" in (tmp_path / "README.md").read_text()


def test_a_dirty_record_superseded_by_a_clean_one_is_not_warned_about(tmp_path):
    old = dict(claim("c", "torch", 1.0, True), git_sha="abc123-dirty", time="2026-01-01T00:00:00+00:00")
    new = dict(claim("c", "torch", 1.0, True), git_sha="def456", time="2026-01-02T00:00:00+00:00")
    tables.write_all([old, new], tmp_path / "t", tmp_path / "README.md")
    assert "uncommitted changes" not in (tmp_path / "README.md").read_text()
    tables.write_all([new, dict(old, time="2026-01-03T00:00:00+00:00")], tmp_path / "t", tmp_path / "README.md")
    assert "uncommitted changes" in (tmp_path / "README.md").read_text()  # the dirty one is the newest: shown


def test_write_all_with_no_claims_writes_only_agreement(records, tmp_path):
    only = [r for r in records if r["kind"] == "agreement"]
    written = tables.write_all(only, tmp_path)
    assert sorted(p.name for p in written) == ["agreement.csv", "agreement.md", "agreement.tex"]


def test_render_for_terminal(records):
    text = tables.render_for_terminal(records)
    assert text.startswith("Summary") and "Agreement" in text and "Claims: backprop" in text
    assert "Claims: resnet" in text and "torch only;" in text and "inconsistent" in text and "1235" in text
    assert "8 hidden units, 4 seeds" not in text  # the setting text is left to the CSV and the report
    assert tables.render_for_terminal([]) == "(no records)"


def test_terminal_tables_fit_120_columns_whatever_the_text(records):
    long = " ".join(["a-very-long-setting-word"] * 30)
    recs = [*records, claim("a-claim-with-a-rather-long-identifier-that-goes-on", "torch", 1.0, True,
                            reported=long, source=long)]
    text = tables.render_for_terminal(recs)
    assert max(len(line) for line in text.splitlines()) <= 120


FALLBACK = ("digits: train 1437 of 1437, test 360 of 360; split: first 1437 train, last 360 test (FALLBACK to "
            "digits: mnist was requested but not found (no data directory given); digits: scikit-learn load_digits)")


def test_short_dataset_names_a_fallback_visibly():
    assert tables.short_dataset(FALLBACK) == "digits (FALLBACK: mnist not found: no data directory given)"
    assert tables.short_dataset("digits: all (FALLBACK to digits: cifar10 was requested)") == \
        "digits (FALLBACK: cifar10 not found)"
    assert tables.short_dataset("cifar10: train first 512 of 4000, test first 0 of 1000; train batches used: "
                                "data_batch_1.bin of data_batch_1..5 (cifar10: binary layout in /data)") == "cifar10"
    assert tables.short_dataset("generated:symmetry-64") == "generated"
    two = f"mnist: train 60000 of 60000 (mnist: IDX files in /data);{FALLBACK}"
    assert tables.datasets_used([{"dataset": two}]) == \
        "digits (FALLBACK: mnist not found: no data directory given), mnist"  # the fallback first


def test_summary_table(records):
    fallback = dict(claim("c", "torch", 1.0, True, paper="resnet"), dataset=FALLBACK)
    df = tables.summary_table([*records, fallback])
    assert list(df.columns) == tables.SUMMARY_COLUMNS
    assert list(df["paper"]) == ["backprop", "resnet"]
    bp = row(df, "paper", "backprop")
    assert bp["agreement"] == "2/3"
    assert bp["f64 err/tol"] == pytest.approx(3e-3)  # 3e-15 against 1e-12
    assert bp["f32 err/tol"] == math.inf  # the failed check: an infinite error
    # both-pass: both; torch-only, tf-only, no-torch: one; neither: not; report: report-only
    assert bp["claims both/one/no/rep"] == "1/3/1/1"
    # the fixture's consistency records predate the three outcomes: one that did not reject is undecided (?),
    # never consistent; only a record whose interval lies within its margin (details.outcome) counts as y
    assert bp["consistent y/n/?"] == "0/1/1"
    decided = dict(consistency("d", 0.5, True), details={"outcome": "consistent"})
    assert row(tables.summary_table([*records, decided]), "paper", "backprop")["consistent y/n/?"] == "1/1/1"
    assert bp["profile"] == "reduced" and bp["data"] == "symmetry"
    rn = row(df, "paper", "resnet")
    assert rn["agreement"] == tables.MISSING and rn["claims both/one/no/rep"] == "0/2/0/0"
    assert rn["data"].startswith("digits (FALLBACK: mnist not found")


def test_error_over_tolerance():
    rec = agreement("x/float64/grad", 2e-13, True, 1e-12, 1e-16)
    assert tables.error_over_tol(rec) == pytest.approx(0.2)
    assert tables.error_over_tol(agreement("x/float64/params", 0.0, True, 0.0, 0.0)) == 0.0
    assert tables.error_over_tol(agreement("x/float64/params", 1e-20, False, 0.0, 0.0)) == math.inf
    assert tables.error_over_tol(agreement("x/float32/grad", math.nan, False, 1e-5, math.nan)) == math.inf


def test_papers_are_listed_in_publication_order_and_unknown_ones_after():
    from harness import registry

    keys = list(registry.papers())
    recs = [{"paper": k, "kind": "claim"} for k in ["zzz-unregistered", *reversed(keys)]]
    assert tables.papers(recs) == [*keys, "zzz-unregistered"]
