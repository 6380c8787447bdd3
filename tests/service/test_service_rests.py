"""Batch mode over a gap in the timeline: a rest, cue edges at the gap. The rest is a gap on
the music track (no WAV); the music before it rings into it, declared as its `ring`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf
from service_helpers import CountingArranger

from gvmgen.commands.score import print_summary
from gvmgen.engines import EngineRegistry
from gvmgen.pipeline import Scorer

RATE = 25
GAP = (100, 225)  # frames: 4 s to 9 s of nothing on the timeline
RING_SECONDS = 1.5  # the music before a rest rings at most this long into it


def _range(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(duration, RATE)
    )


def _timeline_with_a_gap(clip: Path, target: Path) -> Path:
    ref = otio.schema.ExternalReference(str(clip), available_range=_range(0, 300))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(name="a", media_reference=ref.clone(), source_range=_range(0, 100))
    )
    track.append(otio.schema.Gap(source_range=_range(0, GAP[1] - GAP[0])))
    track.append(
        otio.schema.Clip(name="b", media_reference=ref.clone(), source_range=_range(150, 100))
    )
    timeline = otio.schema.Timeline(global_start_time=otio.opentime.RationalTime(90000, RATE))
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(target))
    return target


def _dbfs(audio: np.ndarray) -> float:
    peak = float(np.abs(audio).max(initial=0.0))
    return 20 * np.log10(peak) if peak > 0 else -np.inf


def test_a_gap_in_batch_is_a_rest_of_silence_with_cue_edges_at_the_gap(cut_clip, tmp_path):
    timeline = _timeline_with_a_gap(cut_clip[0], tmp_path / "gap.otio")
    engine = CountingArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    result = scorer.score(
        {
            "input": str(timeline),
            "out_dir": str(tmp_path / "out"),
            "engine": "arranger",
            "mode": "batch",
        }
    )
    frame = 1.0 / RATE
    starts = [c.start for c in result.cues]
    assert len(result.cues) == 3
    assert abs(starts[1] - GAP[0] / RATE) <= frame and abs(starts[2] - GAP[1] / RATE) <= frame
    rest = result.cues[1]
    assert rest.engine == "silence" and rest.silent and rest.cuts == []
    assert rest.hit_rate_50ms is None  # nothing was aimed at, so nothing was "hit"
    assert [c.silent for c in (result.cues[0], result.cues[2])] == [False, False]
    assert len(engine.seeds) == 2  # the rest cost no engine call

    assert rest.wav is None and result.takes[0].wavs[1] is None  # no file for a rest
    assert not list((tmp_path / "out" / "takes").rglob("cue-02.wav"))
    before, rate = sf.read(result.cues[0].wav, dtype="float32", always_2d=True)
    before = before.T
    gap_in = round(GAP[0] / RATE * rate)
    assert result.cues[0].ring == pytest.approx(RING_SECONDS, abs=1e-3)  # declared …
    assert before.shape[1] == gap_in + round(RING_SECONDS * rate)  # … and in the WAV
    assert _dbfs(before[:, gap_in - rate : gap_in]) > -30  # music up to the gap …
    assert _dbfs(before[:, -round(0.01 * rate) :]) < -60  # … rung out by the end of its ring
    after, _ = sf.read(result.cues[2].wav, dtype="float32", always_2d=True)
    assert _dbfs(after.T[:, :rate]) > -30  # … and music again after the gap
    timeline = otio.adapters.read_from_file(result.timeline)
    (score_track,) = [t for t in timeline.audio_tracks() if t.name == "GVMGen Score"]
    kinds = [(type(item).__name__, item.duration().value) for item in score_track]
    ring_frames = int(RING_SECONDS * RATE)
    assert kinds == [
        ("Clip", GAP[0] + ring_frames),
        ("Gap", GAP[1] - GAP[0] - ring_frames),
        ("Clip", 100),
    ]
    assert [c.record_in for c in result.cues[1:]] == ["01:00:04:00", "01:00:09:00"]
    summary = io.StringIO()
    print_summary(result, summary)
    assert "01:00:09:00   rest: silence" in summary.getvalue()


def test_a_batch_range_that_is_all_gap_is_refused_and_writes_nothing(cut_clip, tmp_path):
    from gvmgen.errors import InputError
    from gvmgen.pipeline import score

    timeline = _timeline_with_a_gap(cut_clip[0], tmp_path / "gap.otio")
    out = tmp_path / "out"
    request = {"input": str(timeline), "out_dir": str(out), "engine": "arranger"}
    with pytest.raises(InputError, match="no picture") as error:
        score({**request, "mode": "batch", "range": "f110-f210"})
    assert error.value.field == "range" and not out.exists()
