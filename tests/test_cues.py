"""The cue plan: the editor's markers and the rests set the cues, nothing else splits them, and
no cue is a sliver."""

import itertools

import numpy as np
import pytest

from gvmgen.cues import plan_cues

RATE = 25.0


def _cover_exactly(cues, total):
    assert cues[0].start == 0 and cues[-1].end == total
    assert all(a.end == b.start for a, b in itertools.pairwise(cues))


def test_a_section_is_one_cue_however_long_and_many_its_cuts():
    """No hidden split: 10 minutes without markers or rests is one piece of music."""
    plan = plan_cues(15000, RATE)
    assert [(c.start, c.end, c.silent) for c in plan.cues] == [(0, 15000, False)]
    assert plan.warnings == ()


def test_cue_markers_set_boundaries_and_names():
    cues = plan_cues(3000, RATE, [(1000, "Cue B"), (2200, "cue C")]).cues
    assert [(c.name, c.start, c.end) for c in cues] == [
        ("cue 1", 0, 1000),
        ("Cue B", 1000, 2200),
        ("cue C", 2200, 3000),
    ]


def test_markers_outside_range_are_ignored():
    cues = plan_cues(2000, RATE, [(0, "Cue A"), (5000, "late")]).cues
    assert [(c.name, c.start, c.end) for c in cues] == [("Cue A", 0, 2000)]


@pytest.mark.parametrize("total", [0, -5])
def test_empty_range_is_refused(total):
    with pytest.raises(ValueError, match="nothing to score"):
        plan_cues(total, RATE)


def test_a_long_gap_is_one_rest_with_boundaries_at_its_edges():
    # 12 minutes at 25 fps, an 8.5-minute gap from 60 s to 570 s
    total, gap = 18000, (1500, 14250)
    cues = plan_cues(total, RATE, holes=[gap]).cues
    _cover_exactly(cues, total)
    assert [(c.start, c.end, c.silent) for c in cues] == [
        (0, 1500, False),
        (1500, 14250, True),
        (14250, 18000, False),
    ]


def test_a_marker_keeps_its_name_when_a_hole_starts_its_span():
    cues = plan_cues(1000, RATE, [(0, "Cue Intro")], holes=[(0, 100)]).cues
    assert [(c.name, c.start, c.silent) for c in cues] == [
        ("cue 1", 0, True),
        ("Cue Intro", 100, False),
    ]


def test_a_marker_just_before_a_gap_joins_its_sliver_to_the_cue_before_and_says_so():
    """The issue's case: a `cue` marker 0.5 s before a gap made a 0.54 s cue of its own."""
    plan = plan_cues(2000, RATE, [(1000, "Cue Storm")], holes=[(1013, 1400)])
    assert [(c.start, c.end, c.silent) for c in plan.cues] == [
        (0, 1013, False),
        (1013, 1400, True),
        (1400, 2000, False),
    ]
    (warning,) = plan.warnings
    assert "'Cue Storm'" in warning and "40.00 s" in warning and "0.52 s" in warning


def test_a_marker_just_after_the_range_start_takes_the_sliver_before_it():
    plan = plan_cues(1000, RATE, [(25, "Cue Open")])
    assert [(c.name, c.start, c.end) for c in plan.cues] == [("Cue Open", 0, 1000)]
    assert "'Cue Open'" in plan.warnings[0]


def test_two_markers_the_editor_placed_win_however_close():
    plan = plan_cues(1000, RATE, [(200, "Cue A"), (230, "Cue B")])
    assert [(c.start, c.end) for c in plan.cues] == [(0, 200), (200, 230), (230, 1000)]
    assert plan.warnings == ()


def test_short_picture_between_two_rests_or_a_short_range_stays_its_own_cue():
    between = plan_cues(1000, RATE, holes=[(0, 300), (350, 1000)])
    assert [(c.start, c.end, c.silent) for c in between.cues] == [
        (0, 300, True),
        (300, 350, False),
        (350, 1000, True),
    ]
    assert plan_cues(50, RATE).cues[0].frames == 50 and plan_cues(50, RATE).warnings == ()


def test_no_music_cue_is_under_four_seconds_unless_allowed(seed=0):
    """Random markers and rests: every music cue under 4 s is between two markers, or has no
    music neighbour it could join (rests or the range's edges on the sides a marker cut)."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        total = int(rng.integers(200, 3000))
        markers = [(int(f), f"cue {i}") for i, f in enumerate(rng.integers(0, total, 4))]
        a = int(rng.integers(0, total))
        holes = [(a, min(total, a + int(rng.integers(50, 400))))]
        plan = plan_cues(total, RATE, markers, holes)
        _cover_exactly(plan.cues, total)
        marker_frames = {f for f, _ in markers}
        for i, cue in enumerate(plan.cues):
            if cue.silent or cue.frames >= 4 * RATE:
                continue
            starts_at_marker = cue.start in marker_frames and cue.start not in {b for _, b in holes}
            after = plan.cues[i + 1] if i + 1 < len(plan.cues) else None
            ends_at_marker = after is not None and not after.silent and after.start in marker_frames
            before = plan.cues[i - 1] if i else None
            lone = (before is None or before.silent or not starts_at_marker) and (
                after is None or after.silent or not ends_at_marker
            )
            assert (starts_at_marker and ends_at_marker) or lone, (total, markers, holes)


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
