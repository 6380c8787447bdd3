"""Helpers for the service-core tests: a counting engine and file snapshots."""

from __future__ import annotations

import hashlib
from pathlib import Path

from gvmgen.engines.arranger.engine import ArrangerEngine


class CountingArranger(ArrangerEngine):
    """The arranger, counting the cues it is asked for (seeds, in call order)."""

    def __init__(self):
        super().__init__()
        self.seeds: list[int] = []

    def generate_with_beats(self, cue, seed, progress=None, cancel=None):
        self.seeds.append(seed)
        return super().generate_with_beats(cue, seed, progress, cancel)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) → sha256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def same_delivered_wav(a, b) -> bool:
    """Two delivered WAVs hold the same music and say the same about it: identical samples and
    the same bext chunk, but for what names the run (job id, date and time of making)."""
    import soundfile as sf
    from wavinfo import WavInfoReader

    audio_a, rate_a = sf.read(str(a), dtype="int32")
    audio_b, rate_b = sf.read(str(b), dtype="int32")
    if rate_a != rate_b or audio_a.shape != audio_b.shape or (audio_a != audio_b).any():
        return False
    run = ("originator_ref", "originator_date", "originator_time")
    chunks = [WavInfoReader(str(p)).bext for p in (a, b)]
    fields = [{k: v for k, v in vars(c).items() if k not in run} for c in chunks]
    return fields[0] == fields[1]
