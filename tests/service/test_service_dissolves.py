"""A dissolve stays a gradual change all the way out: `gvmgen analyze` calls it `gradual`, and
`gvmgen score` neither aims music at it nor counts it in a hit rate (issue 18, item 2)."""

from __future__ import annotations

import json

import opentimelineio as otio
import pytest

from gvmgen.cli import main

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
RATE = 24

# 24 fps (pass --rate 24: no frame field says so). A hard cut at 4 s; a 12-frame dissolve from
# clip_B to clip_C whose middle is at 8 s (record 7:18 → 8:06); the cue ends at 12 s.
DISSOLVE_EDL = """TITLE: dissolve
FCM: NON-DROP FRAME

001  AX       V     C        00:00:01:00 00:00:05:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME: clip_A
002  AX       V     C        00:00:10:00 00:00:13:18 01:00:04:00 01:00:07:18
* FROM CLIP NAME: clip_B
003  AX       V     C        00:00:13:18 00:00:13:18 01:00:07:18 01:00:07:18
003  AX       V     D    012 00:00:20:00 00:00:24:06 01:00:07:18 01:00:12:00
* FROM CLIP NAME: clip_B
* TO CLIP NAME: clip_C
"""


def _dissolve_otio(path):
    """Three offline clips of 4 s at 24 fps: a hard cut at 4 s, a 12-frame dissolve at 8 s."""
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for index, name in enumerate("ABC"):
        span = TR(RT(0, RATE), RT(96, RATE))
        ref = otio.schema.ExternalReference(f"/offline/{name}.mov", TR(RT(0, RATE), RT(500, RATE)))
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=span))
        if index == 1:
            track.append(
                otio.schema.Transition(
                    name="Cross Dissolve", in_offset=RT(6, RATE), out_offset=RT(6, RATE)
                )
            )
    timeline = otio.schema.Timeline("dissolve")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _edl(path):
    path.write_text(DISSOLVE_EDL)
    return path


INPUTS = [
    pytest.param(lambda d: _dissolve_otio(d / "dissolve.otio"), [], id="otio-transition"),
    pytest.param(lambda d: _edl(d / "dissolve.edl"), ["--rate", "24"], id="edl-d-event"),
]


@pytest.mark.parametrize(("make", "extra"), INPUTS)
def test_analyze_reports_a_dissolve_as_gradual(tmp_path, capsys, make, extra):
    path = make(tmp_path)
    code = main(["analyze", str(path), "--json", "--edit-points-only", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    kinds = {c["frame"]: c["kind"] for c in json.loads(out)["cuts"]}
    assert kinds == {96: "edit", 192: "gradual"}


@pytest.mark.parametrize(("make", "extra"), INPUTS)
def test_score_does_not_aim_at_a_dissolve(tmp_path, capsys, make, extra):
    path = make(tmp_path)
    out_dir = tmp_path / "out"
    argv = ["score", str(path), "--out", str(out_dir), "--engine", "arranger"]
    code = main([*argv, "--edit-points-only", "--json", *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    report = json.loads((out_dir / "report.json").read_text())
    by_time = {round(c["time"], 3): c for c in report["cuts"]}
    assert by_time[8.0]["kind"] == "gradual"
    assert by_time[8.0]["target"] is False and by_time[8.0]["hit"] is None
    assert by_time[4.0]["kind"] == "edit" and by_time[4.0]["target"] is True
