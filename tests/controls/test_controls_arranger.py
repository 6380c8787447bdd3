"""The arranger honours the editor's controls, judged on its audio by librosa (never by its own
score): intensity moves onset density and brightness, a single tempo is heard, and a mood marker
changes the music from its nearest downbeat."""

from __future__ import annotations

import numpy as np
import pytest

from gvmgen.controls import ControlChange, Controls, CueControls, TempoBand
from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.engines.base import CueConditioning

RATE = 22_050  # enough for the judges; renders faster


def _cue(controls: CueControls, duration: float = 12.0) -> CueConditioning:
    times = np.arange(int(duration))
    frames = np.full((len(times), 8, 8, 3), 110, np.uint8)  # a mid-grey picture, some motion
    frames[::2] += 20
    return CueConditioning(
        duration=duration,
        frames=frames,
        frame_times=times.astype(float),
        cuts=np.array([4.0, 8.0]),
        controls=controls,
    )


def _render(controls: CueControls, seed: int = 0, duration: float = 12.0):
    engine = ArrangerEngine(sample_rate=RATE)
    audio, score = engine.generate_with_score(_cue(controls, duration), seed)
    return audio.mean(axis=0), score


def _onsets_per_second(mono: np.ndarray) -> float:
    import librosa

    onsets = librosa.onset.onset_detect(y=mono, sr=RATE, units="time")
    return len(onsets) / (len(mono) / RATE)


def _centroid(mono: np.ndarray) -> float:
    import librosa

    return float(np.mean(librosa.feature.spectral_centroid(y=mono, sr=RATE)))


@pytest.mark.parametrize("seed", [0, 1])
def test_intensity_8_is_busier_and_brighter_than_2(seed):
    low, _ = _render(CueControls(Controls(intensity=2)), seed)
    high, _ = _render(CueControls(Controls(intensity=8)), seed)
    assert _onsets_per_second(high) > 1.3 * _onsets_per_second(low)
    assert _centroid(high) > 1.15 * _centroid(low)


def test_a_single_tempo_is_the_tempo_heard():
    import librosa

    mono, _ = _render(CueControls(Controls(tempo=TempoBand(96.0, 96.0))), duration=16.0)
    _, beats = librosa.beat.beat_track(y=mono, sr=RATE, units="time")
    assert 60.0 / np.median(np.diff(beats)) == pytest.approx(96.0, abs=2.0)


@pytest.mark.parametrize(
    ("mood", "marked", "at"),
    [
        pytest.param("sombre", "driving", 6.3, id="sombre-to-driving"),
        # a busy mood: the bar before the marker's downbeat keeps its own bass and drums (a
        # lead-in written for the new mood would be heard a bar early)
        pytest.param("driving", "sombre", 6.3, id="driving-to-sombre"),
    ],
)
def test_a_mood_marker_changes_the_music_at_its_nearest_downbeat(mood, marked, at):
    marker = ControlChange(at, "mood", marked, f"mood {marked}")
    mono, score = _render(CueControls(Controls(mood=mood), (marker,)), duration=16.0)
    downbeat = float(score.downbeat_times[np.argmin(np.abs(score.downbeat_times - at))])
    # the same cue without the marker plays the same up to that downbeat (up to the mix's peak
    # gain, set over the whole cue), and not after it
    alone, _ = _render(CueControls(Controls(mood=mood)), duration=16.0)
    at = int(downbeat * RATE)
    assert _alike(alone[: at - RATE // 4], mono[: at - RATE // 4]) > 0.999
    assert _alike(alone[at + RATE // 10 : at + RATE], mono[at + RATE // 10 : at + RATE]) < 0.5
    # sombre (no drums, a pad) and driving (a kit on sixteenth hats) differ in brightness
    span = int(2.0 * RATE)
    before, after = mono[at - span : at - RATE // 20], mono[at + RATE // 20 : at + span]
    brighter = _centroid(after) / _centroid(before)
    assert brighter > 1.5 if marked == "driving" else brighter < 1 / 1.5


def _alike(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])
