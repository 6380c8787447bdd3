"""The beat a listener taps, kept through the warp: judged on the OUTPUT audio by where its
kicks actually start (`kick_attacks`, a low-band reading independent of the product's tracker).

The music is double-tempo prone: hi-hats on every half beat, as loud as the kick, so a tracker
can take the hats' pulse (2× the kick) for the beat; half of its "beats" would then be off-beats.
"""

from __future__ import annotations

import numpy as np
import pytest
from align_music import beat_times, kick_attacks, make_busy_hats_music
from conftest import RATE

from gvmgen.align import align_to_cuts, track_beats
from gvmgen.align.metrics import cut_offsets

BPM, DURATION = 90.0, 12.0
PERIOD = 60.0 / BPM
# 3-4 beats apart with 3-4 % of stretch: whole-beat splices reach every one
WHOLE_BEAT_CUTS = (2.4, 5.147, 7.087, 9.86)
# 4.5 and 3.5 beats apart: only a phase-moving (1.5-beat) splice reaches them
HALF_BEAT_CUTS = (2.4, 5.4, 7.733)


@pytest.fixture(scope="module")
def busy():
    return make_busy_hats_music(BPM, DURATION, RATE)


def test_kick_reading_finds_the_known_kicks(busy):
    """The independent judge itself: every known kick start found, within 3 ms."""
    truth = beat_times(BPM, DURATION)
    found = kick_attacks(busy, RATE)
    assert len(found) == len(truth)
    assert np.all(np.abs(cut_offsets(found, truth)) < 0.003)


def test_tracker_taps_the_kick_not_the_hats_at_its_attack(busy):
    grid = track_beats(busy, RATE)
    assert grid.tempo == pytest.approx(BPM, rel=0.02)
    truth = beat_times(BPM, DURATION)[1:-1]
    offsets = cut_offsets(grid.times, truth)
    assert np.all(np.abs(offsets) < 0.012), np.round(offsets * 1000, 1)  # attacks, not peaks


def _intervals_in_beats(attacks: np.ndarray) -> np.ndarray:
    return np.diff(attacks) / PERIOD


@pytest.fixture(scope="module")
def whole(busy):
    return align_to_cuts(busy, RATE, np.array(WHOLE_BEAT_CUTS), fps=24.0)


def test_every_cut_gets_a_kick_attack_in_the_output(whole, busy):
    kicks = kick_attacks(whole.audio, RATE)
    offsets = cut_offsets(kicks, np.array(WHOLE_BEAT_CUTS))
    assert np.all(np.abs(offsets) <= 0.015), np.round(offsets * 1000, 1)
    assert abs(np.median(offsets)) <= 0.010  # the attack is on the cut, not 25 ms early
    assert whole.audio.shape == busy.shape and whole.metrics.clicks == 0


def test_output_keeps_the_metre_everywhere(whole):
    """Whole-beat splices and ≤ 6 % stretch: every kick follows the last by one beat ± 7 %."""
    steps = _intervals_in_beats(kick_attacks(whole.audio, RATE))
    assert np.all(np.abs(steps - 1.0) <= 0.07), np.round(steps, 3)
    assert whole.metrics.max_stretch <= 0.06 + 1e-9


def test_a_phase_moving_splice_settles_two_beats_before_its_cut(busy):
    result = align_to_cuts(busy, RATE, np.array(HALF_BEAT_CUTS), fps=24.0, allow_half_beats=True)
    assert any(abs(s.beats - round(s.beats)) > 0.25 for s in result.plan.splices)  # exercised
    kicks = kick_attacks(result.audio, RATE)
    offsets = cut_offsets(kicks, np.array(HALF_BEAT_CUTS))
    hit = np.abs(offsets) <= 0.015
    assert hit.sum() >= 2, np.round(offsets * 1000, 1)
    for cut in np.array(HALF_BEAT_CUTS)[hit]:
        at = int(np.argmin(np.abs(kicks - cut)))
        before = _intervals_in_beats(kicks[max(at - 2, 0) : at + 1])
        assert len(before) == 2 and np.all(np.abs(before - 1.0) <= 0.07), np.round(before, 3)


def test_whole_beat_default_reports_the_fractional_cuts_instead_of_forcing_them(busy):
    result = align_to_cuts(busy, RATE, np.array(HALF_BEAT_CUTS), fps=24.0)
    kicks = kick_attacks(result.audio, RATE)
    steps = _intervals_in_beats(kicks)
    assert np.all(np.abs(steps - 1.0) <= 0.07), np.round(steps, 3)  # metre never broken
    missed = [row for row in result.metrics.per_cut if not row["hit"]]
    assert missed and all(row.get("reason") for row in missed)
    assert {u.time for u in result.plan.unhit} == {row["time"] for row in missed}
    assert all("reason" not in row for row in result.metrics.per_cut if row["hit"])


def test_a_missed_cut_reports_where_its_beat_is_in_the_delivered_music(busy):
    """The editor's nudge: for a cut the metre cannot reach, the report's offset and beat phase
    are where the delivered audio's kicks put its nearest beat."""
    result = align_to_cuts(busy, RATE, np.array(HALF_BEAT_CUTS), fps=24.0)
    kicks = kick_attacks(result.audio, RATE)
    missed = [row for row in result.metrics.per_cut if not row["hit"]]
    assert missed
    for row in missed:
        heard = float(cut_offsets(kicks, np.array([row["time"]]))[0])
        phase = min(abs(heard) / PERIOD, 0.5)
        assert abs(abs(row["offset_ms"]) / 1000 - abs(heard)) <= 0.015, (row, heard)
        if phase < 0.45:  # on the off-beat itself the beats either side are equally near
            assert np.sign(row["offset_ms"]) == np.sign(heard), (row, heard)
        assert abs(row["beat_phase"] - phase) <= 0.03, (row, heard)
    hit = [row for row in result.metrics.per_cut if row["hit"]]
    assert all(row["beat_phase"] <= 0.1 for row in hit)
