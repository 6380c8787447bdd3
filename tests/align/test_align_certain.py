"""The report says how sure each hit-or-miss verdict is (issue 23): a beat near the ±50 ms edge
leaves it open, and report.png must not draw a confident circle there."""

from __future__ import annotations

from align_music import beat_times, make_music

from gvmgen.align import measure_alignment

RATE = 22050


def test_a_verdict_near_the_tolerance_edge_is_uncertain_one_far_from_it_is_certain():
    music = make_music(100.0, 8.0, RATE)
    kick = beat_times(100.0, 8.0)[6]  # a kick start, 0.6 s a beat
    cuts = [kick, kick + 0.048, kick + 0.200, beat_times(100.0, 8.0)[9] + 0.005]
    rows = measure_alignment(music, RATE, cuts).per_cut
    assert [rows[i]["hit"] for i in (0, 2, 3)] == [True, False, True]
    # 48 ms after a kick: hit or missed by a few ms (the tracker reads kicks ~4 ms early)
    assert [r["certain"] for r in rows] == [True, False, True, True]
