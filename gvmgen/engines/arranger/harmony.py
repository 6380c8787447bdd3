"""Harmony: scales, chord progressions per mode, and voice-led chord voicings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.engines.arranger.mood import MODES

# Progressions as 0-based scale degrees, one chord a bar. Each mode's list avoids the degree
# whose triad is diminished in that mode, and leans on the mode's characteristic chord
# (lydian II, mixolydian bVII, dorian IV, phrygian bII).
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "lydian": ((0, 1, 5, 4), (0, 1, 0, 6), (0, 2, 5, 1), (5, 1, 0, 4)),
    "ionian": ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4), (0, 3, 1, 4)),
    "mixolydian": ((0, 6, 3, 0), (0, 4, 6, 3), (0, 6, 5, 3), (0, 3, 6, 3)),
    "dorian": ((0, 3, 0, 3), (0, 2, 6, 3), (0, 6, 3, 0), (0, 4, 6, 3)),
    "aeolian": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6), (0, 5, 3, 4)),
    "phrygian": ((0, 1, 0, 6), (0, 1, 2, 1), (0, 5, 1, 0), (0, 3, 1, 0)),
}
VOICING_LOW, VOICING_HIGH = 50, 77  # D3..F5: where chord voicings live
BASS_LOW = 33  # A1: the bass root sits in [BASS_LOW, BASS_LOW + 12)
_FIRST_VOICING = np.array([57, 60, 64, 67])  # a neutral start for voice leading


@dataclass(frozen=True)
class Chord:
    """One bar's harmony.

    Attributes:
        degree: scale degree of the root, 0-based.
        pitch_classes: chord tones as pitch classes, root first (3 or 4 of them).
        bass: MIDI pitch of the root in the bass register.
        voicing: MIDI pitches of the upper voices, ascending `[4]`.
    """

    degree: int
    pitch_classes: tuple[int, ...]
    bass: int
    voicing: tuple[int, ...]


def scale_pitch(tonic: int, mode: str, index: np.ndarray | int, base: int = 60) -> np.ndarray:
    """MIDI pitch of scale step `index` (0 = the tonic at or above `base - 6`)."""
    steps = np.asarray(MODES[mode])
    index = np.asarray(index)
    root = base - 6 + (tonic - (base - 6)) % 12
    return root + 12 * (index // 7) + steps[index % 7]


def chord_tones(tonic: int, mode: str, degree: int, seventh: bool) -> tuple[int, ...]:
    """Pitch classes of the diatonic triad (or seventh chord) on `degree`, root first."""
    steps = MODES[mode]
    stack = (0, 2, 4, 6) if seventh else (0, 2, 4)
    return tuple((tonic + steps[(degree + s) % 7]) % 12 for s in stack)


def voice_chords(
    tonic: int, mode_per_bar: list[str], degree_per_bar: list[int], seventh_per_bar: list[bool]
) -> list[Chord]:
    """Chords for consecutive bars, each voicing moving as little as possible from the last."""
    chords = []
    previous = _FIRST_VOICING
    for mode, degree, seventh in zip(mode_per_bar, degree_per_bar, seventh_per_bar, strict=True):
        tones = chord_tones(tonic, mode, degree, seventh)
        voicing = _nearest_voicing(tones, previous)
        bass = BASS_LOW + (tones[0] - BASS_LOW) % 12
        chords.append(Chord(degree, tones, bass, tuple(int(p) for p in voicing)))
        previous = voicing
    return chords


def _nearest_voicing(tones: tuple[int, ...], previous: np.ndarray) -> np.ndarray:
    """Four-voice close/open voicing of `tones` nearest (sum of moves) to `previous`."""
    four = tones if len(tones) == 4 else (*tones, tones[0])  # triads double the root
    best, best_cost = None, np.inf
    for rotation in range(len(four)):
        order = four[rotation:] + four[:rotation]
        for low in range(VOICING_LOW, VOICING_LOW + 12):
            if low % 12 != order[0]:
                continue
            voicing = _stack_upwards(low, order)
            if voicing[-1] > VOICING_HIGH:
                continue
            cost = np.abs(voicing - previous).sum()
            if cost < best_cost:
                best, best_cost = voicing, cost
    return best if best is not None else _stack_upwards(VOICING_LOW + (four[0] - 50) % 12, four)


def _stack_upwards(low: int, order: tuple[int, ...]) -> np.ndarray:
    """Pitches of `order` (pitch classes) stacked upwards from `low`, each above the last."""
    pitches = [low]
    for pc in order[1:]:
        pitches.append(pitches[-1] + 1 + (pc - pitches[-1] - 1) % 12)
    return np.asarray(pitches)
