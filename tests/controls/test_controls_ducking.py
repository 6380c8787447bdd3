"""Dialogue ducking on the committed speech fixture: speech is found where it is spoken, and the
music dips under it by the asked depth without pumping. Judged on the delivered audio: the
ducked copy against the clean one, frame by frame."""

from __future__ import annotations

import numpy as np
import pytest
from controls_fixtures import SPEECH_REGIONS, read_speech

from gvmgen.align.ducking import ATTACK, duck
from gvmgen.media.dialogue import find_speech

RATE = 48_000
FRAME = 0.01  # s: the judge's gain is read per 10 ms


@pytest.fixture(scope="module")
def speech():
    return read_speech()


def _music(seconds: float, seed: int = 0) -> np.ndarray:
    """A steady bed: chords of sines plus a little noise, so the gain reads the same anywhere."""
    t = np.arange(round(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0)) / 4
    bed = 0.3 * tone + 0.02 * rng.standard_normal(len(t))
    return np.stack([bed, bed]).astype(np.float32)


def _gain_db(ducked: np.ndarray, clean: np.ndarray) -> np.ndarray:
    n = round(FRAME * RATE)
    frames = ducked.shape[1] // n

    def rms(x):
        return np.sqrt((x[0, : frames * n].reshape(frames, n) ** 2).mean(axis=1) + 1e-20)

    return 20 * np.log10(rms(ducked) / rms(clean))


def test_speech_is_found_where_it_is_spoken(speech):
    audio, rate = speech
    found = [r.as_tuple() for r in find_speech(audio, rate)]
    assert found, "no speech found in the speech fixture"
    for start, end in SPEECH_REGIONS:  # each spoken line is covered, nearly to its edges
        covered = sum(max(0.0, min(e, end) - max(s, start)) for s, e in found)
        assert covered >= 0.9 * (end - start)
    spoken = sum(e - s for s, e in SPEECH_REGIONS)
    marked = sum(e - s for s, e in found)
    assert marked <= spoken + 1.0  # the silences around and between are not speech


def test_silence_and_a_steady_tone_hold_no_speech():
    assert find_speech(np.zeros((2, RATE * 3), np.float32), RATE) == []
    assert find_speech(_music(6.0), RATE) == []


@pytest.mark.parametrize("depth", [-10.0, -6.0])
def test_music_dips_by_the_depth_under_speech_and_never_pumps(speech, depth):
    audio, rate = speech
    regions = [r.as_tuple() for r in find_speech(audio, rate)]
    clean = _music(audio.shape[1] / rate + 1.0)
    ducked = duck(clean, RATE, regions, depth)
    gain = _gain_db(ducked, clean)
    times = np.arange(len(gain)) * FRAME
    under = np.zeros(len(gain), bool)
    for start, end in SPEECH_REGIONS:
        under |= (times >= start) & (times < end)
    far = np.ones(len(gain), bool)  # well away from speech: a second either side
    for start, end in SPEECH_REGIONS:
        far &= (times < start - 1.0) | (times > end + 1.0)
    assert np.median(gain[under]) == pytest.approx(depth, abs=0.5)
    assert np.abs(gain[far]).max() < 0.2
    # no gain step faster than the attack: |depth| over ATTACK is the steepest allowed slope
    steepest = abs(depth) * FRAME / ATTACK
    assert np.abs(np.diff(gain)).max() <= steepest * 1.15 + 0.1


def test_short_pauses_between_phrases_stay_down():
    clean = _music(6.0)
    ducked = duck(clean, RATE, [(1.0, 2.0), (2.6, 3.5)], -10.0)
    gain = _gain_db(ducked, clean)
    between = gain[round(2.0 / FRAME) : round(2.6 / FRAME)]
    assert between.max() < -9.5  # 0.6 s between two lines: no rise and fall in between


def test_no_speech_or_no_depth_leaves_the_music_as_it_was():
    clean = _music(2.0)
    assert np.array_equal(duck(clean, RATE, [], -10.0), clean)
    assert np.array_equal(duck(clean, RATE, [(0.5, 1.0)], 0.0), clean)
