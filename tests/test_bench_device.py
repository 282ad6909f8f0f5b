"""bench --device: resolved as agree and reproduce resolve it; a GPU that is not there, or a device name that
means nothing, is a usage error (exit 2) before anything is timed or written."""

import pytest

from harness import bench, cli, execution, registry


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_bench_on_a_missing_gpu_is_a_usage_error_before_timing(tmp_path, capsys, monkeypatch, device):
    monkeypatch.setattr(execution, "_gpu_count", lambda: 0)  # as on a CPU-only machine, whatever this one has
    code = cli.main(["--results-dir", str(tmp_path), "bench", "backprop", "--device", device])
    err = capsys.readouterr().err
    assert code == 2 and f"device {device!r} is not available" in err and "--device cpu" in err
    assert not (tmp_path / "records.jsonl").exists()


def test_bench_refuses_an_unknown_device_name(tmp_path, capsys):
    code = cli.main(["--results-dir", str(tmp_path), "bench", "backprop", "--device", "tpu"])
    assert code == 2 and "unknown device 'tpu'" in capsys.readouterr().err
    assert not (tmp_path / "records.jsonl").exists()


def test_auto_without_a_gpu_benchmarks_on_the_cpu_and_says_so(tmp_path, capsys, monkeypatch):
    from harness import results

    monkeypatch.setattr(execution, "_gpu_count", lambda: 0)
    code = cli.main(["--results-dir", str(tmp_path), "bench", "backprop", "--framework", "torch", "--device", "auto",
                     "--repeats", "1", "--min-seconds", "0.02"])
    assert code == 0, capsys.readouterr().err
    recs = [r for r in results.read(tmp_path / "records.jsonl")[0] if r["kind"] == "benchmark"]
    assert recs and all(r["details"]["device"] == "cpu" and r["numerics"]["device"] == "cpu" for r in recs)


def test_run_paper_passes_the_device_to_the_case():
    (r, *_) = bench.run_paper(registry.get("backprop"), ("tf",), repeats=1, min_seconds=0.02, device="cpu")
    assert r.device == "cpu" and r.plain_items_per_second > 0
