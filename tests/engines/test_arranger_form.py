"""The arranger's tempo map: downbeats on anchor cuts for any cut list, one piece of music."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gvmgen.engines.arranger.form import MAX_TEMPO_STEP, anchor_times, plan_grid, plan_sections

TEMPO_RANGE = (84.0, 116.0)


@settings(max_examples=30, deadline=None)
@given(
    gaps=st.lists(st.floats(0.2, 9.0), min_size=0, max_size=25),
    tail=st.floats(0.1, 6.0),
)
def test_every_anchor_is_a_downbeat_and_beats_run_forward(gaps, tail):
    cuts = np.cumsum(gaps)
    duration = float(cuts[-1] + tail) if len(cuts) else tail
    grid = plan_grid(duration, cuts, TEMPO_RANGE)
    downbeats = grid.beats[grid.bar_starts[:-1]]
    assert np.all(np.diff(grid.beats) > 0)
    assert grid.beats[0] == 0.0 and grid.beats[-1] >= duration
    for anchor in grid.anchors:
        assert np.min(np.abs(downbeats - anchor)) < 1e-9
    assert set(np.diff(grid.bar_starts).tolist()) <= {1, 2, 3, 4}
    bpm = 60.0 / np.diff(grid.beats)
    assert np.all((bpm > 0.6 * TEMPO_RANGE[0]) & (bpm < 1.5 * TEMPO_RANGE[1]))


def test_anchors_are_cuts_far_enough_from_the_last_anchor():
    anchors = anchor_times(10.0, np.array([0.5, 1.6, 2.2, 3.0, 8.9]), min_gap=1.5)
    assert anchors.tolist() == [0.0, 1.6, 8.9]  # the end, 1.1 s after 8.9, is not one
    assert anchor_times(10.0, np.array([8.0]), min_gap=1.5).tolist() == [0.0, 8.0, 10.0]


def test_cuts_on_a_steady_pulse_get_that_tempo_in_whole_bars():
    grid = plan_grid(16.0, np.arange(2.0, 16.0, 2.0), (100.0, 140.0))
    assert grid.tempo == pytest.approx(120.0)
    assert np.all(np.diff(grid.bar_starts) == 4)
    assert np.allclose(np.diff(grid.beats), 0.5)


def test_irregular_cuts_bend_the_tempo_gently():
    rng = np.random.default_rng(0)
    cuts = np.cumsum(rng.uniform(2.5, 6.0, size=30))
    grid = plan_grid(float(cuts[-1] + 2.0), cuts, TEMPO_RANGE)
    periods = np.diff(grid.beats)
    steps = np.abs(np.diff(np.log(periods)))
    assert np.mean(steps <= MAX_TEMPO_STEP + 1e-9) > 0.95
    assert np.max(np.abs(np.log(periods / (60.0 / grid.tempo)))) < np.log(1.2)


def test_sections_open_at_scene_changes_and_long_stretches_develop():
    grid = plan_grid(64.0, np.array([16.0, 40.0]), (120.0, 120.0))
    starts = plan_sections(grid, 64.0, scene_changes=np.array([16.0]))
    bars = [bar for bar, _ in starts]
    assert (8, True) in starts  # 16 s at 120 BPM = bar 8, a scene change
    assert all(b - a <= 16 for a, b in zip(bars, [*bars[1:], 32], strict=True))
    assert len(bars) >= 3  # the 48 s after the change is not one long section


def test_a_close_cut_goes_on_a_beat_when_a_small_bend_reaches_it():
    grid = plan_grid(12.0, np.array([4.0, 5.05, 8.0]), (120.0, 120.0))
    assert np.min(np.abs(grid.beats - 5.05)) < 1e-9  # 1.05 s after 4.0: on beat 2, 5 % bend
    assert np.min(np.abs(grid.beats[grid.bar_starts[:-1]] - 8.0)) < 1e-9  # anchors unchanged
    far = plan_grid(12.0, np.array([4.0, 5.25, 8.0]), (120.0, 120.0))
    assert np.min(np.abs(far.beats - 5.25)) > 0.2  # half a beat off: bending 25 % is too much
    assert np.allclose(np.diff(far.beats[:24]), 0.5)
