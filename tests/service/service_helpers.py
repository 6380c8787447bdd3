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
