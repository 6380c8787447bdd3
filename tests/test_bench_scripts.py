"""The bench/ entry points that no benchmark run exercises here: make bench and the GPU smoke."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cpu_fallback_generates_finite_audio_and_says_no_gpu_was_measured(tmp_path):
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, "bench/gpu_smoke.py", "--tiny", "--seconds", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NO GPU MEASURED" in done.stdout
    report = json.loads(out.read_text())
    assert report["gpu"] is False
    assert report["eager"]["audio_finite"] and report["eager"]["audio_samples"] == 32000
    assert report["eager"]["lm_steps"] >= 50  # 1 s at 50 codec frames/s, plus the delay steps
    assert report["static"]["logits_finite"] and report["static"]["steps_per_s"] > 0
    assert report["cuda_graph"] == {"skipped": "no CUDA device"}


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
