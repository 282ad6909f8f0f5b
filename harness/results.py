"""Result records: one JSON object per line in `results/records.jsonl`, appended atomically.

Every check the harness makes (an agreement check, a claim in one framework, the statistical consistency
of the two frameworks on a claim, a benchmark) becomes one record. Tables, the results README and the
regression verdict are all computed from these records, never edited by hand.

Atomicity: each record is one line written by a single `os.write` on a file opened with O_APPEND and then
fsynced, so a crash loses at most the record being written. `read` keeps every good line and reports a
corrupt one (bad JSON, a missing field, the partial last line of an interrupted write) with its number.

NaN and infinities are not JSON: they are written as the strings "nan", "inf", "-inf" and read back as
floats. NumPy scalars and arrays become plain Python numbers and lists.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ResultsError

SCHEMA = 1
KINDS = ("agreement", "claim", "consistency", "benchmark")
FRAMEWORKS = ("torch", "tf", "both")
PROFILES = ("tiny", "reduced", "paper")
DTYPES = ("float32", "float64")

REQUIRED = ("kind", "paper", "framework", "check", "metric", "value", "expected", "passed")
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "config": {},
    "seed": None,
    "dataset": None,
    "profile": None,
    "dtype": None,
    "numerics": {},
    "details": {},
}
FIELDS = ("schema", *REQUIRED, *OPTIONAL_DEFAULTS, "git_sha", "time")
KEY_FIELDS = ("kind", "paper", "framework", "check", "profile", "dtype")

# Top-level fields that are plain strings: a literal "nan" there stays a string.
_STRING_FIELDS = frozenset({"kind", "paper", "framework", "check", "metric", "dataset", "profile", "dtype",
                            "git_sha", "time"})
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

Record = dict[str, Any]


# --- git provenance ---------------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_sha(repo: str | os.PathLike | None = None) -> str | None:
    """HEAD of the git checkout holding `repo` (default: this package's checkout), "-dirty" appended when
    tracked files have uncommitted changes; None outside a checkout or without git.

    HARNESS_GIT_SHA overrides it (CI images that ship the tree without .git). Cached per process and
    directory: one run of the harness is one state of the tree.
    """
    if os.environ.get("HARNESS_GIT_SHA"):
        return os.environ["HARNESS_GIT_SHA"]
    where = Path(repo) if repo is not None else Path(__file__).resolve().parent.parent
    return _git_sha(str(where))


@cache
def _git_sha(where: str) -> str | None:
    if not Path(where).is_dir():
        return None
    sha = _git(Path(where), "rev-parse", "HEAD")
    if not sha:
        return None
    # Untracked files are not counted: scratch files and run outputs would mark every run dirty.
    status = _git(Path(where), "status", "--porcelain", "--untracked-files=no")
    return f"{sha}-dirty" if status else sha


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# --- encoding ---------------------------------------------------------------------------------------------


def to_jsonable(obj: Any, where: str = "record") -> Any:
    """Plain-JSON copy of `obj`: NaN/inf -> "nan"/"inf"/"-inf", NumPy -> Python, tuples -> lists.

    Raises ResultsError naming where (e.g. "details.inputs[3]") a value cannot be stored.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), where)
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if isinstance(k, np.generic):
                k = k.item()
            if not isinstance(k, str | int | float | bool) and k is not None:
                raise ResultsError(f"{where}: key {k!r} of type {type(k).__name__} cannot be a JSON key")
            out[str(k) if not isinstance(k, str) else k] = to_jsonable(v, f"{where}.{k}")
        return out
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise ResultsError(f"{where}: a {type(obj).__name__} cannot be stored in a record ({obj!r:.80})")


def _from_jsonable(obj: Any) -> Any:
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, list):
        return [_from_jsonable(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _from_jsonable(v) for k, v in obj.items()}
    return obj


def decode(record: Mapping[str, Any]) -> Record:
    """Inverse of the encoding: "nan"/"inf"/"-inf" strings back to floats, except in string fields."""
    return {k: (v if k in _STRING_FIELDS else _from_jsonable(v)) for k, v in record.items()}


def encode_line(record: Mapping[str, Any]) -> bytes:
    """One record as one line of UTF-8 JSON, newline included."""
    try:
        text = json.dumps(to_jsonable(record), allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except ValueError as e:  # a non-finite float that escaped conversion (should not happen)
        raise ResultsError(f"record {record.get('check')!r} cannot be written as JSON: {e}") from e
    return (text + "\n").encode("utf-8")


# --- validation -------------------------------------------------------------------------------------------


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def validate(record: Mapping[str, Any]) -> None:
    """Raise ResultsError naming the first missing or ill-typed field. `record` is decoded (floats)."""
    if not isinstance(record, Mapping):
        raise ResultsError(f"a record must be a JSON object, got {type(record).__name__}")
    for name in ("schema", *REQUIRED, "time"):
        if name not in record:
            raise ResultsError(f"missing field {name!r}")
    if record["schema"] != SCHEMA:
        raise ResultsError(f"field 'schema': version {record['schema']!r} is not understood "
                           f"(expected {SCHEMA})")

    def bad(name: str, want: str):
        return ResultsError(f"field {name!r} must be {want}, got {record.get(name)!r:.80}")

    def choice(name: str, options: tuple, optional: bool = False):
        v = record.get(name)
        if not (v in options or (optional and v is None)):
            raise bad(name, " or ".join(repr(o) for o in options) + (" or null" if optional else ""))

    choice("kind", KINDS)
    choice("framework", FRAMEWORKS)
    choice("profile", PROFILES, optional=True)
    choice("dtype", DTYPES, optional=True)
    for name in ("paper", "check", "metric"):
        if not isinstance(record[name], str) or not record[name]:
            raise bad(name, "a non-empty string")
    if record["value"] is not None and not _is_number(record["value"]):
        raise bad("value", "a number (NaN and inf allowed) or null")
    if record["passed"] is not None and not isinstance(record["passed"], bool):
        raise bad("passed", "true, false or null (report-only)")
    for name in ("expected", "config", "numerics", "details"):
        if name in record and not isinstance(record[name], Mapping):
            raise bad(name, "an object")
    if record["kind"] == "agreement" and not _is_number(record["expected"].get("tol")):
        raise bad("expected", "an object with a numeric 'tol' for an agreement record")
    if record["kind"] in ("claim", "consistency") and not isinstance(record["expected"].get("rule"), str):
        raise bad("expected", f"an object with a 'rule' string for a {record['kind']} record")
    seed = record.get("seed")
    seeds = seed if isinstance(seed, list) else [seed] if seed is not None else []
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise bad("seed", "an integer, a list of integers or null")
    for name in ("dataset", "git_sha"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise bad(name, "a string or null")
    t = record["time"]
    try:
        parsed = datetime.fromisoformat(t) if isinstance(t, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise bad("time", "an ISO-8601 time with a UTC offset")


def make_record(**fields: Any) -> Record:
    """A validated record. Required: kind, paper, framework, check, metric, value, expected, passed.

    Optional (defaults): config {}, seed None, dataset None, profile None, dtype None, numerics {},
    details {}. schema, time (UTC now) and git_sha (see `git_sha`) are filled unless given.
    NumPy values are converted to Python; NaN/inf stay floats in the returned dict.
    """
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ResultsError(f"unknown record field(s) {', '.join(map(repr, unknown))}; "
                           f"known: {', '.join(FIELDS)}")
    missing = [f for f in REQUIRED if f not in fields]
    if missing:
        raise ResultsError(f"record {fields.get('check', '?')!r}: missing field {missing[0]!r}")
    record: Record = {"schema": SCHEMA}
    for name in FIELDS[1:]:
        if name in fields:
            record[name] = fields[name]
        elif name in OPTIONAL_DEFAULTS:
            record[name] = OPTIONAL_DEFAULTS[name].copy() if isinstance(OPTIONAL_DEFAULTS[name], dict) \
                else OPTIONAL_DEFAULTS[name]
    record.setdefault("git_sha", git_sha())
    record.setdefault("time", utc_now())
    record = decode({k: to_jsonable(v, k) for k, v in record.items()})
    try:
        validate(record)
    except ResultsError as e:
        raise ResultsError(f"record {fields.get('check', '?')!r}: {e}") from None
    return record


# --- append / read ----------------------------------------------------------------------------------------


def _append_lines(path: str | os.PathLike, lines: list[bytes]) -> None:
    """Each line with one os.write on an O_APPEND descriptor, fsynced after each."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_APPEND | os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(path, size) != b"\n":
            # An earlier writer died mid-line; end that line so it stays one (reported) corrupt line
            # instead of swallowing the first record written now.
            os.write(fd, b"\n")
        for line in lines:
            written = os.write(fd, line)
            while written < len(line):  # a short write to a regular file is rare (disk full, signals)
                written += os.write(fd, line[written:])
            os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def append(path: str | os.PathLike, records: Iterable[Mapping[str, Any]]) -> int:
    """Append `records` to the JSON Lines file at `path` (created with its parents). Returns how many.

    Every record is validated and serialised before anything is written, so a bad record writes nothing.
    """
    lines = []
    for r in records:
        record = decode(to_jsonable(r))
        try:
            validate(record)
        except ResultsError as e:
            raise ResultsError(f"not appending record {r.get('check', '?')!r}: {e}") from None
        lines.append(encode_line(record))
    if lines:
        _append_lines(path, lines)
    return len(lines)


def _read_lines(path: str | os.PathLike, missing_hint: str, check) -> tuple[list[dict], list[str]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ResultsError(f"no records at {path}; {missing_hint}") from None
    except OSError as e:
        raise ResultsError(f"cannot read records at {path}: {e}") from None
    entries: list[dict] = []
    problems: list[str] = []
    lines = data.split(b"\n")
    unterminated = not data.endswith(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        partial = unterminated and number == len(lines)
        where = f"{path.name}:{number}"
        suffix = " (a partial last line: was a write interrupted?)" if partial else ""
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as e:
            problems.append(f"{where}: not valid UTF-8 ({e.reason}){suffix}")
            continue
        except json.JSONDecodeError as e:
            problems.append(f"{where}: not valid JSON ({e.msg}: column {e.colno}){suffix}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{where}: not a JSON object{suffix}")
            continue
        obj = decode(obj)
        try:
            check(obj)
        except ResultsError as e:
            problems.append(f"{where}: {e}{suffix}")
            continue
        entries.append(obj)
    return entries, problems


def read(path: str | os.PathLike) -> tuple[list[Record], list[str]]:
    """All good records of the file, in file order, and one problem string per bad line."""
    return _read_lines(path, "run `python -m harness agree ...` or `python -m harness reproduce ...` first",
                       validate)


def key(record: Mapping[str, Any]) -> tuple:
    """What makes two records results of the same check: kind, paper, framework, check, profile, dtype."""
    return tuple(record.get(f) for f in KEY_FIELDS)


def latest(records: Iterable[Mapping[str, Any]]) -> list[Record]:
    """The newest record per `key` (by time; a tie goes to the later one), in their original order."""
    best: dict[tuple, tuple[datetime, int]] = {}
    records = list(records)
    for i, r in enumerate(records):
        t = datetime.fromisoformat(r["time"])
        k = key(r)
        if k not in best or t >= best[k][0]:
            best[k] = (t, i)
    keep = sorted(i for _, i in best.values())
    return [records[i] for i in keep]


# --- seed runs (resume of `reproduce`) --------------------------------------------------------------------


def _validate_run(entry: Mapping[str, Any]) -> None:
    if not isinstance(entry.get("key"), list):
        raise ResultsError("missing field 'key' (a list)")
    if not isinstance(entry.get("metrics"), dict):
        raise ResultsError("missing field 'metrics' (an object)")


def append_run(path: str | os.PathLike, entry: Mapping[str, Any]) -> None:
    """Save one finished seed run ({"key": [...], "metrics": {...}, ...}) the same atomic way."""
    entry = decode(to_jsonable(entry))
    _validate_run(entry)
    _append_lines(path, [encode_line(entry)])


def read_runs(path: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """Saved seed runs and problems, as `read`."""
    return _read_lines(path, "nothing to resume", _validate_run)
