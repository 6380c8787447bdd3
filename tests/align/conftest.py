"""Synthetic music with known beats, aligned once per module (tracking is not free)."""

from __future__ import annotations

import numpy as np
import pytest
from align_music import make_click_track, make_music

RATE = 44100
# Cuts at awkward offsets, at least 2 s apart, per tempo (109: a bare click track).
CASES = {
    97: (14.0, (2.37, 4.61, 7.13, 9.52, 12.08)),
    109: (10.0, (2.53, 4.91, 7.46)),
    123: (12.0, (2.21, 4.43, 6.9, 9.05)),
}
CLICK_TRACKS = {109}


@pytest.fixture(scope="session")
def music():
    """{bpm: stereo float32 [2, N] at RATE}."""
    return {
        bpm: (make_click_track if bpm in CLICK_TRACKS else make_music)(bpm, duration, RATE)
        for bpm, (duration, _) in CASES.items()
    }


@pytest.fixture(scope="session")
def aligned(music):
    """{bpm: AlignmentResult} for each case's cuts."""
    from gvmgen.align import align_to_cuts

    return {
        bpm: align_to_cuts(music[bpm], RATE, np.array(cuts), max_stretch=0.06, fps=24.0)
        for bpm, (_, cuts) in CASES.items()
    }
