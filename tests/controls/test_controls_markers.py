"""The editor's control markers (`mood tense`, `intensity 8`, `tempo 96`): read by the one
marker parser beside `hit`, mid-range, in time order; a marker that cannot be read is a warning
naming it, never an error."""

from __future__ import annotations

import opentimelineio as otio
import pytest

from gvmgen.controls import Controls, TempoBand, cue_controls
from gvmgen.timeline import read_edit
from gvmgen.timeline.markers import TimelineMarker, read_conventions

RT = otio.opentime.RationalTime
R = 24.0


def _marker(name: str, frame: int = 48, comment: str = "") -> TimelineMarker:
    return TimelineMarker(name, RT(frame, R), RT(0, R), "BLUE", comment)


@pytest.mark.parametrize(
    ("name", "control", "value"),
    [
        ("mood tense", "mood", "tense"),
        ("Mood: Epic — the chase", "mood", "epic"),
        ("intensity 8", "intensity", 8),
        ("INTENSITY: 2", "intensity", 2),
        ("tempo 96", "tempo", TempoBand(96.0, 96.0)),
        ("tempo 90-110 bpm", "tempo", TempoBand(90.0, 110.0)),
    ],
)
def test_each_control_marker_is_read(name, control, value):
    found = read_conventions([_marker(name)])
    assert found.warnings == ()
    [change] = found.control_changes
    assert (change.control, change.value, change.time) == (control, value, 2.0)
    assert change.marker == name


def test_a_control_in_the_note_is_read_too():
    [change] = read_conventions([_marker("Marker 3", comment="intensity 3")]).control_changes
    assert (change.control, change.value) == ("intensity", 3)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("intensity high", "whole number 1-9"),
        ("intensity 10", "whole number 1-9"),
        ("mood jolly", "choose one of tense, warm"),
        ("tempo 300", "BPM 40-220"),
    ],
)
def test_a_marker_that_cannot_be_read_is_a_warning_naming_it(name, why):
    found = read_conventions([_marker(name, 60), _marker("hit", 72)])
    assert found.control_changes == ()
    [warning] = found.warnings
    assert warning.startswith(f"marker {name!r} at 2.50 s into the range ignored: ")
    assert why in warning
    assert len(found.must_hits) == 1  # the other conventions are read as ever


def test_other_words_are_not_controls():
    found = read_conventions([_marker("moody shot"), _marker("tempos"), _marker("Marker 1")])
    assert found == read_conventions([])


def test_markers_mid_range_change_the_controls_from_their_time_on(tmp_path):
    media = tmp_path / "a.mov"
    media.touch()
    ref = otio.schema.ExternalReference(target_url=str(media))
    v1 = otio.schema.Track(name="V1")
    v1.append(
        otio.schema.Clip(
            name="A",
            media_reference=ref,
            source_range=otio.opentime.TimeRange(RT(0, R), RT(480, R)),
        )
    )
    tl = otio.schema.Timeline(name="t")
    tl.tracks.append(v1)
    for name, frame in (("mood sombre", 24), ("intensity 8", 200), ("mood driving", 300)):
        marked = otio.opentime.TimeRange(RT(frame, R), RT(1, R))
        tl.tracks.markers.append(otio.schema.Marker(name=name, marked_range=marked))
    edit = read_edit(tl, "f120-f480")  # 5 s in: the sombre marker is before the range
    found = read_conventions(edit.markers)
    assert [(c.control, c.value, c.time) for c in found.control_changes] == [
        ("intensity", 8, 80 / 24),
        ("mood", "driving", 180 / 24),
    ]
    # a cue from 4 s to 15 s of the range: intensity 8 is in force from 3.33 s, so at its start
    cue = cue_controls(Controls(mood="warm", intensity=3), list(found.control_changes), 4.0, 11.0)
    assert cue.start == Controls(mood="warm", intensity=8)
    assert [(c.control, c.time) for c in cue.changes] == [("mood", pytest.approx(3.5))]
    assert cue.at(3.4).mood == "warm" and cue.at(3.6).mood == "driving"
