"""The editor's `hit` markers through `gvmgen score`: ranked must-hit in report.json, and one the
music cannot reach listed — in the report and the CLI summary — with why and what would reach
it (issue 23)."""

from __future__ import annotations

import json

import opentimelineio as otio

from gvmgen.cli import main

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange
RATE = 24


def _timeline(path):
    """Three offline clips of 3 s (edits at 3 s and 6 s); hit markers at 4.5 s ("hit: logo"),
    4.7 s ("hit", too close to the logo to be hit with it) and on the edit at 6 s ("HIT door");
    a "history" marker that is no hit."""
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name in "ABC":
        ref = otio.schema.ExternalReference(f"/offline/{name}.mov", TR(RT(0, RATE), RT(900, RATE)))
        track.append(otio.schema.Clip(name, ref, TR(RT(0, RATE), RT(72, RATE))))
    timeline = otio.schema.Timeline("hits")
    timeline.tracks.append(track)
    for frame, name in ((108, "hit: logo"), (113, "hit"), (144, "HIT door"), (30, "history")):
        timeline.tracks.markers.append(otio.schema.Marker(name, TR(RT(frame, RATE), RT(0, RATE))))
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_must_hits_are_ranked_and_an_unreachable_one_is_listed_with_its_alternative(
    tmp_path, capsys
):
    out_dir = tmp_path / "out"
    argv = ["score", str(_timeline(tmp_path / "hits.otio")), "--out", str(out_dir)]
    assert main([*argv, "--engine", "arranger", "--edit-points-only"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out_dir / "report.json").read_text())
    cuts = {round(c["time"], 3): c for c in report["cuts"]}
    assert cuts[3.0]["priority"] == "edit" and cuts[3.0]["kind"] == "edit"
    assert (cuts[6.0]["priority"], cuts[6.0]["label"]) == ("must-hit", "door")
    logo, other = cuts[4.5], cuts[round(113 / RATE, 3)]
    assert (logo["kind"], logo["priority"], logo["label"]) == ("marker", "must-hit", "logo")
    assert other["priority"] == "must-hit" and 1.25 not in cuts  # "history" is no hit
    assert [logo["hit"], other["hit"]].count(True) == 1  # 0.2 s apart: one of them
    (missed,) = report["missed_must_hits"]
    assert missed["reason"] and "move the marker" in missed["alternative"]
    line = next(x for x in printed.splitlines() if x.startswith("must-hit missed"))
    assert missed["record"] in line and missed["alternative"] in line
