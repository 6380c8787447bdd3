"""Track, plan, render, re-measure: the whole alignment of one cue's music onto its cuts.

The tracker that measures the output is the judge, so the loop closes on it: a planned hit that
the re-measure finds off its cut (a splice or stretch confused the tracker there) is ruled out
for that cut and the plan is made again; the best measured render wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gvmgen.align.beats import BeatGrid, track_beats
from gvmgen.align.metrics import AlignmentMetrics, metrics_from_beats, silent_seconds
from gvmgen.align.plan import plan_alignment
from gvmgen.align.plan_types import AlignmentPlan, UnhitCut
from gvmgen.align.priorities import Priority, sync_weights
from gvmgen.align.render import render_alignment
from gvmgen.defaults import DEFAULT_MAX_STRETCH

REPLANS = 2  # extra plan → render → measure rounds when a planned hit is measured off
# A cue whose aligned music is digitally silent for more than this share of its length, where
# the music it came from was not, is refused: the music goes out unwarped instead.
HOLE_SHARE = 0.10
MOST_STRETCH = 0.15  # the widest stretch an unreachable must-hit's alternative may suggest


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
    max_stretch: float = DEFAULT_MAX_STRETCH,
    fps: float = 24.0,
    beats: BeatGrid | None = None,
    duration: float | None = None,
    allow_half_beats: bool = False,
    allow_splices: bool = True,
    replans: int = REPLANS,
    weights=None,
    progress: Callable[[float, str], None] | None = None,
    priorities: Sequence[Priority] | None = None,
) -> AlignmentResult:
    """Warp `audio` `[C, N]` so its beats land on `cuts` (seconds); output lasts `duration`
    (default: the input's length) to the sample.

    `beats` lets an engine that knows its own grid skip tracking for the plan; the metrics
    always re-track the output. `priorities` `[M]` ranks each cut (`Priority`: must-hit
    markers, edit points, in-shot cuts, dissolves) and the plan spends its metre budget in that
    order; a must-hit it cannot reach is reported with the nearest reachable alternative.
    `weights` `[M]` sets each cut's worth directly instead (see `plan_alignment`).
    `progress(fraction, message)` hears about each stage.
    """
    report = progress or (lambda fraction, message: None)
    report(0.0, "tracking beats")
    cuts = np.asarray(cuts, dtype=np.float64).reshape(-1)
    if priorities is not None:
        weights = sync_weights(priorities)
    weights = np.ones(len(cuts)) if weights is None else np.asarray(weights, float).reshape(-1)
    if len(weights) == len(cuts):  # in time order, as the plan and the metrics keep them
        order = np.argsort(cuts, kind="stable")
        cuts, weights = cuts[order], weights[order]
        priorities = None if priorities is None else [priorities[i] for i in order]
    source_duration = audio.shape[1] / sample_rate
    duration = source_duration if duration is None else float(duration)
    before = track_beats(audio, sample_rate) if beats is None else beats
    options = dict(
        max_stretch=max_stretch,
        allow_half_beats=allow_half_beats,
        allow_splices=allow_splices,
        source_duration=source_duration,
        weights=weights,
    )
    avoid: frozenset = frozenset()
    best = None
    source_silence = silent_seconds(audio, sample_rate)

    must = frozenset(
        i for i, p in enumerate(priorities or ()) if p is Priority.MUST_HIT
    )  # a must-hit wants a beat the measurement is sure of

    def score(result: AlignmentResult) -> tuple:
        return _score(result, source_silence, weights, must)

    for round_ in range(replans + 1):
        at = 0.1 + 0.9 * round_ / (replans + 1)
        report(at, "planning, rendering, re-measuring")
        plan = plan_alignment(before, cuts, duration, avoid=avoid, **options)
        result = _render_and_measure(audio, sample_rate, plan, before, fps, report, at)
        if best is None or score(result) > score(best):
            best = result
        missed = _missed_anchors(result, min(0.050, 1.0 / fps), must)
        if not missed:
            break
        avoid = avoid | missed
    if not all(row["hit"] for row in best.metrics.per_cut) or _new_silence(best, source_silence):
        # never hand back worse than the music as it was
        as_is = _render_and_measure(
            audio, sample_rate, _as_is_plan(best.plan), before, fps, report, 0.95
        )
        best = as_is if score(as_is) > score(best) else best
    if priorities is not None and Priority.MUST_HIT in priorities:
        best = _with_alternatives(best, priorities, fps, options)
    report(1.0, "done")
    return best


def _with_alternatives(
    result: AlignmentResult, priorities: Sequence[Priority], fps: float, options: dict
) -> AlignmentResult:
    """`result` with each missed must-hit's nearest reachable alternative: move the marker to
    the delivered music's nearest beat (that beat is there whatever else the plan does), or
    allow the least stretch with which the plan would reach it."""
    missed = {u.index for u in result.plan.unhit if priorities[u.index] is Priority.MUST_HIT}
    if not missed:
        return result
    stretch = _stretch_that_reaches(result, missed, options)
    unhit = tuple(
        replace(u, alternative=_alternative(result, u, fps, stretch.get(u.index)))
        if u.index in missed
        else u
        for u in result.plan.unhit
    )
    plan = replace(result.plan, unhit=unhit)
    rows = [dict(row) for row in result.metrics.per_cut]
    for u in unhit:
        if u.alternative:
            rows[u.index]["alternative"] = u.alternative
    return replace(result, plan=plan, metrics=replace(result.metrics, per_cut=rows))


def _stretch_that_reaches(result: AlignmentResult, missed: set[int], options: dict) -> dict:
    """{cut index: the least stretch bound (a whole %, up to `MOST_STRETCH`) whose plan hits
    it}, for the missed cuts that one reaches."""
    found: dict[int, float] = {}
    bound = int(np.floor(options["max_stretch"] * 100 + 1e-9)) + 1
    for percent in range(bound, int(MOST_STRETCH * 100) + 1):
        wider = {**options, "max_stretch": percent / 100}
        plan = plan_alignment(result.beats_before, result.plan.cuts, result.plan.duration, **wider)
        for anchor in plan.anchors:
            if anchor.cut_index in missed:
                found.setdefault(anchor.cut_index, percent / 100)
        if len(found) == len(missed):
            break
    return found


def _alternative(result: AlignmentResult, cut: UnhitCut, fps: float, stretch) -> str:
    """ "move the marker 4 frames later, or allow 7 % stretch" (either part when only it helps)."""
    parts = []
    beats = result.beats_after.times
    if len(beats):
        nearest = float(beats[np.argmin(np.abs(beats - cut.time))])
        frames = max(int(round(abs(nearest - cut.time) * fps)), 1)
        side = "later" if nearest > cut.time else "earlier"
        parts.append(f"move the marker {frames} frame{'s' if frames > 1 else ''} {side}")
    if stretch is not None:
        parts.append(f"allow {stretch * 100:.0f} % stretch")
    return ", or ".join(parts) if parts else "no beat in the music to move it to"


def without_holes(
    audio: np.ndarray, sample_rate: int, result: AlignmentResult, fps: float, length: float
) -> tuple[AlignmentResult, str | None]:
    """`result`, or — when its audio is digitally silent for more than `HOLE_SHARE` of its
    first `length` seconds (the cue before its ending) more than the source music is over as
    long — the music unwarped, with a warning saying why. The last line of defence against a
    plan that reads past the music (issue 23); `align_to_cuts` already ranks such renders last.
    """
    length = min(length, result.audio.shape[1] / sample_rate)
    window = round(length * sample_rate)
    hole = silent_seconds(result.audio[:, :window], sample_rate)
    own = silent_seconds(audio[:, :window], sample_rate)
    if hole - own <= HOLE_SHARE * length:
        return result, None
    unwarped = _render_and_measure(
        audio, sample_rate, _as_is_plan(result.plan), result.beats_before, fps
    )
    warning = (
        f"the aligned music was silent for {hole:.2f} s of {length:.2f} s; the music went out "
        "unwarped instead (its cuts not aimed at)"
    )
    return unwarped, warning


def _as_is_plan(plan: AlignmentPlan) -> AlignmentPlan:
    """The music unwarped (only fitted to the cue's length); every cut reported as left, with
    the plan's own reason where the plan could not reach it either."""
    reason = "music left unwarped: no plan measured better than the music as it was"
    plain = plan_alignment(
        BeatGrid.empty(), np.zeros(0), plan.duration, source_duration=plan.source_duration
    )
    why = {u.index: u.reason for u in plan.unhit}
    unhit = tuple(UnhitCut(i, float(t), why.get(i, reason)) for i, t in enumerate(plan.cuts))
    return replace(plain, cuts=plan.cuts, unhit=unhit, stretch_bound=plan.stretch_bound)


def _render_and_measure(
    audio, sample_rate, plan, before, fps, report=None, at: float = 0.0
) -> AlignmentResult:
    """Render `plan` and re-measure it; `report(at, …)` hears of each of the two steps."""
    report = report or (lambda fraction, message: None)
    out = render_alignment(audio, sample_rate, plan)
    report(at, "re-tracking the beats")
    after = track_beats(out, sample_rate, tempo=before.tempo or None)  # a warp keeps the level
    report(at, "measuring the hits")
    metrics = metrics_from_beats(out, sample_rate, after, plan.cuts, fps, plan)
    plan = _with_measured_unhit(plan, metrics)
    return AlignmentResult(out, plan, metrics, before, after)


def _with_measured_unhit(plan: AlignmentPlan, metrics: AlignmentMetrics) -> AlignmentPlan:
    """The plan with `unhit` = exactly the cuts the output was measured to miss, each with a
    reason (the plan's own, or what the measurement found); a hit cut is never listed."""
    reasons = {row_index: row.get("reason") for row_index, row in enumerate(metrics.per_cut)}
    unhit = tuple(
        UnhitCut(i, float(row["time"]), reasons[i])
        for i, row in enumerate(metrics.per_cut)
        if not row["hit"]
    )
    return replace(plan, unhit=unhit)


def _missed_anchors(
    result: AlignmentResult, tolerance: float, must: frozenset = frozenset()
) -> frozenset:
    """(cut index, beat time) of anchors the re-measure found further than `tolerance` off,
    and of must-hits (`must`, cut indices) whose landing it cannot call sure."""
    rows = result.metrics.per_cut
    return frozenset(
        (a.cut_index, round(a.source, 6))
        for a in result.plan.anchors
        if rows[a.cut_index]["offset_ms"] is None
        or abs(rows[a.cut_index]["offset_ms"]) > tolerance * 1000
        or (a.cut_index in must and rows[a.cut_index].get("certain") is False)
    )


def _new_silence(result: AlignmentResult, source_silence: float) -> float:
    """Seconds of digital silence the render has beyond the music's own (a hole it made)."""
    return max(result.metrics.silence - source_silence, 0.0)


def _score(
    result: AlignmentResult,
    source_silence: float,
    weights: np.ndarray,
    must: frozenset = frozenset(),
) -> tuple:
    """No hole in the music first (a silent render never wins, not even a tie), then measured
    hits by their worth (±50 ms, then ±1 frame), then the gentler edit."""
    m = result.metrics
    hole = round(_new_silence(result, source_silence), 3)
    worth = weights if len(weights) == len(m.per_cut) else np.ones(len(m.per_cut))
    # a must-hit's landing counts in full only where the measurement is sure of it
    unsure = [i in must and row.get("certain") is False for i, row in enumerate(m.per_cut)]
    worth = np.asarray(worth) * np.where(unsure, 0.5, 1.0)
    hits = float(sum(w for w, row in zip(worth, m.per_cut, strict=True) if row["hit"]))
    close = float(sum(w for w, row in zip(worth, m.per_cut, strict=True) if row["hit_1frame"]))
    return (-hole, round(hits, 6), round(close, 6), -m.splices, -m.max_stretch)
