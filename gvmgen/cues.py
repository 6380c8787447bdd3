"""Cue plan: where one piece of music ends and the next begins.

Pure functions over frame numbers at the timeline rate (exact, like OTIO's RationalTime at a
fixed rate). Markers named `cue…` are the editor's word and always win; otherwise cues split at
the strongest scene change that keeps every cue between `min_frames` and `max_frames`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_CUE_SECONDS = 8.0  # shorter cues sound like stings, not music
BATCH_CUE_SECONDS = 60.0  # batch mode's longest cue when the engine has no window of its own


@dataclass(frozen=True)
class CutMark:
    """A cut as the planner sees it: frame from the range start and how strong a change it is."""

    frame: int
    strength: float = 1.0  # 0..1; edit points between different shots are 1


@dataclass(frozen=True)
class Cue:
    index: int
    name: str
    start: int  # first frame, from the range start
    end: int  # one past the last frame

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
) -> list[Cue]:
    """Split `[0, total_frames)` into cues.

    Args:
        marker_frames: `(frame, name)` of the editor's `cue…` markers; each starts a cue.
        max_seconds: the longest cue (the engine window, or the batch length); inf = no split
            except at markers.
        min_seconds: the shortest cue a scene-change split may make (markers ignore it).
    """
    if total_frames <= 0:
        raise ValueError(f"nothing to score: {total_frames} frames")
    spans = _marker_spans(total_frames, marker_frames)
    max_frames = max(1, math.floor(max_seconds * rate)) if math.isfinite(max_seconds) else None
    min_frames = round(min_seconds * rate)
    bounds: list[tuple[int, int, str | None]] = []
    for start, end, name in spans:
        pieces = _split_span(start, end, cuts, max_frames, min_frames)
        for i, (a, b) in enumerate(pieces):
            part = name if len(pieces) == 1 or name is None else f"{name} ({i + 1})"
            bounds.append((a, b, part))
    return [Cue(i, name or f"cue {i + 1}", a, b) for i, (a, b, name) in enumerate(bounds)]


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
