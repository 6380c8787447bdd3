"""The bench/ entry points that no benchmark run exercises here: make bench and the GPU smoke."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cpu_fallback_scores_in_both_precisions_and_says_no_gpu_was_measured(tmp_path):
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, "bench/gpu_smoke.py", "--tiny", "--seconds", "2", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "NO GPU MEASURED" in done.stdout
    report = json.loads(out.read_text())
    assert report["gpu"] is False and report["problems"] == []
    for precision in ("bf16", "fp16"):  # the product path, in each precision (CPU autocast)
        run = report[precision]
        assert run["precision"] == precision and run["retried_after"] is None
        assert run["delivered_finite"] and run["delivered_rms"] > 0
        assert run["lm_steps"] == 100 + 3 and run["lm_steps_per_s"] > 0  # 2 s at 50 Hz + delay
        assert set(run["stage_s"]) == {"vision", "lm", "codec"}
        errors = report["vs_fp32"][precision]
        assert 0 < errors["logits_at_step"]["1"] < 0.1 and 0 < errors["frame_tokens"] < 0.1


def _run_all(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "bench/run_all.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_make_bench_runs_every_benchmark_in_bench():
    listed = _run_all("--list").stdout.split()
    on_disk = {p.stem for p in (ROOT / "bench").glob("*_bench.py")} | {"gpu_smoke"}
    assert set(listed) == on_disk


def test_an_unknown_benchmark_name_is_refused_with_the_valid_names():
    done = _run_all("--only", "nope")
    assert done.returncode != 0
    assert "unknown benchmark(s) ['nope']" in done.stderr and "gpu_smoke" in done.stderr
