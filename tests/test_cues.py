"""The cue plan: markers win, cues split at the strongest scene change, never over the window."""

import itertools

import pytest

from gvmgen.cues import CutMark, plan_cues

RATE = 25.0


def _cover_exactly(cues, total):
    assert cues[0].start == 0 and cues[-1].end == total
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))


def test_range_without_window_is_one_cue():
    cues = plan_cues(1500, RATE, [CutMark(300), CutMark(900)])
    assert [(c.start, c.end, c.name) for c in cues] == [(0, 1500, "cue 1")]


def test_split_at_strongest_change_and_never_over_window():
    cuts = [CutMark(100, 0.3), CutMark(400, 0.9), CutMark(550, 0.4), CutMark(1200, 1.0)]
    cues = plan_cues(1800, RATE, cuts, max_seconds=30)
    _cover_exactly(cues, 1800)
    assert all(c.frames <= 30 * RATE for c in cues)
    starts = [c.start for c in cues[1:]]
    assert 1200 in starts  # the strongest change
    assert set(starts) <= {c.frame for c in cuts}  # every boundary on a cut
    assert 100 not in starts  # weak, and would make a 4 s cue


def test_batch_of_many_edit_points_makes_few_long_cues():
    cuts = [CutMark(f) for f in range(140, 15000, 187)]  # 80 edit points, 7.5 s apart
    cues = plan_cues(15000, RATE, cuts, max_seconds=60)
    _cover_exactly(cues, 15000)
    assert all(c.frames <= 1500 for c in cues)
    assert len(cues) <= 12  # 10 minutes in about minute-long cues, not 80 stings
    assert {c.start for c in cues[1:]} <= {c.frame for c in cuts}


def test_no_cut_in_window_splits_at_window_length():
    cues = plan_cues(2000, RATE, [], max_seconds=30)
    _cover_exactly(cues, 2000)
    assert max(c.frames for c in cues) == 750


def test_cue_markers_set_boundaries_and_names():
    cues = plan_cues(3000, RATE, [CutMark(500)], [(1000, "Cue B"), (2200, "cue C")])
    assert [(c.start, c.end, c.name) for c in cues] == [
        (0, 1000, "cue 1"),
        (1000, 2200, "Cue B"),
        (2200, 3000, "cue C"),
    ]


def test_markers_outside_range_are_ignored_and_window_still_applies():
    cues = plan_cues(2000, RATE, [CutMark(600)], [(0, "Cue A"), (5000, "late")], max_seconds=30)
    _cover_exactly(cues, 2000)
    assert cues[0].name == "Cue A (1)" and all(c.frames <= 750 for c in cues)


@pytest.mark.parametrize("total", [0, -5])
def test_empty_range_is_refused(total):
    with pytest.raises(ValueError, match="nothing to score"):
        plan_cues(total, RATE, [])
