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


def test_a_long_gap_is_one_silent_cue_with_boundaries_at_its_edges():
    # 12 minutes at 25 fps, batch windows of 60 s, an 8.5-minute gap from 60 s to 570 s
    total, gap = 18000, (1500, 14250)
    cuts = [CutMark(f) for f in range(400, total, 700)]
    cues = plan_cues(total, RATE, cuts, max_seconds=60, holes=[gap])
    _cover_exactly(cues, total)
    silent = [(c.start, c.end) for c in cues if c.silent]
    assert silent == [gap]
    assert all(c.frames <= 60 * RATE for c in cues if not c.silent)
    starts = {c.start for c in cues}
    assert {1500, 14250} <= starts
    assert not any(1500 < s < 14250 for s in starts)  # no 60 s grid through the gap


def test_a_marker_keeps_its_name_when_a_hole_starts_its_span():
    cues = plan_cues(1000, RATE, [], [(0, "Cue Intro")], holes=[(0, 100)])
    assert [(c.name, c.start, c.silent) for c in cues] == [
        ("cue 1", 0, True),
        ("Cue Intro", 100, False),
    ]


def test_picture_holes_are_gaps_and_black_of_at_least_two_seconds():
    from gvmgen.cues import black_runs, picture_holes

    segments = [(0, 100), (100, 300), (340, 500), (600, 800)]  # gaps 300-340 (1.6 s), 500-600
    black = black_runs([50, 10, 10, 50] + [5] * 100, [0, 1, 2, 3, *range(700, 800)])
    assert black == [(1, 3), (700, 800)]  # the first run is too short to count
    assert picture_holes(segments, 900, RATE, black) == [(500, 600), (700, 900)]


def test_analysis_holes_find_a_gap_and_black_in_a_real_timeline(tmp_path):
    import opentimelineio as otio

    from gvmgen.analysis import analyze_edit
    from gvmgen.cues import analysis_holes
    from gvmgen.media.synth import make_test_clip
    from gvmgen.timeline import read_edit

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    picture = make_test_clip(tmp_path / "p.mp4", duration=4.0, size=(32, 32))
    black = make_test_clip(tmp_path / "b.mp4", duration=4.0, size=(32, 32), brightness=0.0)
    track = otio.schema.Track()
    for media in (picture, None, black, picture):
        if media is None:
            track.append(otio.schema.Gap(duration=rt(75, RATE)))
            continue
        ref = otio.schema.ExternalReference(
            str(media), available_range=tr(rt(0, RATE), rt(100, RATE))
        )
        track.append(
            otio.schema.Clip(media_reference=ref, source_range=tr(rt(0, RATE), rt(75, RATE)))
        )
    timeline = otio.schema.Timeline(global_start_time=rt(0, RATE))
    timeline.tracks.append(track)
    analysis = analyze_edit(read_edit(timeline), tmp_path / "t.otio")
    assert analysis_holes(analysis) == [(75, 225)]  # the gap, then the black clip, merged
