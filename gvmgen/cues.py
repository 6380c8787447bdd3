"""Cue plan: where one piece of music ends and the next begins.

Pure functions over frame numbers at the timeline rate (exact, like OTIO's RationalTime at a
fixed rate). Markers named `cue…` are the editor's word and always win; a stretch with no
picture (a gap in the timeline, or long black) is a silent cue of its own, so music ends where
the picture goes away and starts again where it comes back; otherwise cues split at the
strongest scene change that keeps every cue between `min_frames` and `max_frames`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_CUE_SECONDS = 8.0  # shorter cues sound like stings, not music
BATCH_CUE_SECONDS = 60.0  # batch mode's longest cue when the engine has no window of its own
MIN_HOLE_SECONDS = 2.0  # a gap or black stretch this long is a rest, not a pause in a cue
BLACK_LUMA = 20.0  # mean luma (0–255) under which a frame is black (video black is 16)


@dataclass(frozen=True)
class CutMark:
    """A cut as the planner sees it: frame from the range start and how strong a change it is."""

    frame: int
    strength: float = 1.0  # 0..1; edit points between different shots are 1


@dataclass(frozen=True)
class Cue:
    """A piece of music (or, with `silent`, a rest over a gap or long black)."""

    index: int
    name: str
    start: int  # first frame, from the range start
    end: int  # one past the last frame
    silent: bool = False

    @property
    def frames(self) -> int:
        return self.end - self.start


def plan_cues(
    total_frames: int,
    rate: float,
    cuts: Sequence[CutMark],
    marker_frames: Sequence[tuple[int, str]] = (),
    max_seconds: float = math.inf,
    min_seconds: float = MIN_CUE_SECONDS,
    holes: Sequence[tuple[int, int]] = (),
) -> list[Cue]:
    """Split `[0, total_frames)` into cues.

    Args:
        marker_frames: `(frame, name)` of the editor's `cue…` markers; each starts a cue.
        max_seconds: the longest cue (the engine window, or the batch length); inf = no split
            except at markers.
        min_seconds: the shortest cue a scene-change split may make (markers ignore it).
        holes: `[start, end)` frames with no picture (see `picture_holes`); each becomes a
            silent cue, and its edges cue boundaries, however long or short the cues around.
    """
    if total_frames <= 0:
        raise ValueError(f"nothing to score: {total_frames} frames")
    spans = _around_holes(_marker_spans(total_frames, marker_frames), holes)
    max_frames = max(1, math.floor(max_seconds * rate)) if math.isfinite(max_seconds) else None
    min_frames = round(min_seconds * rate)
    bounds: list[tuple[int, int, str | None, bool]] = []
    for start, end, name, silent in spans:
        pieces = [(start, end)] if silent else _split_span(start, end, cuts, max_frames, min_frames)
        for i, (a, b) in enumerate(pieces):
            part = name if len(pieces) == 1 or name is None else f"{name} ({i + 1})"
            bounds.append((a, b, part, silent))
    return [
        Cue(i, name or f"cue {i + 1}", a, b, silent)
        for i, (a, b, name, silent) in enumerate(bounds)
    ]


def _around_holes(
    spans: list[tuple[int, int, str | None]], holes: Sequence[tuple[int, int]]
) -> list[tuple[int, int, str | None, bool]]:
    """`spans` cut at the holes' edges: `(start, end, name, silent)`, the holes silent. A
    marker's name stays with the first piece of music of its span."""
    out = []
    for start, end, name in spans:
        cursor = start
        for a, b in sorted(holes):
            a, b = max(a, start), min(b, end)
            if b <= a:
                continue
            if a > cursor:
                out.append((cursor, a, name, False))
                name = None
            out.append((a, b, None, True))
            cursor = b
        if cursor < end:
            out.append((cursor, end, name, False))
    return out


def picture_holes(
    segment_frames: Sequence[tuple[int, int]],
    total_frames: int,
    rate: float,
    black: Sequence[tuple[int, int]] = (),
    min_seconds: float = MIN_HOLE_SECONDS,
) -> list[tuple[int, int]]:
    """Stretches of at least `min_seconds` with no picture: gaps between the visible segments
    (`[start, end)` record frames) and `black` runs, merged, in order."""
    covered = sorted(segment_frames)
    gaps, cursor = [], 0
    for a, b in covered:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < total_frames:
        gaps.append((cursor, total_frames))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(gaps + list(black)):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    shortest = math.ceil(min_seconds * rate)
    return [(a, b) for a, b in merged if b - a >= shortest]


def black_runs(brightness: Sequence[float], first_frames: Sequence[int]) -> list[tuple[int, int]]:
    """`[start, end)` frames where the picture is black (mean luma under `BLACK_LUMA`), from
    per-frame brightness and the frame number of each value."""
    runs, start, last = [], None, None
    for value, frame in zip(brightness, first_frames, strict=True):
        if value < BLACK_LUMA and (start is None or frame == last + 1):
            start = frame if start is None else start
        elif value < BLACK_LUMA:
            runs.append((start, last + 1))
            start = frame
        elif start is not None:
            runs.append((start, last + 1))
            start = None
        last = frame
    if start is not None:
        runs.append((start, last + 1))
    return runs


def _marker_spans(
    total: int, markers: Sequence[tuple[int, str]]
) -> list[tuple[int, int, str | None]]:
    """Spans between the editor's cue markers (named after them); before the first, unnamed."""
    first_by_frame = dict(sorted((f, n) for f, n in markers if 0 <= f < total)[::-1])
    starts: list[tuple[int, str | None]] = sorted(first_by_frame.items())
    if not starts or starts[0][0] != 0:
        starts.insert(0, (0, None))
    ends = [f for f, _ in starts[1:]] + [total]
    return [(a, b, name) for (a, name), b in zip(starts, ends, strict=True)]


# Costs of the split search: a cue boundary on a strong scene change is nearly free, one on a
# weak cut costs more, one where nothing changes on screen (only to respect the window) most;
# a cue shorter than the minimum costs more than any boundary.
BOUNDARY_COST = 0.5
NO_CUT_COST = 2.0
SHORT_CUE_COST = 5.0


def _split_span(
    start: int, end: int, cuts: Sequence[CutMark], max_frames: int | None, min_frames: int
) -> list[tuple[int, int]]:
    """Cheapest split of `[start, end)` into cues of at most `max_frames` (a small DP).

    Candidates are the cuts inside the span plus a grid of plain positions (so a span with no
    usable cut still splits); the DP picks the boundaries that minimise the costs above.
    """
    if max_frames is None or end - start <= max_frames:
        return [(start, end)]
    cost_at = _boundary_costs(start, end, cuts, max_frames)
    points = [start, *sorted(cost_at), end]
    best, back = [0.0] + [math.inf] * (len(points) - 1), [0] * len(points)
    for j in range(1, len(points)):
        boundary = cost_at.get(points[j], 0.0)
        for i in range(j - 1, -1, -1):
            length = points[j] - points[i]
            if length > max_frames:
                break
            cost = best[i] + boundary + (SHORT_CUE_COST if length < min_frames else 0.0)
            if cost < best[j]:
                best[j], back[j] = cost, i
    return _walk_back(points, back)


def _boundary_costs(start: int, end: int, cuts: Sequence[CutMark], max_frames: int) -> dict:
    step = max(1, max_frames // 30)
    costs = {f: NO_CUT_COST for f in range(start + step, end, step)}
    for cut in cuts:
        if start < cut.frame < end:
            costs[cut.frame] = BOUNDARY_COST + (1.0 - min(max(cut.strength, 0.0), 1.0))
    return costs


def _walk_back(points: list[int], back: list[int]) -> list[tuple[int, int]]:
    pieces, j = [], len(points) - 1
    while j > 0:
        pieces.append((points[back[j]], points[j]))
        j = back[j]
    return pieces[::-1]


def analysis_holes(analysis) -> list[tuple[int, int]]:
    """`picture_holes` of a `gvmgen.analysis.Analysis`: the edit's gaps and the black its
    media shows, as `[start, end)` frames from the range start at the timeline rate."""
    rate = float(analysis.rate)
    total = round(analysis.duration * rate)
    segments = [
        (int(s.record_range.start_time.value), int(s.record_range.end_time_exclusive().value))
        for s in analysis.edit.segments
    ]
    brightness = getattr(analysis, "brightness", None)
    black = []
    if brightness is not None and len(brightness):
        frames = [round(t * rate) for t in analysis.motion_times]
        black = black_runs(brightness, frames)
    return picture_holes(segments, total, rate, black)
