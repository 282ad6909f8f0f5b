"""bench: FLOPs against an analytic count, the mode contract, plain loops, the table and the CLI verb."""

import pytest

from harness import bench, bench_modes, bench_plain, bench_table, execution, registry
from harness.errors import ConfigError


def _case(paper, name):
    return next(c for c in paper.benchmarks if c.name == name)


def resnet20_forward_flops(size: int = 32) -> int:
    """He et al. 2015, Sec. 4.2: a 3x3 stem to 16 maps, then 3 stages of 2n = 6 3x3 convolutions at 16/32/64
    maps and 32/16/8 px (the first of stages 2 and 3 at stride 2 from the previous width), option-A
    shortcuts (no weights), global average pooling and a 64 -> 10 fully connected layer. A convolution is
    2 * H_out * W_out * C_out * C_in * k^2 flops (a multiply and an add per weight per output)."""
    conv = lambda hw, cout, cin: 2 * hw * hw * cout * cin * 9  # noqa: E731
    total = conv(size, 16, 3)
    cin = 16
    for stage, width in enumerate((16, 32, 64)):
        hw = size >> stage
        total += conv(hw, width, cin) + 5 * conv(hw, width, width)
        cin = width
    return total + 2 * 64 * 10


def test_counted_flops_match_the_analytic_count_for_resnet20():
    paper = registry.get("resnet")
    assert bench.case_flops(paper, _case(paper, "resnet20-inference")) == resnet20_forward_flops()
    # training: forward, the weight gradients (same count) and the input gradients of every layer but the
    # stem (whose input needs none)
    train = bench.case_flops(paper, _case(paper, "resnet20-train"))
    assert train == 3 * resnet20_forward_flops() - 2 * 32 * 32 * 16 * 3 * 9


def test_an_unsupported_mode_is_a_config_error_naming_the_supported_ones():
    paper = registry.get("backprop")
    with pytest.raises(ConfigError, match="mode 'no-such-mode' is not supported here; supported: "):
        bench_modes.modes(paper, "torch", "no-such-mode")
    # the defaults are today's behaviour: torch eager, tf steps in tf.function
    assert bench_modes.modes(paper, "torch", None) == ("eager",)
    assert bench_modes.modes(paper, "tf", None) == ("function",)


def test_repro_names_the_mode_each_papers_reproductions_train_in():
    for key in ("backprop", "resnet", "ddpm"):
        paper = registry.get(key)
        for fw in ("torch", "tf"):
            assert bench_modes.modes(paper, fw, "repro") == (execution.repro_mode(paper, fw),)
    assert bench_modes.modes(registry.get("ddpm"), "tf", "repro") == ("xla",)
    assert bench_modes.modes(registry.get("resnet"), "torch", "repro") == ("channels_last",)


@pytest.mark.parametrize("framework", ["torch", "tf"])
def test_backprop_case_times_harness_and_plain_loop_with_flops_and_gemm_peak(framework):
    paper = registry.get("backprop")
    (r,) = [x for x in bench.run_paper(paper, (framework,), repeats=2, min_seconds=0.02)
            if x.case == "symmetry-sweep"]
    assert r.items_per_second > 0 and r.plain_items_per_second > 0 and r.first_call_s > 0
    assert r.gemm_gflops > 0 and r.flops_per_item > 0 and r.peak_fraction > 0
    assert r.overhead == pytest.approx(r.plain_items_per_second / r.items_per_second - 1)
    assert r.peak_rss_growth_bytes is None  # not measured outside a fresh process
    rec = r.to_record({"threads": 1})
    assert rec["check"] == f"symmetry-sweep/train_step/{r.mode}/threads1" and rec["details"]["machine_kind"]
    text = bench_table.render([r])
    assert f"{framework} vs plain" in text and "symmetry-sweep" in text


def test_isolated_case_records_peak_rss_and_its_thread_count():
    paper = registry.get("backprop")
    case = _case(paper, "symmetry-sweep")
    r = bench._run_isolated(paper, case, "torch", bench_modes.modes(paper, "torch", None)[0], 1, 0.02, 1.0, 2)
    assert r.threads == 2 and r.peak_rss_growth_bytes is not None and r.peak_rss_growth_bytes >= 0


def test_threads_other_than_pinned_need_isolation():
    with pytest.raises(ValueError, match="isolate"):
        bench.run_paper(registry.get("backprop"), ("torch",), threads=2)


def test_cli_refuses_an_unknown_mode_before_timing_anything(tmp_path, capsys):
    from harness import cli

    code = cli.main(["--results-dir", str(tmp_path), "bench", "backprop", "--mode", "warp"])
    err = capsys.readouterr().err
    assert code == 2 and "mode 'warp' is not supported here" in err and not (tmp_path / "records.jsonl").exists()


def test_cli_bench_prints_one_side_by_side_table_and_saves_records(tmp_path, capsys):
    from harness import cli, results

    code = cli.main(["--results-dir", str(tmp_path), "bench", "backprop", "--repeats", "1", "--min-seconds", "0.02"])
    out = capsys.readouterr().out
    assert code == 0 and "torch vs plain" in out and "tf vs plain" in out
    header = next(line for line in out.splitlines() if line.startswith("paper"))
    assert header.index("torch mode") < header.index("tf mode")
    recs = [r for r in results.read(tmp_path / "records.jsonl")[0] if r["kind"] == "benchmark"]
    cases = len(registry.get("backprop").benchmarks)
    assert {r["framework"] for r in recs} == {"torch", "tf"} and len(recs) == 2 * cases


def test_harness_and_plain_repeats_are_taken_in_turn(monkeypatch):
    """A machine that drifts during a case (another tenant, clock changes) must weigh on every figure alike: the
    repeats go harness, plain, plain fed, harness, ..., not all of one then all of the other."""
    paper = registry.get("backprop")

    def plain():
        return None

    def fed():
        return None

    order = []
    rates = {plain: 100.0, fed: 90.0}

    def fake_repeat(call, items, min_seconds):
        call()
        order.append({plain: "plain", fed: "fed"}.get(call, "harness"))
        return rates.get(call, 80.0), 1

    monkeypatch.setattr(bench, "_plain_calls", lambda *a, **k: (plain, fed))
    monkeypatch.setattr(bench, "time_repeat", fake_repeat)
    r = bench.time_case(paper, _case(paper, "symmetry-sweep"), "torch", repeats=3, min_seconds=0.01)
    assert order == ["harness", "plain", "fed"] * 3
    assert r.items_per_second == 80.0 and r.plain_items_per_second == 100.0 and r.overhead == pytest.approx(0.25)
    assert r.plain_fed_items_per_second == 90.0 and r.fed_overhead == pytest.approx(0.125)
    assert r.to_record({})["details"]["fed_overhead"] == pytest.approx(0.125)


def test_the_harness_is_warmed_again_after_the_plain_loop_is_built(monkeypatch):
    """Building the plain loop (in tf, tracing its function) made the harness's next call re-instantiate its
    graph, and that call landed in the first timed repeat: every repeat must come after a harness call made
    once the plain loop exists."""
    paper = registry.get("backprop")
    case = _case(paper, "symmetry-sweep")
    calls = []

    class Fake:
        def train_step(self, batch):
            calls.append("harness")

    def plain():
        calls.append("plain")

    def make_plain(*a, **k):
        calls.append("plain built")
        return plain, plain

    def fake_repeat(call, items, min_seconds):
        calls.append("repeat")
        return 1.0, 1

    monkeypatch.setattr(bench_modes, "build", lambda *a, **k: Fake())
    monkeypatch.setattr(bench, "_plain_calls", make_plain)
    monkeypatch.setattr(bench, "time_repeat", fake_repeat)
    bench.time_case(paper, case, "torch", repeats=2, min_seconds=0.01, warmup=2)
    built, first_repeat = calls.index("plain built"), calls.index("repeat")
    assert calls[:built] == ["harness", "harness"]  # the first call (timed on its own), then a warm-up
    assert "harness" in calls[built:first_repeat] and "plain" in calls[built:first_repeat]
    assert calls[first_repeat:] == ["repeat"] * 6


def test_the_plain_loop_is_built_in_the_rows_mode(monkeypatch):
    """`_plain_calls` gives the plain loop a model built in the benchmark row's mode, not the default one."""
    paper = registry.get("backprop")
    case = _case(paper, "symmetry-sweep")
    built = []

    def fake_build(paper_, case_, framework, mode, device="cpu"):
        built.append((framework, mode, device))
        return object()

    monkeypatch.setattr(bench_modes, "build", fake_build)
    monkeypatch.setattr(bench_plain, "plain_step", lambda *a, **k: bench_plain.PlainLoop(dict, lambda t: None))
    bench._plain_calls(paper, case, "tf", batch={}, mode="xla", device="cpu")
    assert built == [("tf", "xla", "cpu")]


def _row(framework, mode, rate, plain, case="digits-train-step", fed=None):
    return bench.BenchResult("ddpm", case, framework, "train_step", "images", rate, (rate, rate), 3, 10, mode=mode,
                             plain_items_per_second=plain, plain_fed_items_per_second=fed)


def test_best_modes_compares_the_harness_best_mode_with_the_plain_loops_best():
    rows = [_row("tf", "function", 966.0, 970.0, fed=1710.0), _row("tf", "xla", 1699.0, 1750.0, fed=1600.0),
            _row("tf", "eager", 500.0, None),
            _row("torch", "eager", 1490.0, 1500.0)]  # one torch mode: nothing to pick
    best = bench_table.best_modes(rows)
    assert len(best) == 1
    (row,) = best.to_dict("records")
    assert row["framework"] == "tf" and row["harness best"].startswith("xla: 1,699.0")
    assert row["plain best"] == "xla: 1,750.0" and row["vs best plain"] == f"{1750 / 1699 - 1:+.0%}"
    assert row["vs best fed"] == f"{1710 / 1699 - 1:+.0%}"  # the fastest fed loop, whichever mode it ran in
    text = bench_table.render(rows)
    assert "vs best plain" in text and "harness best" in text
    assert "vs best plain" not in bench_table.render(rows[-1:])  # one mode per side: no such table


def test_mode_all_names_the_modes_an_impl_declares_it_cannot_run():
    paper = registry.get("alexnet")
    assert "xla" not in bench_modes.modes(paper, "tf", "all")
    assert "MaxPool" in bench_modes.not_timed(paper, "tf", "all")["xla"]
    assert bench_modes.not_timed(paper, "tf", "function") == {} and bench_modes.not_timed(paper, "torch", "all") == {}
