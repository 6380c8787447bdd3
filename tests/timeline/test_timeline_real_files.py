"""Timelines as editors hand them over: newer OTIO schemas, EDL-shaped OTIO, EDL frame rates,
through-edits, FCP7 XML media URLs, very short ranges (issue 13). Every file is made here."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import RT, TR, clip, frames, media_file, timeline, track

from gvmgen.errors import MissingMediaError, TimelineError
from gvmgen.timeline import read_edit, read_timeline

# --- newer OTIO schemas (Marker.3 with Color.1, as OTIO 0.19 writes) ----------------------


def _as_otio_019(timeline_: otio.schema.Timeline) -> str:
    """`timeline_` as OTIO 0.19 writes it: Marker.3 with a Color.1 object, `enabled` on
    transitions (the upgrade 0.19 applies when it reads a 0.18 file)."""
    document = json.loads(otio.adapters.write_to_string(timeline_, "otio_json"))
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if item.get("OTIO_SCHEMA") == "Marker.2":
                known = getattr(otio.core.Color, item["color"])
                item["OTIO_SCHEMA"] = "Marker.3"
                item["color"] = {
                    "OTIO_SCHEMA": "Color.1",
                    "r": known.r,
                    "g": known.g,
                    "b": known.b,
                    "a": 1.0,
                    "name": item["color"],
                }
            if item.get("OTIO_SCHEMA") == "Transition.1":
                item["enabled"] = True
            stack.extend(item.values())
    return json.dumps(document, indent=4)


def _marked_cut(folder: Path, rate: float = 24.0) -> otio.schema.Timeline:
    a, b = (
        clip("A", 48, rate, 0, media_file(folder, "a.mov")),
        clip("B", 48, rate, 0, media_file(folder, "b.mov")),
    )
    b.markers.append(otio.schema.Marker("fix", TR(RT(10, rate), RT(0, rate)), color="PINK"))
    cut = timeline(rate, track(a, b, name="V1"))
    cut.tracks.markers.append(
        otio.schema.Marker("cue A", TR(RT(20, rate), RT(0, rate)), color="RED")
    )
    return cut


def test_marker_3_file_is_read_with_colours_downgraded(tmp_path):
    path = tmp_path / "newer.otio"
    path.write_text(_as_otio_019(_marked_cut(tmp_path)))
    assert '"Marker.3"' in path.read_text()
    with pytest.raises(otio.exceptions.UnsupportedSchemaError):  # what OTIO 0.18 does alone
        otio.adapters.read_from_file(str(path))

    edit = read_edit(path)
    assert [(m.name, m.time.value, m.color) for m in edit.markers] == [
        ("cue A", 20, "RED"),
        ("fix", 58, "PINK"),
    ]
    assert frames(edit.edit_points) == [48]


def test_a_colour_without_a_marker_2_name_becomes_the_nearest(tmp_path):
    text = _as_otio_019(_marked_cut(tmp_path)).replace('"name": "RED"', '"name": "Crimson"')
    text = text.replace('"r": 1.0,\n', '"r": 0.9,\n', 1)
    path = tmp_path / "crimson.otio"
    path.write_text(text)
    marker = read_edit(path).markers[0]
    assert (marker.name, marker.color) == ("cue A", "RED")
    read = read_timeline(path)
    assert read.tracks.markers[0].metadata["gvmgen"]["color"].name == "Crimson"


def test_a_schema_too_new_to_downgrade_says_how_to_export(tmp_path):
    text = _as_otio_019(_marked_cut(tmp_path)).replace('"Clip.2"', '"Clip.3"', 1)
    path = tmp_path / "future.otio"
    path.write_text(text)
    with pytest.raises(TimelineError) as caught:
        read_timeline(path)
    message = str(caught.value)
    assert "Clip.3" in message and "up to version 2" in message
    assert "target_schema_versions" in message and "\n" not in message


# --- EDL-shaped OTIO (cmx_3600 output saved as .otio) --------------------------------------


def _screening_like(rate: float = 24.0) -> otio.schema.Timeline:
    """Shaped like OTIO's `screening_example.otio`: no global start, the record offset as a
    negative track trim, 86400-based source ranges, missing media, no available ranges."""
    result = otio.schema.Timeline(name="Example_Screening")
    video = otio.schema.Track(name="V")
    sources = [(86501, 31), (86557, 50), (86601, 28), (86641, 115)]
    for i, (start, length) in enumerate(sources):
        video.append(
            otio.schema.Clip(
                name=f"ZZ100_50{i + 1}",
                media_reference=otio.schema.MissingReference(),
                source_range=TR(RT(start, rate), RT(length, rate)),
            )
        )
    total = sum(length for _, length in sources)
    video.source_range = TR(RT(-86243, rate), RT(total, rate))
    result.tracks.append(video)
    return result


def test_edl_shaped_otio_scores_at_the_record_timecode_with_its_cuts(tmp_path):
    path = tmp_path / "screening.otio"
    otio.adapters.write_to_file(_screening_like(), str(path))
    edit = read_edit(path, allow_missing_media=True)
    assert edit.timecode(RT(0, 24)) == "00:59:53:11"
    assert edit.timecode(edit.duration) == "01:00:02:19"
    assert frames(edit.edit_points) == [31, 81, 109]


def test_edl_shaped_otio_says_its_media_is_missing(tmp_path, caplog):
    path = tmp_path / "screening.otio"
    otio.adapters.write_to_file(_screening_like(), str(path))
    with pytest.raises(MissingMediaError, match=r"ZZ100_501.*3 more clip\(s\).*edit-points-only"):
        read_edit(path)
    read_edit(path, allow_missing_media=True)
    assert "media missing for 4 clip(s)" in caplog.text


# --- through-edits ------------------------------------------------------------------------


def test_a_through_edit_is_not_a_cut(tmp_path):
    shot = media_file(tmp_path, "a.mov")
    # A 0-40 | A 40-70 (same shot, source continuous) | B | A again from 200 (a real cut)
    cut = timeline(
        24.0,
        track(
            clip("A1", 40, 24.0, 0, shot),
            clip("A2", 30, 24.0, 40, shot),
            clip("B", 20, 24.0, 0, media_file(tmp_path, "b.mov")),
            clip("A3", 20, 24.0, 200, shot),
        ),
    )
    edit = read_edit(cut)
    assert frames(edit.edit_points) == [70, 90]
    assert frames(edit.through_edits) == [40]


DISSOLVE_EDL = """TITLE:   dissolve test
FCM: NON-DROP FRAME
001  TST V     C        01:00:04:05 01:00:04:14 01:00:00:00 01:00:00:09
* FROM CLIP NAME:  clip_A
002  TST V     C        01:00:04:14 01:00:04:14 01:00:00:09 01:00:00:09
002  TST V     D    010 01:00:08:08 01:00:08:18 01:00:00:09 01:00:00:19
* BLEND, DISSOLVE
* FROM CLIP NAME:  clip_A
* TO CLIP NAME:  clip_B
003  TST V     C        01:00:08:18 01:00:08:19 01:00:00:19 01:00:00:20
* FROM CLIP NAME:  clip_B
"""


def test_an_edl_through_edit_after_a_dissolve_is_not_a_cut(tmp_path):
    path = tmp_path / "dissolve_test.edl"
    path.write_text(DISSOLVE_EDL)
    edit = read_edit(path, allow_missing_media=True, rate=24)
    assert frames(edit.edit_points) == [14]  # the dissolve's middle; frame 19 is clip_B again
    assert frames(edit.through_edits) == [19]


# --- EDL frame rates ----------------------------------------------------------------------


def _edl_at(rate: float, lengths: list[int], drop_frame: bool = False, source: str = "") -> str:
    """A one-track EDL cut at `rate` from 01:00:00:00, one event per length (frames)."""
    from gvmgen.timeline import timecode

    start = int(
        otio.opentime.from_timecode("01:00:00;00" if drop_frame else "01:00:00:00", rate).value
    )
    tc = lambda f: timecode(RT(f, rate), rate, drop_frame)  # noqa: E731
    fcm = "DROP FRAME" if drop_frame else "NON-DROP FRAME"
    lines, record = ["TITLE: RATE", f"FCM: {fcm}", ""], start
    for number, length in enumerate(lengths, start=1):
        src = start + 1000 * number
        lines.append(
            f"{number:03d}  R{number:03d}    V     C        "
            f"{tc(src)} {tc(src + length)} {tc(record)} {tc(record + length)}"
        )
        lines.append(
            f"* FROM CLIP NAME: shot{number}" + (f"\n* FROM FILE: {source}" if source else "")
        )
        record += length
    return "\n".join(lines) + "\n"


LENGTHS = [37, 61, 24, 113, 49, 88, 71, 19, 130, 42, 57, 66, 99, 28, 81]


@pytest.mark.parametrize(
    ("rate", "drop_frame"),
    [pytest.param(25.0, False, id="25"), pytest.param(30000 / 1001, True, id="29.97DF")],
)
def test_edl_rate_is_told_from_its_timecodes(tmp_path, rate, drop_frame):
    path = tmp_path / "cut.edl"
    path.write_text(_edl_at(rate, LENGTHS, drop_frame))
    edit = read_edit(path, allow_missing_media=True)
    assert edit.rate == rate and edit.drop_frame == drop_frame
    assert edit.timecode(RT(0, rate)) == ("01:00:00;00" if drop_frame else "01:00:00:00")
    assert len(edit.edit_points) == len(LENGTHS) - 1
    assert edit.duration.value == sum(LENGTHS)


def test_edl_rate_from_the_media_it_names_when_its_timecodes_leave_it_open(tmp_path):
    shot = media_file(tmp_path, "shot.mov")
    path = tmp_path / "cut.edl"
    path.write_text(_edl_at(25.0, [50, 25, 75], source=str(shot)))  # frame fields stay 00
    with pytest.raises(TimelineError, match=r"cannot tell.*24 or 25 fps.*--rate"):
        read_edit(path)
    asked = []
    edit = read_edit(path, media_rate=lambda p: asked.append(p) or 25.0)
    assert asked == [shot] and edit.rate == 25.0 and frames(edit.edit_points) == [50, 75]


def test_a_given_rate_must_fit_the_timecodes(tmp_path):
    path = tmp_path / "cut.edl"
    path.write_text(_edl_at(25.0, LENGTHS))
    with pytest.raises(TimelineError, match=r"frame field reaches 24, but at --rate 24\.000"):
        read_edit(path, allow_missing_media=True, rate=24)
    assert read_edit(path, allow_missing_media=True, rate=25).rate == 25.0


# --- FCP7 XML media references ------------------------------------------------------------


def test_fcp7_xml_refers_to_media_by_file_url_that_reads_back_to_the_file(tmp_path):
    import xml.etree.ElementTree as ET

    from timeline_builders import silent_wav

    from gvmgen.timeline import PlacedCue, path_from_url, timeline_with_score, write_timeline

    folder = tmp_path / "score out"  # a space: percent-encoded in the URL
    folder.mkdir()
    wav = silent_wav(folder / "cue 1.wav", seconds=2.0)
    cut = timeline(25.0, track(clip("A", 100, 25.0, 0, media_file(tmp_path, "a b.mov"))))
    scored = timeline_with_score(cut, [PlacedCue(wav, TR(RT(0, 25.0), RT(50, 25.0)), "cue 1")])
    path = write_timeline(scored, tmp_path / "score.xml")

    urls = [e.text for e in ET.parse(path).iter("pathurl")]
    assert urls and all(u.startswith("file://localhost/") for u in urls)
    assert "file://localhost" + str(wav).replace(" ", "%20") in urls

    back = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    audio = [c for t in back.audio_tracks() for c in t.find_clips()]
    (cue,) = [c for c in audio if c.name == "cue 1"]
    assert path_from_url(cue.media_reference.target_url) == wav and wav.is_file()
    assert scored.audio_tracks()[0].find_clips()[0].media_reference.target_url == str(wav)


# --- very short ranges --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["01:00:01:00-01:00:01:12", "f24-f25"], ids=["half-second", "one-frame"]
)
def test_a_range_under_the_minimum_is_refused_with_its_length(tmp_path, text):
    from gvmgen.errors import InputError

    cut = timeline(24.0, track(clip("A", 240, 24.0, 0, media_file(tmp_path, "a.mov"))))
    assert read_edit(cut, text).duration.value in (12, 1)  # the timeline layer takes any length
    with pytest.raises(InputError, match=r"at least 2 s \(48 frames at 24\.000 fps\)") as caught:
        read_edit(cut, text, min_seconds=2.0)
    assert "01:00:01:00" in str(caught.value)
    assert read_edit(cut, "01:00:01:00-01:00:03:00", min_seconds=2.0).duration.value == 48


def test_the_media_rate_tells_23976_from_24(tmp_path):
    shot = media_file(tmp_path, "shot.mov")
    path = tmp_path / "cut.edl"
    path.write_text(_edl_at(24.0, LENGTHS * 8, source=str(shot)))  # many fields: settled at 24
    assert read_edit(path).rate == 24.0
    assert read_edit(path, media_rate=lambda p: 24000 / 1001).rate == 24000 / 1001
    assert read_edit(path, media_rate=lambda p: 30.0).rate == 24.0  # the timecodes settle 24


def test_an_otioz_in_a_newer_schema_says_how_to_read_it(tmp_path):
    import zipfile

    path = tmp_path / "bundle.otioz"
    otio.adapters.write_to_file(_marked_cut(tmp_path), str(path))
    with zipfile.ZipFile(path) as bundle:
        parts = {name: bundle.read(name) for name in bundle.namelist()}
    parts["content.otio"] = _as_otio_019(
        otio.adapters.read_from_string(parts["content.otio"].decode())
    ).encode()
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in parts.items():
            bundle.writestr(name, data)
    with pytest.raises(TimelineError, match=r"newer OpenTimelineIO.*export it as \.otio"):
        read_timeline(path)
