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


def _split_span(
    start: int, end: int, cuts: Sequence[CutMark], max_frames: int | None, min_frames: int
) -> list[tuple[int, int]]:
    """Greedy left-to-right split at the strongest cut inside each allowed window."""
    pieces = []
    while max_frames is not None and end - start > max_frames:
        split = _best_split(start, end, cuts, max_frames, min_frames)
        pieces.append((start, split))
        start = split
    pieces.append((start, end))
    return pieces


def _best_split(
    start: int, end: int, cuts: Sequence[CutMark], max_frames: int, min_frames: int
) -> int:
    """The strongest cut in the window that leaves room for the rest; else the window's end.

    The window keeps the remainder splittable: a split must leave at least `min_frames` after
    it, and no more than the remaining pieces can hold.
    """
    lo = start + min(min_frames, max_frames // 2)
    hi = min(start + max_frames, end - min(min_frames, max_frames // 2))
    inside = [c for c in cuts if lo <= c.frame <= hi]
    if not inside:
        return max(lo, min(hi, start + max_frames))
    # strongest first; among equals the latest, so cues come out as long as allowed
    return max(inside, key=lambda c: (round(c.strength, 3), c.frame)).frame
