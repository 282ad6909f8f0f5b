"""The version-matrix table: which checks move between framework releases (harness/version_matrix.py)."""

from __future__ import annotations

import json

from harness import version_matrix


def _run(tmp_path, name, tf_version, checks):
    obj = {"passed": all(c[2] for c in checks), "numerics": {"tensorflow": tf_version, "keras": "3.x", "torch": "2.13"},
           "checks": [{"name": n, "max_rel": e, "passed": p} for n, e, p in checks]}
    (tmp_path / f"{name}.json").write_text(json.dumps(obj))


def test_lists_checks_whose_error_moves_or_verdict_flips_and_nothing_else(tmp_path):
    _run(tmp_path, "a", "2.19.1", [("p/c/float32/grad", 1e-7, True), ("p/c/float64/grad", 1e-15, True),
                                   ("p/c/float32/forward", 1e-6, True), ("p/c/float64/forward", 0.0, True)])
    _run(tmp_path, "b", "2.21.0", [("p/c/float32/grad", 1.5e-7, True), ("p/c/float64/grad", 5e-14, True),
                                   ("p/c/float32/forward", 2e-6, False), ("p/c/float64/forward", 1e-16, True)])
    table = version_matrix.moved(version_matrix.frame(version_matrix.load(tmp_path)))
    assert set(table.index) == {"p/c/float64/grad", "p/c/float32/forward", "p/c/float64/forward"}
    assert table.loc["p/c/float64/grad", "factor"] == "50x"
    assert table.loc["p/c/float64/forward", "factor"] == "from 0"
    assert any(v.endswith("FAIL") for v in table.loc["p/c/float32/forward"])
    text = version_matrix.render(version_matrix.load(tmp_path))
    assert "tf 2.19.1" in text and "tf 2.21.0" in text and "Checks that move (3 of 4)" in text


def test_one_run_or_a_corrupt_file_is_a_one_line_error_with_exit_2(tmp_path, capsys):
    _run(tmp_path, "a", "2.19.1", [("x", 1e-7, True)])
    assert version_matrix.main([str(tmp_path), str(tmp_path / "out.md")]) == 2
    assert "needs two or more" in capsys.readouterr().err
    (tmp_path / "b.json").write_text("{not json")
    assert version_matrix.main([str(tmp_path), str(tmp_path / "out.md")]) == 2
    err = capsys.readouterr().err.strip()
    assert "b.json is not an `agree --json` output" in err and "\n" not in err
    assert not (tmp_path / "out.md").exists()
