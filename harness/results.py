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

import fcntl
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
KINDS = ("agreement", "claim", "consistency", "benchmark", "budget", "diagnosis")  # the last two: harness.diagnosis
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
    if record["kind"] in ("claim", "consistency", "budget", "diagnosis") \
            and not isinstance(record["expected"].get("rule"), str):
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
    """Each line with one os.write on an O_APPEND descriptor, fsynced after each.

    An OSError (a path under a file, a read-only filesystem, a full disk) becomes a one-line ResultsError.
    The file is locked while written, so `quarantine` never drops a line another process appends.
    """
    path = Path(path)
    try:
        _append_locked(path, lines)
    except OSError as e:
        raise ResultsError(f"cannot write {path.absolute()}: {e.strerror or e}; choose a writable results "
                           "directory (--results-dir or $HARNESS_RESULTS)") from None


def _open_locked(path: Path) -> int:
    """An O_APPEND descriptor of `path` holding an exclusive lock, reopened if `quarantine` replaced the file
    while we waited (a lock on the old, unlinked file would protect nothing)."""
    while True:
        fd = os.open(path, os.O_APPEND | os.O_CREAT | os.O_WRONLY, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def _append_locked(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = _open_locked(path)
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
        os.close(fd)  # releases the lock
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


def read(path: str | os.PathLike, also=None) -> tuple[list[Record], list[str]]:
    """All good records of the file, in file order, and one problem string per bad line. `also(record)`: a
    further check a reader needs (raising ResultsError), reported with its line like a schema error."""

    def check(record):
        validate(record)
        if also is not None:
            also(record)

    return _read_lines(path, "run `python -m harness agree ...` or `python -m harness reproduce ...` first",
                       check)


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


RUN_KEY_FIELDS = ("paper", "experiment", "framework", "seed", "profile", "config", "identity")


def unwritable_dir(path: Path) -> str | None:
    """Create `path` (with its parents) and a temporary file in it; None when that works, else the OS's reason.
    The one probe behind every destination checked before work starts (results directory, --tensorboard)."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        return str(e.strerror or e)
    return None


def validate_run(entry: Mapping[str, Any]) -> None:
    """Raise ResultsError naming what is wrong with a saved seed run (decoded: NaN/inf as floats).

    {"key": [paper, experiment, framework, seed, profile, config hash, identity hash], "metrics": {name:
    number, ...} (at least one; NaN and inf allowed), "dataset": str, "identity": {what: str or int},
    "cpu_seconds": the seed's CPU time where it ran (optional)}; a run
    whose training diverged has "diverged": where (a non-empty string) and may have no metric.
    Entries saved before the identity hash existed have a 6-item key: valid, but never reused (see
    executor.run_experiments)."""
    if not isinstance(entry, Mapping):
        raise ResultsError(f"a seed run must be a JSON object, got {type(entry).__name__}")
    key = entry.get("key")
    if not isinstance(key, list) or len(key) not in (6, 7):
        raise ResultsError(f"field 'key' must be a list of {len(RUN_KEY_FIELDS)} items "
                           f"({', '.join(RUN_KEY_FIELDS)}), got {key!r:.80}")
    for i, (name, value) in enumerate(zip(RUN_KEY_FIELDS, key, strict=False)):
        if name == "seed":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif name == "framework":
            ok = value in ("torch", "tf")
        elif name == "profile":
            ok = value in PROFILES
        else:
            ok = isinstance(value, str) and bool(value)
        if not ok:
            raise ResultsError(f"field 'key' item {i} ({name}) is invalid: {value!r:.80}")
    metrics, diverged = entry.get("metrics"), entry.get("diverged")
    if diverged is not None and not (isinstance(diverged, str) and diverged):
        raise ResultsError(f"field 'diverged' must say where the training diverged, got {diverged!r:.80}")
    if not isinstance(metrics, Mapping) or not (metrics or diverged):  # a diverged run has no metric
        raise ResultsError(f"field 'metrics' must be a non-empty object of numbers, got {metrics!r:.80}")
    for name, value in metrics.items():
        if not _is_number(value):
            raise ResultsError(f"metric {name!r} must be a number (NaN and inf allowed), got {value!r:.80}")
    if entry.get("curves") is not None:  # optional: runs saved before curves existed have none
        from .curves import validate as validate_curves

        validate_curves(entry["curves"])
    if entry.get("dataset") is not None and not isinstance(entry["dataset"], str):
        raise ResultsError(f"field 'dataset' must be a string, got {entry['dataset']!r:.80}")
    cpu = entry.get("cpu_seconds")  # optional: runs saved before it was recorded have none
    if cpu is not None and not (_is_number(cpu) and math.isfinite(cpu) and cpu >= 0):
        raise ResultsError(f"field 'cpu_seconds' must be a number of seconds >= 0, got {cpu!r:.80}")
    identity = entry.get("identity")
    if identity is not None and not (isinstance(identity, Mapping) and all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in identity.values())):
        raise ResultsError(f"field 'identity' must be an object of strings, got {identity!r:.80}")
    if len(key) == 7 and identity is None:
        raise ResultsError("field 'identity' is missing (the key has an identity hash)")


def append_run(path: str | os.PathLike, entry: Mapping[str, Any]) -> None:
    """Save one finished seed run (see `validate_run`) the same atomic way; a bad entry writes nothing."""
    entry = decode(to_jsonable(entry))
    try:
        validate_run(entry)
    except ResultsError as e:
        raise ResultsError(f"not saving seed run {entry.get('key')!r:.80}: {e}") from None
    _append_lines(path, [encode_line(entry)])


def read_runs(path: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """Saved seed runs and problems, as `read`."""
    return _read_lines(path, "nothing to resume", validate_run)


# --- quarantine of corrupt lines --------------------------------------------------------------------------


def quarantine(path: str | os.PathLike, check=None) -> tuple[int, int, Path]:
    """Move every line of `path` that does not parse or validate (by `check`: `validate` for records,
    `validate_run` for seed runs; default by the file's name) to `<path>.corrupt` (appended, so nothing is
    ever deleted), keeping the good lines in order. Returns (lines kept, lines moved, the .corrupt path).

    The good lines are written to a temporary file that then replaces `path` (os.replace, atomic), under the
    same lock writers take, so an interruption leaves either the old file or the new one."""
    path = Path(path)
    check = check or (validate_run if path.name.startswith("runs") else validate)
    corrupt = path.with_name(path.name + ".corrupt")
    try:
        fd = _open_locked(path) if path.exists() else None
    except OSError as e:
        raise ResultsError(f"cannot open {path}: {e.strerror or e}") from None
    if fd is None:
        raise ResultsError(f"no file at {path}; nothing to repair")
    try:
        good, bad = [], []
        for raw in path.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            (good if _line_ok(raw, check) else bad).append(raw + b"\n")
        if bad:
            _append_locked(corrupt, bad)
            tmp = path.with_name(f".{path.name}.repair-{os.getpid()}")
            tmp.write_bytes(b"".join(good))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
    except OSError as e:
        raise ResultsError(f"cannot repair {path}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    return len(good), len(bad), corrupt


def _line_ok(raw: bytes, check) -> bool:
    try:
        obj = json.loads(raw.decode("utf-8"))
        if not isinstance(obj, dict):
            return False
        check(decode(obj))
    except (UnicodeDecodeError, json.JSONDecodeError, ResultsError):
        return False
    return True
