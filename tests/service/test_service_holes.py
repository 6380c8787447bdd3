"""The pipeline never delivers a hole in the music: a cue whose aligned audio is silent for over
10 % of its length, where the engine's music was not, goes out unwarped, and the report says so
(issue 23). The aligner no longer makes such holes, so one is forced here."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import opentimelineio as otio
import soundfile

from gvmgen import rendering
from gvmgen.cli import main

RT, TR = otio.opentime.RationalTime, otio.opentime.TimeRange


def _two_shots(path):
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for name in "AB":
        ref = otio.schema.ExternalReference(f"/offline/{name}.mov", TR(RT(0, 24), RT(500, 24)))
        track.append(otio.schema.Clip(name, ref, TR(RT(0, 24), RT(96, 24))))
    timeline = otio.schema.Timeline("two shots")
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _longest_silence(audio: np.ndarray, rate: int) -> float:
    quiet = np.all(np.abs(audio) < 1e-5, axis=0).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max()) / rate if len(runs) else 0.0


def test_a_cue_aligned_into_silence_goes_out_unwarped_with_a_warning(tmp_path, monkeypatch):
    real = rendering.aligned

    def with_a_hole(*args, **kwargs):  # a broken plan: the middle half of the music gone
        result = real(*args, **kwargs)
        audio = result.audio.copy()
        quarter = audio.shape[1] // 4
        audio[:, quarter : 3 * quarter] = 0.0
        return replace(result, audio=audio)

    monkeypatch.setattr(rendering, "aligned", with_a_hole)
    out_dir = tmp_path / "out"
    argv = ["score", str(_two_shots(tmp_path / "cut.otio")), "--out", str(out_dir)]
    assert main([*argv, "--engine", "arranger", "--edit-points-only"]) == 0
    report = json.loads((out_dir / "report.json").read_text())
    (cue,) = report["cues"]
    delivered, rate = soundfile.read(cue["wav"], always_2d=True)
    assert _longest_silence(delivered.T[:, : -rate // 2], rate) < 0.05
    (warning,) = [w for w in report["warnings"] if "silent" in w]
    assert "unwarped" in warning and cue["name"] in warning
