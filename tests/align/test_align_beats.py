"""Beat and downbeat tracking on music whose beats are known."""

from __future__ import annotations

import numpy as np
import pytest
from align_music import beat_times
from conftest import CASES, RATE

from gvmgen.align import track_beats
from gvmgen.align.metrics import cut_offsets

TEMPI = sorted(CASES)


@pytest.fixture(scope="module")
def grids(music):
    return {bpm: track_beats(music[bpm], RATE) for bpm in TEMPI}


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_every_beat_found_with_a_steady_lag(grids, bpm):
    grid, truth = grids[bpm], beat_times(bpm, CASES[bpm][0])
    assert grid.tempo == pytest.approx(bpm, rel=0.01)
    offsets = cut_offsets(grid.times, truth[1:-1])  # the edges may be trimmed
    assert np.all(np.abs(offsets) < 0.035)  # onsets are read late, but by the same amount
    assert np.ptp(offsets) < 0.008
    assert grid.confidence > 0.5


def test_downbeats_are_the_accented_bar_starts(grids):
    grid, truth = grids[97], beat_times(97, CASES[97][0])
    bar_starts = truth[::4]
    on_bar = np.abs(cut_offsets(bar_starts, grid.times[grid.downbeats])) < 0.05
    assert on_bar.all() and grid.downbeats.sum() >= len(bar_starts) - 1


def test_silence_and_noise_have_no_confident_beat():
    assert len(track_beats(np.zeros((2, 3 * RATE), np.float32), RATE).times) == 0
    noise = np.random.default_rng(0).standard_normal((1, 3 * RATE)).astype(np.float32) * 0.1
    assert track_beats(noise, RATE).confidence < 0.5


def test_numpy_beat_programme_matches_librosa(music):
    """The tracker's DP is librosa's, written out to skip its numba compile: same frames."""
    import librosa

    from gvmgen.align.beats import ANALYSIS_RATE, HOP, TIGHTNESS, _analysis_signal, dp_beat_frames

    for audio in music.values():
        env = librosa.onset.onset_strength(
            y=_analysis_signal(audio, RATE), sr=ANALYSIS_RATE, hop_length=HOP
        )
        bpm, expected = librosa.beat.beat_track(
            onset_envelope=env, sr=ANALYSIS_RATE, hop_length=HOP, tightness=TIGHTNESS, trim=False
        )
        found = dp_beat_frames(env, ANALYSIS_RATE / HOP, float(np.atleast_1d(bpm)[0]), TIGHTNESS)
        assert np.array_equal(found, expected)


def test_slow_tempo_on_a_short_cue_keeps_beats_inside_it():
    """Seen on a 2.4 s cue: tempo read as 35 BPM, so the beat-wide smoothing window (295
    frames) was longer than the onset envelope (207 frames) and the tracker indexed past it."""
    from gvmgen.align.beats import ANALYSIS_RATE, HOP, TIGHTNESS, dp_beat_frames

    envelope = np.random.default_rng(3).random(207).astype(np.float32)
    frames = dp_beat_frames(envelope, ANALYSIS_RATE / HOP, 35.15625, TIGHTNESS)
    assert len(frames) and frames.min() >= 0 and frames.max() < len(envelope)
