"""Real `ScorePlan`s without media: a timeline of one generator clip (black picture), cuts at
given frames, and a given cue plan. For tests of rendering, the report and the picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio

from gvmgen.analysis import Analysis
from gvmgen.cues import Cue
from gvmgen.engines import EngineChoice, EngineRegistry, MusicEngine
from gvmgen.media.cuts import Cut
from gvmgen.schema import parse_request
from gvmgen.score_plan import ScorePlan
from gvmgen.timeline import read_edit


def generated_plan(
    frames: int,
    cut_frames,
    cues: list[Cue],
    rate: float = 25.0,
    engine: MusicEngine | None = None,
    **request,
) -> ScorePlan:
    """`frames` of black at `rate` from 01:00:00:00, hard cuts at `cut_frames`, `cues` planned."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    timeline = otio.schema.Timeline("generated", global_start_time=rt(3600 * rate, rate))
    track = otio.schema.Track()
    track.append(
        otio.schema.Clip("gen", otio.schema.GeneratorReference(), tr(rt(0, rate), rt(frames, rate)))
    )
    timeline.tracks.append(track)
    edit = read_edit(timeline)
    duration = frames / rate
    times = np.arange(0.0, duration, 0.5)
    analysis = Analysis(
        input=Path("generated.otio"),
        kind="timeline",
        rate=float(rate),
        duration=duration,
        cuts=[Cut(f / rate, int(f), "shot", 30.0) for f in cut_frames],
        motion_times=times,
        motion=np.full(len(times), 0.3, np.float32),
        edit=edit,
    )
    fields = {"input": "generated.otio", "out_dir": "out", "engine": "arranger", **request}
    choice = (
        EngineRegistry().choose("arranger")
        if engine is None
        else EngineChoice(engine, f"{engine.name} for a test")
    )
    return ScorePlan(parse_request(fields), "test-job", edit, analysis, choice, tuple(cues))
