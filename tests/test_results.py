"""Result records: validation, NaN/inf and NumPy round trip, atomic append, tolerant read, latest()."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import results
from harness.errors import ResultsError


def claim(check="symmetry-sweeps", framework="torch", value=1500.0, passed=True, **kw):
    fields = dict(
        kind="claim", paper="backprop", framework=framework, check=check,
        metric="median sweeps_to_converge", value=value, passed=passed,
        expected={"rule": "median in [712.5, 4275]", "lo": 712.5, "hi": 4275, "reported": 1425,
                  "source": "Fig. 1 caption", "setting": "4 seeds, 8 hidden units"},
        config={"hidden": 8}, seed=[0, 1, 2, 3], dataset="symmetry", profile="reduced", dtype="float32",
        numerics={"python": "3.11"}, git_sha="abc123", details={},
    )
    fields.update(kw)
    return results.make_record(**fields)


def agreement(check="symmetry/float64/grad", value=1e-14, passed=True, tol=1e-12, **kw):
    fields = dict(kind="agreement", paper="backprop", framework="both", check=check, metric="max_rel",
                  value=value, passed=passed, expected={"tol": tol, "tol_reason": None}, seed=0,
                  dataset="generated", dtype=check.split("/")[1], git_sha="abc123",
                  details={"max_abs": 1e-15, "first_divergence": None})
    fields.update(kw)
    return results.make_record(**fields)


# --- make_record ------------------------------------------------------------------------------------------


def test_make_record_fills_schema_time_and_defaults():
    r = results.make_record(kind="benchmark", paper="gan", framework="tf", check="tiny/train_step",
                            metric="items_per_second", value=12.5, expected={}, passed=None)
    assert r["schema"] == results.SCHEMA
    assert datetime.fromisoformat(r["time"]).utcoffset().total_seconds() == 0
    assert r["config"] == {} and r["details"] == {} and r["numerics"] == {}
    assert r["profile"] is None and r["dtype"] is None and r["seed"] is None
    assert "git_sha" in r  # this checkout's sha, or None where git is unavailable


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "agreemnt"}, "kind"),
        ({"framework": "jax"}, "framework"),
        ({"check": ""}, "check"),
        ({"value": "1.5"}, "value"),
        ({"value": True}, "value"),
        ({"passed": "yes"}, "passed"),
        ({"profile": "huge"}, "profile"),
        ({"dtype": "float16"}, "dtype"),
        ({"seed": "0"}, "seed"),
        ({"seed": [0, "1"]}, "seed"),
        ({"expected": {"lo": 1}}, "expected"),  # a claim needs its rule
        ({"details": [1, 2]}, "details"),
        ({"time": "yesterday"}, "time"),
        ({"time": "2024-01-01T00:00:00"}, "time"),  # no UTC offset
        ({"colour": "red"}, "colour"),  # unknown field: a typo must not pass silently
        ({"details": {"x": object()}}, "details.x"),
    ],
)
def test_make_record_names_the_bad_field(change, field):
    with pytest.raises(ResultsError, match=f"'?{field}'?"):
        claim(**change)


def test_make_record_requires_fields():
    with pytest.raises(ResultsError, match="missing field 'passed'"):
        results.make_record(kind="claim", paper="p", framework="tf", check="c", metric="m", value=1.0,
                            expected={"rule": "r"})


def test_agreement_record_needs_a_tolerance():
    with pytest.raises(ResultsError, match="tol"):
        agreement(expected={"tol_reason": None})


def test_numpy_values_become_python():
    r = claim(value=np.float32(1.5), passed=np.bool_(True), seed=[np.int64(3)],
              details={"per_seed": np.array([1.0, np.nan]), np.str_("n"): np.int32(4), "t": (1, 2)})
    assert type(r["value"]) is float and r["value"] == 1.5
    assert r["passed"] is True and r["seed"] == [3] and type(r["seed"][0]) is int
    assert r["details"]["per_seed"][0] == 1.0 and math.isnan(r["details"]["per_seed"][1])
    assert r["details"]["n"] == 4 and r["details"]["t"] == [1, 2]


# --- append / read ----------------------------------------------------------------------------------------


def test_round_trip_with_nan_and_inf(tmp_path):
    path = tmp_path / "results" / "records.jsonl"  # parent dirs are created
    written = [claim(value=math.nan, passed=False, details={"values": [math.inf, -math.inf, math.nan, 2.0]}),
               agreement(value=math.inf, passed=False,
                         details={"max_abs": math.inf, "first_divergence": "h1"})]
    assert results.append(path, written) == 2
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON on disk
    assert '"value":"nan"' in text and '"value":"inf"' in text
    for line in text.splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    back, problems = results.read(path)
    assert problems == []
    assert math.isnan(back[0]["value"])
    v = back[0]["details"]["values"]
    assert v[0] == math.inf and v[1] == -math.inf and math.isnan(v[2]) and v[3] == 2.0
    assert back[1]["value"] == math.inf and back[1]["details"]["max_abs"] == math.inf
    assert back[0]["expected"] == written[0]["expected"]


def test_string_fields_keep_a_literal_nan(tmp_path):
    path = tmp_path / "r.jsonl"
    results.append(path, [claim(check="nan", metric="inf")])
    (back,), _ = results.read(path)
    assert back["check"] == "nan" and back["metric"] == "inf"


_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8).filter(lambda s: s not in ("nan", "inf", "-inf")),
)
_json = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=12)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)),
       passed=st.one_of(st.none(), st.booleans()),
       details=st.dictionaries(st.text(max_size=6), _json, max_size=4),
       seed=st.one_of(st.integers(0, 2**31), st.lists(st.integers(0, 100), max_size=5)))
def test_property_round_trip(value, passed, details, seed):
    r = claim(value=value, passed=passed, details=details, seed=seed)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "records.jsonl"
        results.append(path, [r, r])
        back, problems = results.read(path)
    assert problems == []
    assert len(back) == 2 and all(_same(b, r) for b in back)


def test_crash_mid_write_loses_only_that_record(tmp_path):
    path = tmp_path / "records.jsonl"
    results.append(path, [claim(check=f"c{i}") for i in range(3)])
    line = results.encode_line(claim(check="interrupted"))
    with open(path, "ab") as f:  # what a crash during the 4th write leaves: a partial last line
        f.write(line[: len(line) // 2])
    back, problems = results.read(path)
    assert [r["check"] for r in back] == ["c0", "c1", "c2"]
    assert len(problems) == 1 and problems[0].startswith("records.jsonl:4: not valid JSON")
    assert "partial last line" in problems[0]

    # The next append starts on a fresh line: the partial line stays one bad line, the new record is kept.
    results.append(path, [claim(check="after")])
    back, problems = results.read(path)
    assert [r["check"] for r in back] == ["c0", "c1", "c2", "after"]
    assert len(problems) == 1 and problems[0].startswith("records.jsonl:4:")


def test_corrupt_middle_lines_are_reported_with_their_numbers(tmp_path):
    path = tmp_path / "records.jsonl"
    good = [results.encode_line(claim(check=f"c{i}")).decode() for i in range(4)]
    missing_check = json.loads(good[0])
    del missing_check["check"]
    path.write_text(good[0] + good[1] + '{"schema": 1, "kind": \n' + good[2] + "\n"
                    + json.dumps(missing_check) + "\n" + "[1, 2]\n" + good[3])
    back, problems = results.read(path)
    assert [r["check"] for r in back] == ["c0", "c1", "c2", "c3"]
    assert problems[0].startswith("records.jsonl:3: not valid JSON (")
    assert problems[1] == "records.jsonl:6: missing field 'check'"  # line 5 is blank: skipped, still counted
    assert problems[2] == "records.jsonl:7: not a JSON object"
    assert len(problems) == 3


def test_future_schema_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "records.jsonl"
    rec = json.loads(results.encode_line(claim()))
    rec["schema"] = 2
    path.write_text(json.dumps(rec) + "\n")
    back, problems = results.read(path)
    assert back == [] and "schema" in problems[0]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match=r"no records at .*nothing\.jsonl; run `python -m harness agree"):
        results.read(tmp_path / "nothing.jsonl")


def test_each_record_is_one_write(tmp_path, monkeypatch):
    writes = []
    real_write = os.write

    def spy(fd, data):
        writes.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(results.os, "write", spy)
    big = claim(check="b", details={"x": list(range(500))})
    results.append(tmp_path / "r.jsonl", [claim(check="a"), big])
    assert len(writes) == 2 and all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)


def test_a_bad_record_writes_nothing(tmp_path):
    path = tmp_path / "r.jsonl"
    bad = dict(claim(check="bad"))
    bad["passed"] = "maybe"
    with pytest.raises(ResultsError, match="passed"):
        results.append(path, [claim(check="good"), bad])
    assert not path.exists()


# --- latest -----------------------------------------------------------------------------------------------


def test_latest_keeps_the_newest_per_key_in_order():
    t = "2024-05-01T10:00:0{}.000000+00:00"
    recs = [
        claim(check="a", value=1.0, time=t.format(1)),
        claim(check="b", value=2.0, time=t.format(2)),
        claim(check="a", value=3.0, time=t.format(3)),  # newer a
        claim(check="a", value=4.0, time=t.format(0)),  # older a, written later: not newest
        claim(check="a", value=5.0, time=t.format(3), profile="tiny"),  # other profile: its own key
        claim(check="a", value=6.0, time=t.format(3), framework="tf"),  # other framework
        agreement(check="symmetry/float32/grad", time=t.format(1)),
        agreement(check="symmetry/float32/grad", time=t.format(1), value=2e-7),  # same time: later wins
    ]
    kept = results.latest(recs)
    assert [(r["check"], r["value"]) for r in kept] == [
        ("b", 2.0), ("a", 3.0), ("a", 5.0), ("a", 6.0), ("symmetry/float32/grad", 2e-7)]


# --- git sha ----------------------------------------------------------------------------------------------


def test_git_sha_outside_a_checkout_is_none(tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_GIT_SHA", raising=False)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert results.git_sha(tmp_path) is None
    assert results.git_sha(tmp_path / "does-not-exist") is None


def test_git_sha_marks_a_dirty_tree(tmp_path, monkeypatch):
    monkeypatch.delenv("HARNESS_GIT_SHA", raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    try:
        subprocess.run([*git, "init", "-q"], check=True, capture_output=True)
        (repo / "f.txt").write_text("1")
        subprocess.run([*git, "add", "f.txt"], check=True, capture_output=True)
        subprocess.run([*git, "commit", "-qm", "x"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not usable here")
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert results.git_sha(repo) == head
    (repo / "f.txt").write_text("2")
    results._git_sha.cache_clear()
    assert results.git_sha(repo) == head + "-dirty"
    monkeypatch.setenv("HARNESS_GIT_SHA", "from-ci")
    assert results.git_sha(repo) == "from-ci"


# --- seed runs --------------------------------------------------------------------------------------------


def test_seed_runs_round_trip(tmp_path):
    path = tmp_path / "runs.jsonl"
    results.append_run(path, {"key": ["backprop", "symmetry", "torch", 0, "tiny", "abc"],
                              "metrics": {"sweeps": math.nan, "loss": np.float64(0.5)}, "dataset": "x"})
    with open(path, "ab") as f:
        f.write(b'{"key": [')
    entries, problems = results.read_runs(path)
    assert len(entries) == 1 and math.isnan(entries[0]["metrics"]["sweeps"])
    assert entries[0]["metrics"]["loss"] == 0.5 and entries[0]["key"][3] == 0
    assert len(problems) == 1 and problems[0].startswith("runs.jsonl:2:")


@pytest.mark.parametrize("change,message", [
    ({"metrics": {"loss": "abc"}}, "metric 'loss' must be a number"),
    ({"metrics": {}}, "field 'metrics' must be a non-empty object"),
    ({"metrics": {"ok": True}}, "metric 'ok' must be a number"),
    ({"key": ["toy", "fit", "torch", "0", "tiny", "abc", "def"]}, "item 3 (seed)"),
    ({"key": ["toy", "fit", "jax", 0, "tiny", "abc", "def"]}, "item 2 (framework)"),
    ({"key": ["toy", "fit"]}, "field 'key' must be a list of 7 items"),
    ({"dataset": 3}, "field 'dataset' must be a string"),
    ({"identity": None}, "field 'identity' is missing"),
    ({"cpu_seconds": -1.0}, "field 'cpu_seconds' must be a number of seconds >= 0"),
    ({"cpu_seconds": math.nan}, "field 'cpu_seconds' must be a number of seconds >= 0"),
    ({"cpu_seconds": "3 s"}, "field 'cpu_seconds' must be a number of seconds >= 0"),
])
def test_seed_runs_are_validated_on_write_and_on_read(tmp_path, change, message):
    """Issue 11 defect 8: one schema for saved seed runs, on write and on read, with file:line."""
    good = {"key": ["toy", "fit", "torch", 0, "tiny", "abc", "def"], "metrics": {"loss": 0.5, "sweeps": math.nan},
            "dataset": "generated", "identity": {"data": "generated", "threads": 1}}
    path = tmp_path / "runs.jsonl"
    results.append_run(path, good)
    bad = {**good, **change}
    with pytest.raises(ResultsError, match=re.escape(message)):
        results.append_run(path, bad)
    with open(path, "a") as f:
        f.write(json.dumps(bad) + "\n")
    entries, problems = results.read_runs(path)
    assert len(entries) == 1 and len(problems) == 1
    assert problems[0].startswith("runs.jsonl:2: ") and message in problems[0]


def test_a_write_error_is_one_line_naming_the_file(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(ResultsError, match=f"cannot write {a_file}/records.jsonl: "):
        results.append(a_file / "records.jsonl", [claim()])


def test_quarantine_moves_only_the_bad_lines(tmp_path):
    path = tmp_path / "records.jsonl"
    results.append(path, [claim(check="a"), claim(check="b")])
    good = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'{"half": ')
    assert results.quarantine(path) == (2, 1, tmp_path / "records.jsonl.corrupt")
    assert path.read_bytes() == good and (tmp_path / "records.jsonl.corrupt").read_bytes() == b'{"half": \n'
    assert results.quarantine(path) == (2, 0, tmp_path / "records.jsonl.corrupt")  # idempotent
