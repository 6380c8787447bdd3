"""Track, plan, render, re-measure: the whole alignment of one cue's music onto its cuts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.align.beats import BeatGrid, track_beats
from gvmgen.align.metrics import AlignmentMetrics, metrics_from_beats
from gvmgen.align.plan import plan_alignment
from gvmgen.align.plan_types import AlignmentPlan
from gvmgen.align.render import render_alignment


@dataclass(frozen=True)
class AlignmentResult:
    """The warped music `[C, N]`, the plan behind it, its measured quality and both beat grids."""

    audio: np.ndarray
    plan: AlignmentPlan
    metrics: AlignmentMetrics
    beats_before: BeatGrid
    beats_after: BeatGrid


def align_to_cuts(
    audio: np.ndarray,
    sample_rate: int,
    cuts,
    max_stretch: float = 0.06,
    fps: float = 24.0,
    beats: BeatGrid | None = None,
    duration: float | None = None,
) -> AlignmentResult:
    """Warp `audio` `[C, N]` so its beats land on `cuts` (seconds); output lasts `duration`
    (default: the input's length) to the sample.

    `beats` lets an engine that knows its own grid skip tracking for the plan; the metrics
    always re-track the output.
    """
    source_duration = audio.shape[1] / sample_rate
    duration = source_duration if duration is None else float(duration)
    before = track_beats(audio, sample_rate) if beats is None else beats
    plan = plan_alignment(
        before, cuts, duration, max_stretch=max_stretch, source_duration=source_duration
    )
    out = render_alignment(audio, sample_rate, plan)
    after = track_beats(out, sample_rate)
    metrics = metrics_from_beats(out, sample_rate, after, plan.cuts, fps, plan)
    return AlignmentResult(out, plan, metrics, before, after)
