"""The editor's `hit` markers: the same convention read from OTIO, Resolve, FCP7 XML and EDL."""

from __future__ import annotations

import opentimelineio as otio
import pytest
from timeline_builders import RT, TR, clip, media_file, timeline, track

from gvmgen.timeline import read_edit
from gvmgen.timeline.markers import (
    MarkerConventions,
    TimelineMarker,
    is_cue_marker,
    leading_word,
    must_hits,
    read_conventions,
)

R = 24.0


def _marker(name: str, comment: str = "", frame: int = 10) -> TimelineMarker:
    return TimelineMarker(name, RT(frame, R), RT(0, R), "RED", comment)


@pytest.mark.parametrize(
    ("name", "comment", "label"),
    [
        ("hit", "", ""),
        ("hit: logo", "", "logo"),
        ("HIT door slam", "", "door slam"),
        ("Hit - punch", "", "punch"),
        ("  hit", "", ""),
        ("Marker 1", "hit on the slam", "on the slam"),
        ("history", "", None),
        ("hits", "", None),
        ("white hit", "", None),
        ("hit_2", "", None),
        ("history", "HIT", ""),
        ("", "", None),
    ],
)
def test_a_hit_is_the_whole_leading_word_of_name_or_note(name, comment, label):
    assert leading_word(_marker(name, comment), "hit") == label
    found = must_hits([_marker(name, comment)])
    assert [h.label for h in found] == ([] if label is None else [label])


@pytest.mark.parametrize(
    ("name", "starts_a_cue"),
    [
        ("cue 3", True),
        ("Cue A", True),
        ("  CUE-outro", True),
        ("cue", True),
        ("hit", False),
        ("tempo 96", False),
        ("a cue", False),
        ("", False),
    ],
)
def test_a_cue_marker_is_one_whose_name_starts_with_cue(name, starts_a_cue):
    # a prefix of the name (editors write "Cue A", "cue3"), the note is not read
    assert is_cue_marker(_marker(name, comment="cue")) is starts_a_cue


def test_must_hits_are_in_time_order_one_per_frame():
    markers = [_marker("hit b", frame=30), _marker("hit a", frame=5), _marker("HIT", frame=30)]
    found = read_conventions(markers).must_hits
    assert [(h.time.value, h.label) for h in found] == [(5, "a"), (30, "b")]
    assert found[0].seconds == pytest.approx(5 / 24)
    assert read_conventions([]) == MarkerConventions()


def _edit_with_markers(tmp_path, markers: list[otio.schema.Marker]):
    v1 = track(clip("A", 48, R, media=media_file(tmp_path, "a")), clip("B", 48, R, 100))
    tl = timeline(R, v1)
    tl.tracks.markers.extend(markers)
    return tl


def _hits(edit) -> list[tuple[int, str]]:
    return [(int(h.time.value), h.label) for h in read_conventions(edit.markers).must_hits]


def test_otio_comment_and_resolve_note(tmp_path):
    named = otio.schema.Marker("hit: logo", TR(RT(12, R), RT(0, R)))
    noted = otio.schema.Marker("Marker 2", TR(RT(60, R), RT(0, R)), comment="HIT door slam")
    resolve = otio.schema.Marker("Marker 3", TR(RT(70, R), RT(0, R)))
    resolve.metadata["Resolve_OTIO"] = {"Note": "hit"}
    other = otio.schema.Marker("history", TR(RT(80, R), RT(0, R)))
    tl = _edit_with_markers(tmp_path, [named, noted, resolve, other])
    edit = read_edit(tl, allow_missing_media=True)
    assert _hits(edit) == [(12, "logo"), (60, "door slam"), (70, "")]


def test_fcp7_xml_marker_name_and_comment(tmp_path):
    named = otio.schema.Marker("hit: logo", TR(RT(12, R), RT(0, R)))
    noted = otio.schema.Marker("m", TR(RT(60, R), RT(0, R)), comment="hit door slam")
    tl = _edit_with_markers(tmp_path, [named, noted, otio.schema.Marker("history")])
    path = tmp_path / "cut.xml"
    xml = otio.adapters.write_to_string(tl, adapter_name="fcp_xml")
    # the adapter writes no <comment>; Premiere and FCP 7 do, and the adapter reads it back
    path.write_text(xml.replace("<name>m</name>", "<name>m</name><comment>hit door slam</comment>"))
    edit = read_edit(path, allow_missing_media=True)
    assert _hits(edit) == [(12, "logo"), (60, "door slam")]


EDL_WITH_LOCATORS = """TITLE: locators
FCM: NON-DROP FRAME

001  AX       V     C        00:00:01:00 00:00:03:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME: clip_A
* LOC: 00:00:01:12 RED     HIT door slam
* LOC: 00:00:02:00 YELLOW  history
002  AX       V     C        00:00:10:00 00:00:12:00 01:00:02:00 01:00:04:00
* FROM CLIP NAME: clip_B
* LOC: 00:00:11:06 RED     hit
"""


def test_edl_locators(tmp_path):
    """A locator's timecode is in its event's source time (the adapter and OTIO's samples)."""
    path = tmp_path / "cut.edl"
    path.write_text(EDL_WITH_LOCATORS)
    edit = read_edit(path, allow_missing_media=True, rate=24)
    assert _hits(edit) == [(12, "door slam"), (78, "")]
