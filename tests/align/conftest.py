"""Synthetic music with known beats, aligned once per module (tracking is not free)."""

from __future__ import annotations

import numpy as np
import pytest
from align_music import make_click_track, make_music

RATE = 44100
# Cuts at awkward offsets, 3-5 beats apart with 2-4 % of stretch between them (reachable with
# whole-beat splices: a jump of whole beats cannot mend a fractional gap), per tempo (109: a
# bare click track).
CASES = {
    97: (14.0, (2.37, 4.94, 7.94, 10.32, 12.23)),
    109: (10.0, (2.53, 4.82, 6.93, 8.62)),
    123: (12.0, (2.21, 4.75, 6.64, 9.15)),
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
