"""The output folder: takes kept on disk, and staging so a failed run leaves nothing behind.

Layout of `--out DIR`:

    DIR/score.otio              the input timeline with the "GVMGen Score" track (latest take)
    DIR/report.json             the ScoreResult of the latest run (lists every take)
    DIR/report.png              the picture an editor reads at a glance
    DIR/takes/take-NN/cue-MM.wav  48 kHz 24-bit WAVs, one folder per take, never overwritten
    DIR/preview.mp4             the video with the music muxed in (bare videos, on request)

Every file of a run is written under `DIR/.staging-<job>/` first and moved into place only when
the whole run succeeded.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gvmgen.errors import InputError

REPORT_NAME = "report.json"


@dataclass(frozen=True)
class PreviousScore:
    """What an earlier run left in DIR: which input and range, and the takes on disk."""

    input: str
    range_in: str
    range_out: str
    takes: list[dict]

    @property
    def next_take(self) -> int:
        return max((t["take"] for t in self.takes), default=0) + 1

    @property
    def seeds(self) -> set[int]:
        return {t["seed"] for t in self.takes}


def read_previous(out_dir: Path) -> PreviousScore | None:
    """The earlier score in `out_dir`, or None if there is none (or it is unreadable)."""
    report = out_dir / REPORT_NAME
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return PreviousScore(data["input"], data["range_in"], data["range_out"], data["takes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def take_dir_name(take: int) -> str:
    return f"take-{take:02d}"


def cue_wav_name(cue_index: int) -> str:
    return f"cue-{cue_index + 1:02d}.wav"


@contextmanager
def staging(out_dir: Path, job_id: str) -> Iterator[Path]:
    """A private folder inside `out_dir` for this run; its files move in only on success."""
    created = not out_dir.exists()
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out must be a folder, but {str(out_dir)!r} is a file")
    stage = out_dir / f".staging-{job_id}"
    stage.mkdir(parents=True, exist_ok=False)
    try:
        yield stage
        _move_into_place(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and out_dir.exists() and not any(out_dir.iterdir()):
            out_dir.rmdir()


def _move_into_place(stage: Path, out_dir: Path) -> None:
    for path in sorted(stage.rglob("*")):
        if path.is_file():
            target = out_dir / path.relative_to(stage)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
