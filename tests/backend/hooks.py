"""Test hooks for servers the tests kill: slowed or stalled file operations at the moments a
crash matters, each announced by a line in a marks file, so a test kills at that exact moment
instead of guessing. Installed by counting_server.py from $GVMGEN_TEST_HOOKS (JSON):

    {"marks": "/path/marks.txt", "stall": "wav" | "cleanup" | "commit", "slow_moves": 1.5,
     "slow_wavs": 0.2, "slow_cleanup": 0.3}

- stall "wav": the first cue WAV written into a stage is left half-written (its temp file
  there), then the process waits to be killed;
- stall "commit": the commit is decided (commit.json written), nothing moved yet;
- stall "cleanup": every file is in place (report.json too), the stage not removed yet;
- slow_moves S: each rename of the commit is followed by S seconds of sleep;
- slow_wavs S: each WAV written into a stage is written half, then S seconds later the rest;
- slow_cleanup S: S seconds between a finished commit and the removal of its stage.
With the slow ones each step is marked ("wav <path>", "decided <stage>", "moved <path>",
"cleanup <stage>", with the time): bench/crash_bench.py kills at random moments inside them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

FOREVER = 3600.0


def install(spec_text: str | None) -> None:
    if not spec_text:
        return
    spec = json.loads(spec_text)
    marks = Path(spec["marks"])
    stall = spec.get("stall")
    if stall == "wav":
        _stall_wav_write(marks)
    elif stall == "commit":
        _stall_after_commit_decided(marks)
    elif stall == "cleanup":
        _stall_before_cleanup(marks)
    if spec.get("slow_moves"):
        _slow_moves(marks, float(spec["slow_moves"]))
    if spec.get("slow_wavs"):
        _slow_wav_writes(marks, float(spec["slow_wavs"]))
    if spec.get("slow_cleanup"):
        _slow_cleanup(marks, float(spec["slow_cleanup"]))


def mark(marks: Path, text: str) -> None:
    with open(marks, "a", encoding="utf-8") as handle:
        handle.write(f"{time.time():.4f} {text}\n")
        handle.flush()
        os.fsync(handle.fileno())


def _stall_wav_write(marks: Path) -> None:
    import soundfile

    real = soundfile.write

    def write(file, data, *args, **kwargs):
        path = str(file)
        if "/.staging-" in path and "/out/takes/" in path:
            with open(path, "wb") as handle:  # the temp file atomic_path made, half-written
                handle.write(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 4000)
            mark(marks, f"writing {path}")
            time.sleep(FOREVER)
        return real(file, data, *args, **kwargs)

    soundfile.write = write


def _stall_after_commit_decided(marks: Path) -> None:
    from gvmgen import outputs

    real = outputs._finish_commit

    def finish(out_dir, stage, plan):
        mark(marks, f"decided {stage}")
        time.sleep(FOREVER)
        return real(out_dir, stage, plan)

    outputs._finish_commit = finish


def _stall_before_cleanup(marks: Path) -> None:
    from gvmgen import outputs

    real = outputs._remove_stage

    def remove(stage):
        if (Path(stage) / outputs.COMMIT_FILE).exists():
            mark(marks, f"cleanup {stage}")
            time.sleep(FOREVER)
        return real(stage)

    outputs._remove_stage = remove


def _slow_moves(marks: Path, seconds: float) -> None:
    from gvmgen import outputs

    real = outputs._Folder.move

    def move(self, name, into, new_name, replace):
        real(self, name, into, new_name, replace)
        mark(marks, f"moved {into.path / new_name}")
        time.sleep(seconds)

    outputs._Folder.move = move


def _slow_wav_writes(marks: Path, seconds: float) -> None:
    import io

    import soundfile

    real = soundfile.write

    def write(file, data, *args, **kwargs):
        path = str(file)
        if "/.staging-" not in path or not path.endswith(".wav"):
            return real(file, data, *args, **kwargs)
        buffer = io.BytesIO()
        real(buffer, data, *args, **kwargs)
        whole = buffer.getvalue()
        mark(marks, f"wav {path}")
        with open(path, "wb") as handle:
            handle.write(whole[: len(whole) // 2])
            handle.flush()
            time.sleep(seconds)
            handle.write(whole[len(whole) // 2 :])
        return None

    soundfile.write = write


def _slow_cleanup(marks: Path, seconds: float) -> None:
    from gvmgen import outputs

    real_finish, real_remove = outputs._finish_commit, outputs._remove_stage

    def finish(out_dir, stage, plan):
        mark(marks, f"decided {stage}")
        return real_finish(out_dir, stage, plan)

    def remove(stage):
        if (Path(stage) / outputs.COMMIT_FILE).exists():
            mark(marks, f"cleanup {stage}")
            time.sleep(seconds)
        return real_remove(stage)

    outputs._finish_commit = finish
    outputs._remove_stage = remove
