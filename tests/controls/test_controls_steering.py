"""Choosing among takes by what the editor asked, on measured features (librosa), and saying
what an engine applied and what it could not."""

from __future__ import annotations

import numpy as np

from gvmgen.controls import Controls, TempoBand
from gvmgen.engines.arranger.steering import STEERED
from gvmgen.steering import rank_takes, statements, take_features

RATE = 22_050


def _clicks(bpm: float, seconds: float = 12.0, bright: bool = False) -> np.ndarray:
    """A click track at `bpm`: dull thumps, or bright ticks."""
    out = np.zeros(int(seconds * RATE), np.float32)
    t = np.arange(int(0.05 * RATE)) / RATE
    pitch = 4000.0 if bright else 150.0
    click = (np.sin(2 * np.pi * pitch * t) * np.exp(-t * 60)).astype(np.float32)
    for start in np.arange(0.0, seconds - 0.1, 60.0 / bpm):
        i = int(start * RATE)
        out[i : i + len(click)] += click
    return out[None]


def test_the_take_nearest_the_asked_tempo_is_ranked_first():
    takes = [take_features(_clicks(bpm), RATE) for bpm in (80.0, 120.0, 97.0)]
    assert abs(takes[2].tempo - 97.0) < 3
    assert rank_takes(takes, Controls(tempo=TempoBand(96.0, 96.0)))[0] == 2
    assert rank_takes(takes, Controls(tempo=TempoBand(110.0, 130.0)))[0] == 1


def test_a_mood_prefers_the_take_in_its_bands():
    dull = take_features(_clicks(66.0), RATE)
    bright = take_features(_clicks(128.0, bright=True), RATE)
    assert rank_takes([dull, bright], Controls(mood="sombre")) == [0, 1]
    assert rank_takes([dull, bright], Controls(mood="driving")) == [1, 0]


def test_no_controls_keep_the_takes_order():
    takes = [take_features(_clicks(bpm), RATE) for bpm in (80.0, 120.0)]
    assert rank_takes(takes, Controls()) == [0, 1]


def test_a_picture_only_engine_says_what_it_could_not_do():
    asked = Controls(mood="tense", intensity=8, tempo=TempoBand(96.0, 96.0))
    applied, not_applied = statements(asked, 0, (), takes=3)
    assert any(s.startswith("mood tense: the take placed is the one nearest") for s in applied)
    assert any("cannot be told a mood" in s for s in not_applied)
    assert any(s.startswith("intensity 8: the mix only") for s in applied)
    assert any(s.startswith("tempo 96: the model's own tempo is not steered") for s in not_applied)
    applied, not_applied = statements(asked, 0, STEERED, takes=1)
    assert not_applied == [] and any(s.startswith("mood tense: phrygian") for s in applied)
