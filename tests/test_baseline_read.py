"""`compare` reads the baseline and the current records strictly: a bad line is an error (exit 2) naming the
file and line, never a skipped check that lets a regression pass."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from harness import cli, results
from harness.baseline import read_records

# The "bad baseline" class of the fault-injection tier.
pytestmark = pytest.mark.faults

T0 = "2026-12-02T03:14:00.000000+00:00"
T1 = "2026-12-04T10:00:00.000000+00:00"


def agreement(check, passed=True, time=T0):
    return results.make_record(
        kind="agreement", paper="toy", framework="both", check=check, metric="max_rel",
        value=1e-16 if passed else 1e-3, passed=passed, expected={"tol": 1e-12, "tol_reason": None}, seed=0,
        dataset="generated", dtype="float64", time=time, details={"max_abs": 1e-16, "first_divergence": None})


def claim(check="loss-falls", values=(0.5,), dataset="generated:gaussian", time=T0):
    value = float(np.median(values))
    return results.make_record(
        kind="claim", paper="toy", framework="torch", check=check, metric="median loss in [0, 1]", value=value,
        passed=0 <= value <= 1, expected={"rule": "median loss in [0, 1]", "lo": 0.0, "hi": 1.0}, seed=[0],
        dataset=dataset, profile="tiny", dtype="float32", time=time,
        details={"inputs": {"fit.loss": {"statistic": value, "values": list(values), "seeds": len(values)}}})


def baseline_records():
    return [agreement("sgd/float64/forward"), agreement("sgd/float64/grad"), claim()]


def write(path, records):
    path.write_bytes(b"".join(results.encode_line(r) for r in records))
    return path


def compare_cli(tmp_path, baseline, current=None):
    """`python -m harness --results-dir TMP compare BASELINE` in this process -> (exit code, stdout, stderr)."""
    results_dir = tmp_path / "run"
    results_dir.mkdir(exist_ok=True)
    if current is not None:
        write(results_dir / "records.jsonl", current)
    try:
        code = cli.main(["--results-dir", str(results_dir), "compare", str(baseline)])
    finally:
        cli.RESULTS_DIR = cli.Path("results")
    return code


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def regressed():
    """Current records in which the second agreement check regressed (pass -> fail)."""
    now = baseline_records()
    now[1] = agreement("sgd/float64/grad", passed=False, time=T1)
    return now


def test_a_regression_against_a_clean_baseline_exits_1(tmp_path, capsys):
    base = write(tmp_path / "baseline.jsonl", baseline_records())
    assert compare_cli(tmp_path, base, regressed()) == 1
    assert "agreement now fails" in capsys.readouterr().out


def test_one_corrupt_byte_in_the_baseline_is_exit_2_naming_file_and_line(tmp_path, capsys):
    # Before: the corrupt line was skipped, its check counted as "new", and compare said PASS (exit 0).
    base = write(tmp_path / "baseline.jsonl", baseline_records())
    lines = base.read_bytes().split(b"\n")
    lines[1] = lines[1][:40] + b"\x00" + lines[1][41:]  # the line holding the check that regressed
    base.write_bytes(b"\n".join(lines))
    assert compare_cli(tmp_path, base, regressed()) == 2
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert f"invalid baseline {base}:2: not valid JSON" in line and "make baseline" in line
    assert "PASS" not in captured.out


@pytest.mark.parametrize(("content", "message"), [
    (np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "baseline.jsonl:1: not valid"),
    (b"[1, 2, 3]\n", ":1: not a JSON object"),
    (b'{"a": 1}\n', ":1: missing field 'schema'"),
    (b'"text"\n', ":1: not a JSON object"),
    (b"", "holds no records"),
    (b"\n\n", "holds no records"),
])
def test_a_baseline_that_is_not_records_is_exit_2(tmp_path, capsys, content, message):
    base = tmp_path / "baseline.jsonl"
    base.write_bytes(content)
    assert compare_cli(tmp_path, base, baseline_records()) == 2
    assert message in one_error_line(capsys.readouterr().err)


def test_a_gzipped_baseline_is_exit_2_saying_so(tmp_path, capsys):
    base = tmp_path / "baseline.jsonl"
    base.write_bytes(gzip.compress(b"".join(results.encode_line(r) for r in baseline_records())))
    assert compare_cli(tmp_path, base, baseline_records()) == 2
    assert "is gzip-compressed" in one_error_line(capsys.readouterr().err)


def test_a_partial_last_line_is_exit_2(tmp_path, capsys):
    base = write(tmp_path / "baseline.jsonl", baseline_records())
    base.write_bytes(base.read_bytes()[:-30])
    assert compare_cli(tmp_path, base, baseline_records()) == 2
    assert "baseline.jsonl:3:" in one_error_line(capsys.readouterr().err)


def test_a_record_that_does_not_validate_names_its_line(tmp_path, capsys):
    records = [json.loads(results.encode_line(r)) for r in baseline_records()]
    records[2]["passed"] = "yes"
    base = tmp_path / "baseline.jsonl"
    base.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert compare_cli(tmp_path, base, baseline_records()) == 2
    assert "baseline.jsonl:3: field 'passed'" in one_error_line(capsys.readouterr().err)


def test_a_training_claim_without_per_seed_values_names_its_line(tmp_path, capsys):
    records = baseline_records()
    records[2]["details"] = {}
    base = write(tmp_path / "baseline.jsonl", records)
    assert compare_cli(tmp_path, base, baseline_records()) == 2
    assert f"{base}:3: claim 'loss-falls' has no per-seed values" in one_error_line(capsys.readouterr().err)


def test_corrupt_current_records_are_exit_2_too(tmp_path, capsys):
    base = write(tmp_path / "baseline.jsonl", baseline_records())
    compare_cli(tmp_path, base, baseline_records())  # writes run/records.jsonl
    capsys.readouterr()
    current = tmp_path / "run" / "records.jsonl"
    current.write_bytes(current.read_bytes() + b'{"schema": 1, "kind": "claim"\n')
    assert compare_cli(tmp_path, base) == 2
    assert f"invalid current records {current}:4" in one_error_line(capsys.readouterr().err)


def test_a_missing_baseline_is_exit_2(tmp_path, capsys):
    assert compare_cli(tmp_path, tmp_path / "nope.jsonl", baseline_records()) == 2
    assert "no records at" in one_error_line(capsys.readouterr().err)


def test_records_from_other_data_exit_2_with_both_datasets_named(tmp_path, capsys):
    base = write(tmp_path / "baseline.jsonl", [*baseline_records()[:2], claim(dataset="mnist: train 60000 of 60000")])
    now = [*baseline_records()[:2], claim(values=(0.9,), dataset="digits: train 1437 of 1437", time=T1)]
    assert compare_cli(tmp_path, base, now) == 2
    out = " ".join(capsys.readouterr().out.split())  # the table wraps its last column
    assert "NOT COMPARABLE (1)" in out and "baseline: mnist: train 60000 of 60000" in out
    assert "now: digits: train 1437 of 1437" in out and "REGRESSIONS" not in out


def test_read_records_returns_every_record_of_a_clean_file(tmp_path):
    base = write(tmp_path / "baseline.jsonl", baseline_records())
    assert [r["check"] for r in read_records(base)] == ["sgd/float64/forward", "sgd/float64/grad", "loss-falls"]
