"""What reading the edit warns of reaches the report, not only the terminal: an EDL read at its
record times, media missing or not decodable (`--edit-points-only`), `--rate` given for a file
that carries its own. Through the backend and the Resolve scripts, report.json and the job's
warnings are where an editor sees them; a log line stays on the server."""

from __future__ import annotations

import json

import opentimelineio as otio

from gvmgen.cli import main

# 25 fps; event 002's source runs 50 frames where its record runs 110 (a still's source out
# left wherever): read at its record times, with a warning. No media is there.
MISMATCHED_EDL = """TITLE: mismatched
FCM: NON-DROP FRAME

001  REELA    V     C        00:00:00:00 00:00:04:10 01:00:00:00 01:00:04:10
* FROM CLIP NAME: missing-a.mov
002  REELB    V     C        00:00:10:05 00:00:12:05 01:00:04:10 01:00:08:20
* FROM CLIP NAME: missing-b.mov
003  REELC    V     C        00:00:20:00 00:00:24:00 01:00:08:20 01:00:12:20
* FROM CLIP NAME: missing-c.mov
"""


def _score(input_path, out, *more) -> dict:
    argv = ["score", str(input_path), "--out", str(out), "--engine", "arranger", *more]
    assert main([*argv, "--edit-points-only", "--json"]) == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _one(warnings: list[str], words: str) -> str:
    found = [w for w in warnings if words in w]
    assert len(found) == 1, (words, warnings)
    return found[0]


def test_an_edl_read_at_its_record_times_and_missing_media_are_in_report_json(tmp_path, capsys):
    edl = tmp_path / "mismatched.edl"
    edl.write_text(MISMATCHED_EDL)
    report = _score(edl, tmp_path / "out", "--rate", "25")
    result = json.loads(capsys.readouterr().out)
    mismatch = _one(report["warnings"], "read at their record times")
    assert "event 002, source 50 frames, record 110" in mismatch
    missing = _one(report["warnings"], "media missing for 3 clip(s)")
    assert "using their edit points alone" in missing
    assert [mismatch, missing] == [w for w in result["warnings"] if w in (mismatch, missing)]
    cuts = [c["record"] for c in report["cuts"] if c["kind"] == "edit"]
    assert cuts == ["01:00:04:10", "01:00:08:20"]  # the record times the warning promises


def _timeline(tmp_path) -> otio.schema.Timeline:
    """Three 4 s clips at 24 fps: one whose file is not video, two whose files are gone."""
    (tmp_path / "broken.mp4").write_bytes(b"not a video at all" * 64)
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name in ("broken", "gone-1", "gone-2"):
        track.append(
            otio.schema.Clip(
                name=name,
                media_reference=otio.schema.ExternalReference(
                    target_url=(tmp_path / f"{name}.mp4").as_uri()
                ),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(96, 24)
                ),
            )
        )
    return otio.schema.Timeline(name="warned", tracks=[track])


def test_rate_ignored_and_undecodable_media_are_in_report_json(tmp_path, capsys):
    path = tmp_path / "warned.otio"
    otio.adapters.write_to_file(_timeline(tmp_path), str(path))
    report = _score(path, tmp_path / "out", "--rate", "30")
    capsys.readouterr()
    assert "warned.otio is a timeline file" in _one(report["warnings"], "--rate 30 ignored")
    assert "gone-1, gone-2" in _one(report["warnings"], "media missing for 2 clip(s)")
    _one(report["warnings"], "clip 'broken': ")
    assert report["rate"] == 24.0
