"""A cue with no cut in it has no hit rate to claim: "no cuts in range", never "hits 100 %"."""

from __future__ import annotations

import json

import opentimelineio as otio

from gvmgen.cli import main

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def _one_shot(path):
    """One offline 6 s clip at 24 fps: nothing to cut to."""
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    ref = otio.schema.ExternalReference("/offline/A.mov", TR(RT(0, 24), RT(500, 24)))
    track.append(otio.schema.Clip("A", ref, TR(RT(0, 24), RT(144, 24))))
    timeline = otio.schema.Timeline("one shot")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_a_cue_without_cuts_says_no_cuts_in_range(tmp_path, capsys):
    out_dir = tmp_path / "out"
    argv = ["score", str(_one_shot(tmp_path / "one.otio")), "--out", str(out_dir)]
    assert main([*argv, "--engine", "arranger", "--edit-points-only"]) == 0
    printed = capsys.readouterr().out
    (row,) = [line for line in printed.splitlines() if line.strip().startswith("cue 1")]
    assert "no cuts in range" in row and "%" not in row
    (cue,) = json.loads((out_dir / "report.json").read_text())["cues"]
    assert cue["cuts"] == [] and cue["hit_rate_50ms"] is None and cue["hit_rate_1frame"] is None
