"""Cue joins (equal power, no gap, no click), loudness and true peak, the click detector."""

from __future__ import annotations

import numpy as np
import pytest
from align_music import make_music
from conftest import RATE

from gvmgen.align import (
    crossfade_join,
    detect_clicks,
    integrated_lufs,
    join_cues,
    normalize_loudness,
    true_peak_dbtp,
)
from gvmgen.errors import InputError


def tone(freq: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :].repeat(2, 0)


def short_rms(audio: np.ndarray, window: float = 0.01) -> np.ndarray:
    n = int(window * RATE)
    frames = audio[0, : audio.shape[1] // n * n].reshape(-1, n)
    return np.sqrt((frames**2).mean(axis=1))


def test_click_detector_finds_a_discontinuity_and_ignores_music():
    music = make_music(110, 4.0, RATE)
    assert detect_clicks(music, RATE) == 0
    broken = music.copy()
    broken[:, RATE:] = np.roll(broken[:, RATE:], 300, axis=1)  # a hard jump mid-note
    broken[:, 2 * RATE] += 0.3  # and a one-sample tick
    assert detect_clicks(broken, RATE) >= 2


def test_crossfade_join_is_equal_power_on_unrelated_material():
    rng = np.random.default_rng(0)
    a = (0.2 * rng.standard_normal((2, RATE))).astype(np.float32)
    b = (0.2 * rng.standard_normal((2, RATE))).astype(np.float32)
    joined = crossfade_join(a, b, RATE, 0.5)
    assert joined.shape == (2, int(1.5 * RATE))
    level = short_rms(joined, 0.05)
    assert np.all(np.abs(20 * np.log10(level / 0.2)) < 1.5)  # no dip, no bump


def test_crossfade_join_rejects_an_overlap_longer_than_a_cue():
    with pytest.raises(InputError):
        crossfade_join(tone(220, 0.2), tone(330, 1.0), RATE, 0.5)


def test_join_cues_has_no_gap_no_click_and_exact_length():
    a, b, c = tone(220, 3.6), tone(330, 3.6), tone(262, 3.0)
    track = join_cues([a, b, c], [0.0, 3.0, 6.0], RATE, 9.0, fade=0.5)
    assert track.shape == (2, 9 * RATE)
    level = short_rms(track)[:-20]  # the last 0.2 s fade out by design
    assert level.min() > 0.5 * 0.3 / np.sqrt(2)  # never a hole where cues meet
    assert detect_clicks(track, RATE) == 0


def test_join_cues_butting_cues_do_not_click():
    track = join_cues([tone(220, 2.0), tone(330, 2.0)], [0.0, 2.0], RATE, 4.0)
    assert track.shape == (2, 4 * RATE)
    assert detect_clicks(track, RATE) == 0


@pytest.mark.parametrize("gain_db", [-20.0, 6.0], ids=["quiet", "loud"])
def test_loudness_lands_on_target_with_true_peak_under_ceiling(gain_db):
    music = make_music(100, 6.0, RATE) * np.float32(10 ** (gain_db / 20))
    out, measured = normalize_loudness(music, RATE, target_lufs=-16.0, true_peak_dbtp=-1.0)
    assert abs(measured + 16.0) <= 0.5
    assert abs(integrated_lufs(out, RATE) + 16.0) <= 0.5  # measured again, independently
    assert true_peak_dbtp(out, RATE) <= -1.0 + 1e-3
    assert _peak_16x_dbtp(out) <= -0.97  # a finer oversampling agrees


def _peak_16x_dbtp(audio: np.ndarray) -> float:
    from scipy.signal import resample_poly

    return 20 * np.log10(np.abs(resample_poly(audio.astype(np.float64), 16, 1, axis=1)).max())


def test_silence_is_left_alone():
    silence = np.zeros((2, RATE), dtype=np.float32)
    out, measured = normalize_loudness(silence, RATE)
    assert measured == float("-inf") and not out.any()
