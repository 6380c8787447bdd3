"""Intensity in the mix, judged by pyloudnorm: across an intensity marker the short-term loudness
steps by at least 3 LU at the marker's downbeat, while the cue, levelled as a whole, stays on
its integrated target; a picture-only engine's take gets brighter with intensity."""

from __future__ import annotations

import numpy as np
import pytest

from gvmgen.align.dynamics import brightness_tilt, intensity_levels
from gvmgen.align.loudness import integrated_lufs, normalize_loudness
from gvmgen.controls import ControlChange, Controls, CueControls

RATE = 48_000


def _music(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    rng = np.random.default_rng(3)
    tone = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 220.0, 330.0, 880.0, 3520.0)) / 5
    return np.stack([0.2 * tone + 0.02 * rng.standard_normal(len(t))] * 2).astype(np.float32)


def _short_term(audio: np.ndarray, start: float) -> float:
    return integrated_lufs(audio[:, round(start * RATE) : round((start + 3.0) * RATE)], RATE)


def test_an_intensity_marker_steps_short_term_loudness_at_its_downbeat():
    downbeats = np.arange(0.0, 16.0, 2.0)
    marker = ControlChange(7.3, "intensity", 8, "intensity 8")  # nearest downbeat: 8.0
    controls = CueControls(Controls(intensity=2), (marker,))
    shaped = intensity_levels(_music(16.0), RATE, controls, downbeats)
    levelled, measured = normalize_loudness(shaped, RATE, -16.0)
    assert measured == pytest.approx(-16.0, abs=0.1)
    before, after = _short_term(levelled, 4.8), _short_term(levelled, 8.0)
    assert after - before >= 3.0
    assert _short_term(levelled, 4.0) == pytest.approx(_short_term(levelled, 1.0), abs=0.3)


def test_no_marker_leaves_the_level_alone():
    music = _music(4.0)
    same = intensity_levels(music, RATE, CueControls(Controls(intensity=8)), np.arange(0, 4.0))
    assert same is music


def test_a_higher_intensity_brightens_a_picture_only_engines_take():
    import librosa

    music = _music(4.0)
    centroid = {}
    for intensity in (2, 8):
        tilted = brightness_tilt(
            music, RATE, CueControls(Controls(intensity=intensity)), np.zeros(0)
        )
        centroid[intensity] = np.mean(librosa.feature.spectral_centroid(y=tilted[0], sr=RATE))
    assert centroid[8] > 1.2 * centroid[2]
