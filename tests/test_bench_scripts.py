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


def _delivered(folder: Path, samples, job_id: str, made: str, seconds: float) -> Path:
    """A folder as a score leaves it, in little: one take's WAV with its bext, and report.json."""
    import datetime

    import numpy as np

    from gvmgen.media.audio import write_wav
    from gvmgen.media.bwf import BextInfo, add_bext

    wav = folder / "takes" / "take-1" / "cue-01.wav"
    wav.parent.mkdir(parents=True)
    write_wav(wav, np.asarray(samples, np.float32).reshape(2, -1), 48_000)
    created = datetime.datetime.fromisoformat(made)
    info = BextInfo("cue 1; seed 5", 172_800_000, job_id, -16.0, -1.2, created=created)
    add_bext(wav, info)
    report = {"seconds": seconds, "job_id": job_id, "out": str(folder), "warnings": ["w"]}
    report["takes"] = [{"take": 1, "created": made, "job_id": job_id, "wavs": ["cue-01.wav"]}]
    (folder / "report.json").write_text(json.dumps(report))
    return folder


def test_same_output_sees_one_sample_changed_and_not_the_run_that_made_it(tmp_path):
    """bench/same_output.py: two runs of one commit compare equal (job id, date, timings and
    the out folder apart); one sample of the music or one report figure changed does not."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("same_output", ROOT / "bench/same_output.py")
    same_output = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(same_output)
    music = [0.0, 0.25, -0.25, 0.5] * 2
    a = _delivered(tmp_path / "a", music, "job-a", "2026-12-07T10:00:00", 12.5)
    b = _delivered(tmp_path / "b", music, "job-b", "2026-12-07T11:30:00", 14.0)
    same = same_output.compared(a, b)
    assert same["same_audio_and_bext"] and same["same_report"] and same["wavs"] == 1
    assert not same["byte_identical"] and same["byte_identical_but_run"]  # bext: who and when
    c = _delivered(tmp_path / "c", [*music[:-1], 0.5001], "job-a", "2026-12-07T10:00:00", 12.5)
    changed = same_output.compared(a, c)
    assert not changed["same_audio_and_bext"] and not changed["byte_identical_but_run"]
    report = json.loads((b / "report.json").read_text())
    (b / "report.json").write_text(json.dumps(report | {"warnings": []}))
    assert not same_output.compared(a, b)["same_report"]
