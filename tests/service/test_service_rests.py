"""Batch mode over a gap in the timeline: a rest of digital silence, cue edges at the gap."""

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
RELEASE_SECONDS = 0.5  # the music may ring this long into a rest (the cue crossfade)


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

    track, rate = _delivered(result)
    gap_in, gap_out = (round(f / RATE * rate) for f in GAP)
    release = round(RELEASE_SECONDS * rate)
    assert _dbfs(track[:, gap_in + release : gap_out]) == -np.inf  # digital silence
    assert _dbfs(track[:, gap_in + release - round(0.01 * rate) : gap_in + release]) < -60
    assert _dbfs(track[:, gap_in - rate : gap_in]) > -30  # music up to the gap …
    assert _dbfs(track[:, gap_out : gap_out + rate]) > -30  # … and again after it
    assert [c.record_in for c in result.cues[1:]] == ["01:00:04:00", "01:00:09:00"]
    summary = io.StringIO()
    print_summary(result, summary)
    assert "01:00:09:00   rest: silence" in summary.getvalue()


def _delivered(result) -> tuple[np.ndarray, int]:
    pieces = [sf.read(w, dtype="float32", always_2d=True) for w in result.takes[0].wavs]
    rate = pieces[0][1]
    return np.concatenate([p.T for p, _ in pieces], axis=1), rate


def test_a_batch_range_that_is_all_gap_is_refused_and_writes_nothing(cut_clip, tmp_path):
    from gvmgen.errors import InputError
    from gvmgen.pipeline import score

    timeline = _timeline_with_a_gap(cut_clip[0], tmp_path / "gap.otio")
    out = tmp_path / "out"
    request = {"input": str(timeline), "out_dir": str(out), "engine": "arranger"}
    with pytest.raises(InputError, match="no picture") as error:
        score({**request, "mode": "batch", "range": "f110-f210"})
    assert error.value.field == "range" and not out.exists()
