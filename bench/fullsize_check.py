"""Full-size check: the path a user with the published GVMGen weights takes, at full size.

    nice -n 10 .venv/bin/python bench/fullsize_check.py [--seconds 2] [--work DIR] [--keep]
                                                        [--json out.json]

A benchmark, not a test (minutes, ~6 GB of memory, ~4 GB of disk). Every test builds tiny
models; this one runs GVMGen-small at its real size (797 M parameters) through the commands a
user runs:

1. builds a random checkpoint in the official `state_dict.bin` layout (707 fp16 tensors, an
   `xp.cfg` mirroring the official config) at realistic weight scales, and a full-size
   EnCodec 32 kHz snapshot (`bench/fullsize_weights.py` says which scales and why);
2. `gvmgen models import` in its own process: time, peak RSS, bytes written, file modes;
3. `gvmgen models verify --json`;
4. `gvmgen score CLIP --range 0-SECONDS --engine gvmgen` in its own process (the CLI itself,
   with the generator's stages timed from inside): wall time, peak RSS, LM steps/s, the
   precision it ran in, and whether the delivered WAV is finite and not silent.

It runs on the CPU here and on CUDA when one is there (the engine picks the device as it
does for users). Configuration printed with the figures: device, torch threads, the load
average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

GVMGEN = [sys.executable, "-m", "gvmgen.cli"]

# Runs `gvmgen score …` in the child with the generator's stages timed (gpu_smoke's timer, the
# same wrappers), and writes what it saw as JSON beside the outputs.
SCORE_CHILD = """
import json, sys, torch
sys.path.insert(0, {bench!r})
from gpu_smoke import StageTimer
from gvmgen.engines import gvmgen_engine
from gvmgen.cli import main

if {threads}:
    torch.set_num_threads({threads})
seen = {{}}
built = gvmgen_engine.GVMGenEngine.__init__

def timed(self, generator, *rest, **kw):
    built(self, generator, *rest, **kw)
    seen["timer"], seen["engine"] = StageTimer(generator, generator.device), self

gvmgen_engine.GVMGenEngine.__init__ = timed
code = main({argv!r})
timer, engine = seen.get("timer"), seen.get("engine")
with open({report!r}, "w") as out:
    json.dump({{
        "exit": code, "threads": torch.get_num_threads(),
        "device": str(engine.generator.device) if engine else None,
        "stage_s": timer.seconds if timer else {{}}, "lm_steps": timer.steps if timer else 0,
        "provenance": engine.provenance() if engine else None,
    }}, out)
sys.exit(code)
"""


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_child(command: list[str], env: dict, log: Path) -> dict:
    """Run `command`; its wall time, exit status and peak RSS (from the kernel's rusage)."""
    began = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    return {
        "wall_s": round(time.perf_counter() - began, 1),
        "exit": os.waitstatus_to_exitcode(status),
        "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),  # KiB on Linux
    }


def build(work: Path) -> dict:
    """The official-layout checkpoint and the EnCodec snapshot; build time and sizes."""
    from fullsize_weights import SMALL, encodec_snapshot, official_checkpoint, official_shapes

    began = time.perf_counter()
    checkpoint = official_checkpoint(work / "state_dict.bin", SMALL, seed=0)
    codec = encodec_snapshot(work / "encodec_32khz", seed=0)
    shapes = official_shapes(SMALL)
    return {
        "checkpoint": str(checkpoint),
        "codec": str(codec),
        "tensors": len(shapes),
        "parameters_m": round(sum(_numel(s) for s in shapes.values()) / 1e6, 1),
        "checkpoint_gb": round(checkpoint.stat().st_size / 1e9, 2),
        "build_s": round(time.perf_counter() - began, 1),
        "build_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def _numel(shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


def import_and_verify(work: Path, built: dict, env: dict) -> dict:
    out = work / "models" / "gvmgen"
    command = [*GVMGEN, "models", "import", built["checkpoint"], "--out", str(out),
               "--codec", built["codec"], "--json"]  # fmt: skip
    result = run_child(command, env, work / "import.log")
    report = _json_tail(work / "import.log")
    result["written_gb"] = round(sum(p.stat().st_size for p in out.iterdir()) / 1e9, 2)
    result["modes"] = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in out.iterdir()}
    result["consumed"] = report.get("consumed")
    result["unconsumed"] = len(report.get("unconsumed", []))
    verify = run_child([*GVMGEN, "models", "verify", str(out), "--json"], env, work / "verify.log")
    verified = _json_tail(work / "verify.log")
    result["verify"] = {"exit": verify["exit"], "ok": verified.get("ok"),
                        "missing": len(verified.get("missing", [])),
                        "unexpected": len(verified.get("unexpected", [])),
                        "mismatched": len(verified.get("mismatched", []))}  # fmt: skip
    return result


def _json_tail(log: Path) -> dict:
    """The JSON object a `--json` command printed last (after any progress lines)."""
    text = log.read_text()
    start = text.find("{")
    try:
        return json.loads(text[start:]) if start >= 0 else {}
    except ValueError:
        return {}


def score(work: Path, seconds: float, env: dict, threads: int | None) -> dict:
    """`gvmgen score` of a `seconds` range with the gvmgen engine, in its own process."""
    import numpy as np
    import soundfile

    from gvmgen.media.synth import make_test_clip

    clip = make_test_clip(work / "clip.mp4", duration=seconds + 2, size=(1280, 720),
                          cut_frames=[int(25 * seconds / 2)])  # fmt: skip
    out, report = work / "scored", work / "score-child.json"
    argv = ["score", str(clip), "--range", f"0-{seconds:g}", "--engine", "gvmgen",
            "--out", str(out), "--seed", "0"]  # fmt: skip
    child = SCORE_CHILD.format(bench=str(BENCH), argv=argv, report=str(report), threads=threads)
    result = run_child([sys.executable, "-c", child], env, work / "score.log")
    seen = json.loads(report.read_text()) if report.is_file() else {}
    wavs = sorted(out.rglob("*.wav"))
    audio = (
        np.concatenate([soundfile.read(w, always_2d=True)[0].ravel() for w in wavs])
        if wavs
        else np.zeros(0)
    )
    lm = seen.get("stage_s", {}).get("lm")
    return {
        **result,
        "seconds": seconds,
        "device": seen.get("device"),
        "threads": seen.get("threads"),
        "stage_s": {k: round(v, 2) for k, v in seen.get("stage_s", {}).items()},
        "lm_steps": seen.get("lm_steps"),
        "lm_steps_per_s": round(seen["lm_steps"] / lm, 2) if lm else None,
        "precision": (seen.get("provenance") or {}).get("precision"),
        "retries": (seen.get("provenance") or {}).get("retries"),
        "delivered_wavs": len(wavs),
        "delivered_finite": bool(len(audio) and np.isfinite(audio).all()),
        "delivered_rms": float(np.sqrt(np.mean(np.square(audio)))) if len(audio) else 0.0,
        "log_tail": (work / "score.log").read_text()[-600:] if result["exit"] else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the range scored")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads while scoring (default: torch's, one per core); 1 on a busy "
        "machine, where two threads fight other jobs for the cores",
    )
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="gvmgen-fullsize-"))
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GVMGEN_MODELS_DIR=str(work / "models"), HF_HUB_OFFLINE="1")
    report = {"load_before": load(), "cpus": os.cpu_count()}
    try:
        report["build"] = build(work)
        print(f"built: {json.dumps(report['build'])}", flush=True)
        report["import"] = import_and_verify(work, report["build"], env)
        print(f"import: {json.dumps(report['import'])}", flush=True)
        report["score"] = score(work, args.seconds, env, args.threads)
    finally:
        report["load_after"] = load()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"score: {json.dumps(report['score'])}")
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    good = (report["import"]["exit"] == 0 and report["import"]["verify"]["ok"]
            and report["score"]["exit"] == 0 and report["score"]["delivered_finite"]
            and report["score"]["delivered_rms"] > 0)  # fmt: skip
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
