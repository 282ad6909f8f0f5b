"""The HTML report, opened in headless Chromium (DevTools protocol): no console errors, every image loaded,
every local link resolves, one summary row per registered paper; a full-page screenshot is saved under
results/ for people to look at. Also: the smoke label, the 120-column terminal output and the overwrite guard
of the `report` and `table` verbs."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from markupsafe import escape

from harness import registry, report, results, tables

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baseline.jsonl"
SCREENSHOT = ROOT / "results" / "report-screenshot.png"


def small_records() -> list[dict]:
    """Every paper's agreement records and one paper's claims from the committed baseline: every registered
    paper gets a summary row, and only a dozen figures are drawn."""
    recs, problems = results.read(BASELINE)
    assert not problems
    return [r for r in recs if r["kind"] == "agreement" or r["paper"] == "backprop"]


# --- a minimal DevTools-protocol client ----------------------------------------------------------------------


def chromium_binary() -> str | None:
    return next((p for name in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(name))), None)


class Browser:
    """Headless Chromium driven over its DevTools websocket: navigate, collect console errors, evaluate."""

    def __init__(self, binary: str, profile_dir: Path):
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint within 60 s")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        import websocket

        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id, self.events = 0, []

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == event for e in self.events):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(event)

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads (a missing image is a Log entry)."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['text']} {p['entry'].get('url', '')}")
        return out

    def close(self):
        if getattr(self, "ws", None):
            self.ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return report.build(small_records(), out), out


def test_report_in_headless_chromium(built, tmp_path):
    binary = chromium_binary()
    if binary is None:
        print("SKIP reason: no chromium on PATH (apt-get install -y chromium)")
        pytest.skip("no chromium on PATH (apt-get install -y chromium)")
    b, _ = built
    browser = Browser(binary, tmp_path / "profile")
    try:
        browser.send("Page.enable")
        browser.send("Runtime.enable")
        browser.send("Log.enable")
        browser.send("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        browser.send("Page.navigate", url=b.path.as_uri())
        browser.wait_for("Page.loadEventFired")
        images = browser.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])")
        links = browser.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        ids = set(browser.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)"))
        rows = browser.evaluate("document.querySelectorAll('#summary-table tbody tr').length")
        papers = browser.evaluate("[...document.querySelectorAll('#summary-table tbody tr td:first-child')]"
                                  ".map(td => td.textContent)")
        height = browser.evaluate("document.documentElement.scrollHeight")
        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
        errors = browser.errors()
    finally:
        browser.close()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {SCREENSHOT} ({SCREENSHOT.stat().st_size // 1024} KB, 1280x{height})")

    assert errors == []
    assert images and [src for src, complete, width in images if not (complete and width > 0)] == []
    assert len(images) == b.figures  # every figure written is shown
    unresolved = []
    for href in links:
        parts = urllib.parse.urlsplit(href)
        assert parts.scheme in ("", "file"), f"a non-local link in an offline report: {href}"
        target = (b.path.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else b.path
        if not target.is_file() or (parts.fragment and target == b.path and parts.fragment not in ids):
            unresolved.append(href)
    assert links and unresolved == []
    assert rows == len(registry.papers()) and papers == list(registry.papers())


def test_report_is_offline_and_complete(built):
    b, out = built
    html = b.path.read_text()
    assert "http://" not in html and "https://" not in html and "<script" not in html  # nothing fetched
    assert html.lstrip().startswith("<!DOCTYPE html>") and tables.GENERATED in html
    backprop = registry.get("backprop")
    for claim in backprop.claims:  # each claim's full setting text and the paper's deviations
        assert str(escape(claim.setting_for("tiny"))) in html
    for deviation in backprop.deviations:
        assert str(escape(deviation)) in html
    assert "Smoke run" in html  # baseline claims are tiny-profile: labelled as such
    readme = (out / "README.md").read_text()
    assert readme.startswith(tables.GENERATED) and "SMOKE RUN (profile 'tiny')" in readme
    assert readme.index("## Summary") < readme.index("## Claims: backprop") < readme.index("## Provenance")
    anchors = re.findall(r"\]\(report/index\.html#([^)]+)\)", readme)  # each claim links to its full setting
    assert len(anchors) == len(backprop.claims) and all(f'id="{a}"' in html for a in anchors)
    assert (out / "figures" / "agreement.svg").is_file()
    notes = re.search(r'<a href="([^"]+)">backprop/NOTES.md</a>', html)  # deviations in detail, probes, findings
    assert notes and (b.path.parent / notes.group(1)).resolve() == ROOT / "reproductions" / "backprop" / "NOTES.md"


def test_smoke_verdicts_are_shown_beside_the_committed_reduced_ones(tmp_path):
    recs = [r for r in small_records() if r["kind"] != "agreement"]
    (tmp_path / "backprop_claims.csv").write_text(
        "claim,paper,setting,torch,tf,|torch-tf|,rule,verdict\n"
        "symmetry-sweeps,1425,[reduced] all 64 patterns,1100,1200,100,rule,reproduced (both); a note\n"
        "symmetry-sweeps,1425,[tiny] scaled,1,1,0,rule,not reproduced (torch: 1)\n")
    text = report.verdict_summary(recs, Path("results/smoke"), reference_dir=tmp_path)
    assert text.startswith("SMOKE RUN (profile 'tiny')")
    assert text.splitlines()[-1].endswith("writes results/smoke/report/index.html")
    line = next(x for x in text.splitlines() if x.startswith("backprop/symmetry-sweeps"))
    # the committed reduced verdict, not the tiny row's "not reproduced (torch: 1)"; the 120-column layout may
    # cut the last column short, so its shown text must be a start of the reduced verdict
    shown = line.rstrip().rsplit("  ", 1)[-1].strip()
    assert shown.startswith("reproduced") and "reproduced (both)".startswith(shown)
    assert max(map(len, text.splitlines())) <= tables.TERMINAL_WIDTH
    missing = report.verdict_summary(recs, reference_dir=tmp_path / "none")
    assert "none found in" in missing


def test_verdicts_of_a_reduced_run_are_not_labelled_smoke():
    recs = [dict(r, profile="reduced") for r in small_records() if r["kind"] != "agreement"]
    text = report.verdict_summary(recs)
    assert text.startswith("Verdicts") and "SMOKE" not in text and report.REFERENCE_COLUMN not in text


def test_terminal_output_fits_120_columns():
    recs, _ = results.read(BASELINE)
    for text in (tables.render_for_terminal(recs), report.verdict_summary(recs)):
        widths = [len(line) for line in text.splitlines()]
        assert max(widths) <= 120, max(widths)


def _run_cli(*args, cwd):
    import os
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("verb", ["table", "report"])
def test_a_readme_the_harness_did_not_write_is_never_replaced(tmp_path, verb):
    shutil.copy(BASELINE, tmp_path / "records.jsonl")
    (tmp_path / "README.md").write_text("# My project\n")
    done = _run_cli("--results-dir", str(tmp_path), verb, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: refusing to overwrite") and "README.md" in line
    assert (tmp_path / "README.md").read_text() == "# My project\n"
    assert not (tmp_path / "tables").exists() and not (tmp_path / "report").exists()  # nothing written


def test_generated_files_are_replaced_and_foreign_ones_refused(tmp_path):
    out = tmp_path / "tables"
    recs = [r for r in small_records() if r["paper"] == "backprop"]
    first = tables.write_all(recs, out, tmp_path / "README.md")
    assert tables.write_all(recs, out, tmp_path / "README.md") == first  # a rerun replaces its own files
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "agreement.csv").write_text("my numbers\n")
    with pytest.raises(tables.ResultsError, match="refusing to overwrite"):
        tables.write_all(recs, mine)
    assert (mine / "agreement.csv").read_text() == "my numbers\n"
    assert not (mine / tables.DIR_MARKER).exists()  # a user's non-empty directory is never claimed


def test_report_verb_prints_the_summary_and_the_report_path(tmp_path):
    with open(tmp_path / "records.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in small_records() if r["paper"] in ("backprop", "lstm"))
    done = _run_cli("--results-dir", str(tmp_path), "report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("SMOKE RUN") and "Summary" in lines
    assert lines[-1] == f"report: {tmp_path / 'report' / 'index.html'}"
    assert max(map(len, lines[:-1])) <= tables.TERMINAL_WIDTH  # the path's line is as long as the path
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "figures" / "agreement.svg").is_file()
    made = {name: (tmp_path / name).read_bytes() for name in ("report/index.html", "README.md")}
    again = _run_cli("--results-dir", str(tmp_path), "report", cwd=tmp_path)  # its own files are replaced
    assert again.returncode == 0, again.stderr
    assert {name: (tmp_path / name).read_bytes() for name in made} == made  # same records, same files


def test_table_verb_draws_the_figures_too(tmp_path):
    with open(tmp_path / "records.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in small_records() if r["paper"] == "backprop")
    done = _run_cli("--results-dir", str(tmp_path), "table", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "figures" / "claims" / "backprop" / "symmetry-sweeps__tiny.svg").is_file()
    assert max(map(len, done.stdout.splitlines())) <= tables.TERMINAL_WIDTH


def test_figures_from_records(tmp_path):
    from xml.etree import ElementTree

    from harness import plots

    env = {"python": "3.11", "threads": 1}
    seeds = {"band.metric": {"statistic": 2.0, "values": [1.0, 2.0, math.nan, 3.0], "finite": 3, "seeds": 4}}
    recs = [results.make_record(
        kind="claim", paper="p", framework=fw, check="in-band", metric="median band.metric in [1.5, inf]", value=2.0,
        passed=True, expected={"rule": "median band.metric in [1.5, inf]", "lo": 1.5, "hi": math.inf,
                               "reported": 2.5, "source": "Table 1", "setting": "s"},
        profile="reduced", numerics=env, details={"inputs": seeds}) for fw in ("torch", "tf")]
    recs.append(results.make_record(kind="agreement", paper="p", framework="both", check="case/float64/grad",
                                    metric="max_rel", value=1e-14, expected={"tol": 1e-12}, passed=True,
                                    dtype="float64", numerics=env, details={"max_abs": 1e-15}))
    recs += [results.make_record(kind="benchmark", paper="p", framework=fw, check="case/train_step",
                                 metric="images_per_second", value=v, expected={}, passed=None, numerics=env,
                                 details={"min": v * 0.9, "max": v * 1.1})
             for fw, v in (("torch", 100.0), ("tf", 80.0))]
    written = plots.write_all(recs, tmp_path / "figures")
    assert sorted(f["section"] for f in written) == ["agreement", "benchmark", "claims"]
    claim = next(f for f in written if f["section"] == "claims")
    assert claim["path"] == tmp_path / "figures" / "claims" / "p" / "in-band__reduced.svg"
    assert "reproduced (both)" in claim["title"]  # the verdict in the title
    texts = " ".join(t.text or "" for t in ElementTree.parse(claim["path"]).iter() if t.tag.endswith("text"))
    assert "reproduced (both)" in texts and "1 not finite" in texts
    first = {f["path"]: f["path"].read_bytes() for f in written}
    plots.write_all(recs, tmp_path / "figures")  # a rerun of the same records: byte-identical files
    assert {path: path.read_bytes() for path in first} == first
    assert [m.relative_to(tmp_path) for m in tmp_path.rglob(tables.DIR_MARKER)] == [Path("figures") / tables.DIR_MARKER]


def test_a_new_per_paper_plotter_reaches_the_report_unchanged(tmp_path, monkeypatch):
    """How training curves will plug in once records carry them: one more plotter, nothing else."""
    from harness import plots

    def curves(records):
        fig, ax = plots._new_figure(3, 2)
        ax.plot([0, 1], [1, 0])
        yield plots.Figure("curves/backprop/loss", "backprop: loss per step", "curves", fig, paper="backprop")

    monkeypatch.setattr(plots, "PLOTTERS", [*plots.PLOTTERS, curves])
    built = report.build([r for r in small_records() if r["paper"] == "backprop"], tmp_path)
    assert '<img src="../figures/curves/backprop/loss.svg" alt="backprop: loss per step">' in built.path.read_text()
