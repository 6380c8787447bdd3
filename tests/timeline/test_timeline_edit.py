"""read_edit: what the viewer shows in a range, where the cuts are, which markers fall inside."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import (
    RT,
    TR,
    clip,
    frames,
    gap,
    media_file,
    record_frames,
    source_frames,
    timeline,
    track,
)

from gvmgen.errors import InputError, MissingMediaError, TimelineError
from gvmgen.timeline import read_edit, write_timeline

R = 24.0


@pytest.fixture
def media(tmp_path: Path):
    return lambda name: media_file(tmp_path, name)


def test_top_most_clip_wins_and_lower_clip_resumes_with_its_source(media):
    tl = timeline(
        R,
        track(clip("A", 100, R, 1000, media("a.mov")), name="Video 1"),
        track(gap(30, R), clip("B", 30, R, 500, media("b.mov")), name="Video 2"),
    )
    edit = read_edit(tl)
    assert record_frames(edit.segments) == [("A", 0, 30), ("B", 30, 30), ("A", 60, 40)]
    assert source_frames(edit.segments) == [("A", 1000, 30), ("B", 500, 30), ("A", 1060, 40)]
    assert [s.track_name for s in edit.segments] == ["Video 1", "Video 2", "Video 1"]
    assert frames(edit.edit_points) == [30, 60]
    assert edit.global_start == RT(86400, R)
    assert edit.duration == RT(100, R)


def test_cut_hidden_under_a_covering_clip_is_not_an_edit_point(media):
    tl = timeline(
        R,
        track(clip("X", 50, R, media=media("x")), clip("Y", 50, R, media=media("y"))),
        track(clip("Cover", 100, R, 200, media("cover"))),
    )
    edit = read_edit(tl)
    assert source_frames(edit.segments) == [("Cover", 200, 100)]
    assert edit.edit_points == []


@pytest.mark.parametrize("disable", ["track", "clip"])
def test_disabled_track_or_clip_is_not_seen(media, disable):
    upper = clip("B", 30, R, media=media("b.mov"), enabled=disable != "clip")
    tl = timeline(
        R,
        track(clip("A", 100, R, media=media("a.mov"))),
        track(gap(30, R), upper, enabled=disable != "track"),
    )
    edit = read_edit(tl)
    assert record_frames(edit.segments) == [("A", 0, 100)]
    assert edit.edit_points == []


def test_gaps_are_not_segments_but_their_boundaries_are_edit_points(media):
    tl = timeline(
        R, track(clip("A", 50, R, media=media("a")), gap(20, R), clip("B", 30, R, media=media("b")))
    )
    edit = read_edit(tl)
    assert record_frames(edit.segments) == [("A", 0, 50), ("B", 70, 30)]
    assert frames(edit.edit_points) == [50, 70]


def test_title_overlay_does_not_hide_the_cuts_below(media):
    tl = timeline(
        R,
        track(clip("A", 40, R, media=media("a")), clip("B", 40, R, media=media("b")), gap(20, R)),
        track(gap(20, R), clip("Title", 80, R, generator=True)),
    )
    edit = read_edit(tl)
    # Over picture the title is an overlay; over black it is the picture (and needs no file).
    assert record_frames(edit.segments) == [("A", 0, 40), ("B", 40, 40), ("Title", 80, 20)]
    assert edit.segments[-1].media_path is None
    assert frames(edit.edit_points) == [40, 80]


def _dissolve_timeline(media, in_offset: int, out_offset: int):
    transition = otio.schema.Transition(
        name="Cross Dissolve", in_offset=RT(in_offset, R), out_offset=RT(out_offset, R)
    )
    return timeline(
        R,
        track(clip("A", 48, R, 100, media("a")), transition, clip("B", 48, R, 200, media("b"))),
    )


@pytest.mark.parametrize(
    ("in_offset", "out_offset", "edit_point"),
    [
        pytest.param(6, 6, 48, id="centred-on-cut"),
        pytest.param(10, 0, 43, id="ending-at-cut"),
        pytest.param(0, 12, 54, id="starting-at-cut"),
    ],
)
def test_transition_edit_point_is_its_midpoint(media, in_offset, out_offset, edit_point):
    edit = read_edit(_dissolve_timeline(media, in_offset, out_offset))
    assert frames(edit.edit_points) == [edit_point]
    # The outgoing clip plays into its tail handle / the incoming one from its head handle.
    assert source_frames(edit.segments) == [
        ("A", 100, edit_point),
        ("B", 200 + edit_point - 48, 96 - edit_point),
    ]
    (dissolve,) = edit.transitions
    assert (dissolve.start_time.value, dissolve.duration.value) == (
        48 - in_offset,
        in_offset + out_offset,
    )


def test_range_starting_inside_a_transition_is_trimmed_without_error(media):
    edit = read_edit(_dissolve_timeline(media, 10, 10), "f45-f90")
    assert record_frames(edit.segments) == [("A", 0, 3), ("B", 3, 42)]
    assert source_frames(edit.segments) == [("A", 145, 3), ("B", 200, 42)]
    assert frames(edit.edit_points) == [3]


def test_range_trims_segments_and_counts_from_its_start(media):
    tl = timeline(R, track(clip("A", 50, R, 10, media("a")), clip("B", 50, R, 20, media("b"))))
    edit = read_edit(tl, "f30-f80")
    assert edit.range == TR(RT(30, R), RT(50, R))
    assert record_frames(edit.segments) == [("A", 0, 20), ("B", 20, 30)]
    assert source_frames(edit.segments) == [("A", 40, 20), ("B", 20, 30)]
    assert frames(edit.edit_points) == [20]


def test_timecode_range_is_absolute_and_excludes_the_start_timecode(media):
    tl = timeline(
        R, track(clip("A", 480, R, media=media("a")), clip("B", 480, R, media=media("b")))
    )
    edit = read_edit(tl, "01:00:10:00-01:00:30:00")
    assert edit.range == TR(RT(240, R), RT(480, R))
    assert frames(edit.edit_points) == [240]


def test_clip_in_a_nested_stack_is_mapped_to_track_time(media):
    inner = otio.schema.Stack(name="compound", source_range=TR(RT(5, R), RT(20, R)))
    inner.append(track(clip("N", 40, R, 300, media("n"))))
    tl = timeline(
        R, track(clip("A", 10, R, media=media("a")), inner, clip("B", 10, R, media=media("b")))
    )
    edit = read_edit(tl)
    assert record_frames(edit.segments) == [("A", 0, 10), ("N", 10, 20), ("B", 30, 10)]
    assert source_frames(edit.segments)[1] == ("N", 305, 20)


def test_clip_at_another_rate_keeps_its_source_in_media_frames(media):
    tl = timeline(R, track(clip("HFR", 24, R, 480, media("hfr"), source_rate=48.0)))
    (segment,) = read_edit(tl, "f12-f24").segments
    assert segment.source_range == TR(RT(504, 48.0), RT(24, 48.0))
    assert segment.record_range == TR(RT(0, R), RT(12, R))


def test_markers_on_timeline_track_and_clip_inside_the_range(media):
    b = clip("B", 50, R, 1000, media("b"))
    b.markers.append(otio.schema.Marker("on B", TR(RT(1010, R), RT(0, R)), color="BLUE"))
    v1 = track(clip("A", 50, R, media=media("a")), b)
    v1.markers.append(otio.schema.Marker("on track", TR(RT(35, R), RT(2, R))))
    tl = timeline(R, v1)
    tl.tracks.markers.append(otio.schema.Marker("outside", TR(RT(5, R), RT(0, R))))
    music = otio.schema.Marker("music in", TR(RT(40, R), RT(0, R)), color="GREEN")
    music.metadata["Resolve_OTIO"] = {"Note": "swell here"}
    tl.tracks.markers.append(music)
    edit = read_edit(tl, "f30-f90")
    got = [
        (m.name, int(m.time.value), int(m.duration.value), m.color, m.comment) for m in edit.markers
    ]
    assert got == [
        ("on track", 5, 2, "RED", ""),
        ("music in", 10, 0, "GREEN", "swell here"),
        ("on B", 30, 0, "BLUE", ""),
    ]


def test_missing_media_names_clip_and_path_and_offers_edit_points_only(tmp_path, media):
    tl = timeline(
        R,
        track(
            clip("A", 50, R, media=media("a.mov")), clip("B", 50, R, media=tmp_path / "gone.mov")
        ),
    )
    with pytest.raises(MissingMediaError) as caught:
        read_edit(tl)
    message = str(caught.value)
    assert "'B'" in message and str(tmp_path / "gone.mov") in message
    assert "--edit-points-only" in message
    edit = read_edit(tl, allow_missing_media=True)
    assert [s.media_path for s in edit.segments] == [tmp_path / "a.mov", None]
    assert frames(edit.edit_points) == [50]


def test_clip_without_a_file_reference_is_missing_media():
    tl = timeline(R, track(clip("from EDL", 50, R)))
    with pytest.raises(MissingMediaError, match="no file reference"):
        read_edit(tl)
    assert read_edit(tl, allow_missing_media=True).segments[0].media_path is None


def test_relative_and_url_paths_resolve_against_the_timeline_folder(tmp_path):
    folder = tmp_path / "project"
    media_file(folder, "media/a b.mov")
    absolute = media_file(tmp_path, "elsewhere/c.mov")
    tl = timeline(
        R,
        track(
            clip("rel", 10, R, media="media/a b.mov"),
            clip("url", 10, R, media="file://localhost" + absolute.as_posix().replace(" ", "%20")),
            clip("bare", 10, R, media=str(absolute)),
        ),
    )
    path = write_timeline(tl, folder / "cut.otio")
    edit = read_edit(path)
    assert [s.media_path for s in edit.segments] == [folder / "media/a b.mov", absolute, absolute]
    assert edit.source_path == path


@pytest.mark.parametrize(
    "bad_range",
    [
        pytest.param("f90-f120", id="past-the-end"),
        pytest.param("00:59:59:00-01:00:02:00", id="before-the-start"),
    ],
)
def test_range_outside_the_timeline_says_its_extent(media, bad_range):
    tl = timeline(R, track(clip("A", 100, R, media=media("a"))))
    with pytest.raises(TimelineError, match=r"runs 01:00:00:00–01:00:04:04 \(0–4.16667 s\)"):
        read_edit(tl, bad_range)


def test_empty_range_is_refused(media):
    tl = timeline(R, track(clip("A", 100, R, media=media("a"))))
    with pytest.raises(InputError, match="empty"):
        read_edit(tl, TR(RT(10, R), RT(0, R)))
    with pytest.raises(InputError, match="empty"):
        read_edit(tl, "f10-f10")


def test_timeline_without_clips_is_refused():
    with pytest.raises(TimelineError, match="empty"):
        read_edit(timeline(R, track()))


def test_rate_without_a_start_timecode_is_the_one_most_clips_run_at(media):
    tl = timeline(
        R,
        track(
            clip("A", 10, R, media=media("a")),
            clip("slow", 16, R, media=media("s"), source_rate=15.0),
            clip("B", 10, R, media=media("b")),
        ),
    )
    tl.global_start_time = None
    edit = read_edit(tl)
    assert edit.rate == R and edit.global_start == RT(0, R)
    assert frames(edit.edit_points) == [10, 26]


def test_ntsc_rate_written_short_reads_frame_exact(media):
    short = 23.976  # how some exporters write 24000/1001
    tl = otio.schema.Timeline(global_start_time=RT(86400, short))
    tl.tracks.append(
        track(clip("A", 1001, short, media=media("a")), clip("B", 999, short, media=media("b")))
    )
    edit = read_edit(tl, "01:00:41:17-01:01:00:00")
    assert edit.rate == 24000 / 1001 and edit.global_start == RT(86400, 24000 / 1001)
    assert edit.range.start_time.value == 1001 and frames(edit.edit_points) == []
    assert record_frames(edit.segments) == [("B", 0, 439)]
