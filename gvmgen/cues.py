"""Cue plan: where one piece of music ends and the next begins.

Pure functions over frame numbers at the timeline rate (exact, like OTIO's RationalTime at a
fixed rate). Cues begin where the editor put `cue…` markers; a stretch with no picture (a gap in
the timeline, or long black) is a rest of its own, so music ends where the picture goes away
and starts again where it comes back. Nothing else splits a cue: a section is one piece of music
however long (an engine with a window continues across its window edges by itself), so a batch
and a range plan the same cues for the same pictures.

No cue is shorter than `MIN_CUE_SECONDS`, unless the range, or the picture between two rests,
is: a sliver between a `cue` marker and a rest or the range's edge joins the music beside it,
and the plan says so, naming the marker. Two `cue` markers the editor placed always win,
however close.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

MIN_CUE_SECONDS = 4.0  # shorter music sounds like a sting, not a cue
MIN_HOLE_SECONDS = 2.0  # a gap or black stretch this long is a rest, not a pause in a cue
BLACK_LUMA = 20.0  # mean luma (0–255) under which a frame is black (video black is 16)


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


@dataclass(frozen=True)
class CuePlan:
    """The cues in order, and what the planner changed of the editor's markers, in words."""

    cues: tuple[Cue, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    name: str | None
    silent: bool
    at_marker: bool  # an editor's `cue` marker starts it


def plan_cues(
    total_frames: int,
    rate: float,
    marker_frames: Sequence[tuple[int, str]] = (),
    holes: Sequence[tuple[int, int]] = (),
    min_seconds: float = MIN_CUE_SECONDS,
) -> CuePlan:
    """Split `[0, total_frames)` into cues.

    Args:
        marker_frames: `(frame, name)` of the editor's `cue…` markers; each starts a cue.
        holes: `[start, end)` frames with no picture (see `picture_holes`); each becomes a
            rest, and its edges cue boundaries.
        min_seconds: the shortest music cue (see the module's rules).
    """
    if total_frames <= 0:
        raise ValueError(f"nothing to score: {total_frames} frames")
    pieces = _around_holes(_marker_spans(total_frames, marker_frames), holes)
    pieces, warnings = _without_slivers(pieces, round(min_seconds * rate), rate)
    cues = tuple(
        Cue(i, p.name or f"cue {i + 1}", p.start, p.end, p.silent) for i, p in enumerate(pieces)
    )
    return CuePlan(cues, tuple(warnings))


def _without_slivers(
    pieces: list[_Piece], shortest: int, rate: float
) -> tuple[list[_Piece], list[str]]:
    """Pieces of music shorter than `shortest` frames joined to the music beside them across
    the `cue` marker that made them; the warnings say which."""
    warnings = []
    while True:
        index = next((i for i, p in enumerate(pieces) if _is_sliver(pieces, i, shortest)), None)
        if index is None:
            return pieces, warnings
        sliver = pieces[index]
        if sliver.at_marker:  # the marker starts it: the music before it runs on
            before = pieces[index - 1]
            pieces[index - 1 : index + 1] = [replace(before, end=sliver.end)]
            marker, side = sliver, "the cue before it"
        else:  # the next cue's marker ends it: that cue starts earlier
            after = pieces[index + 1]
            pieces[index : index + 2] = [replace(after, start=sliver.start, at_marker=False)]
            marker, side = after, "its cue"
        seconds = (sliver.end - sliver.start) / rate
        where = "a rest or the range's edge"
        warnings.append(
            f"cue marker {marker.name!r} at {marker.start / rate:.2f} s left {seconds:.2f} s of "
            f"music between it and {where}; that music joins {side} (cues are at least "
            f"{shortest / rate:g} s; move the marker to keep it)"
        )


def _is_sliver(pieces: list[_Piece], i: int, shortest: int) -> bool:
    """Music under `shortest` that a `cue` marker cut off from music it can join."""
    piece = pieces[i]
    if piece.silent or piece.end - piece.start >= shortest:
        return False
    before = pieces[i - 1] if i > 0 else None
    after = pieces[i + 1] if i + 1 < len(pieces) else None
    ends_at_marker = after is not None and after.at_marker
    if piece.at_marker and ends_at_marker:
        return False  # two markers the editor placed: they win, however close
    joins_before = piece.at_marker and before is not None and not before.silent
    joins_after = ends_at_marker and not after.silent
    return joins_before or joins_after


def _around_holes(
    spans: list[tuple[int, int, str | None, bool]], holes: Sequence[tuple[int, int]]
) -> list[_Piece]:
    """`spans` cut at the holes' edges, the holes silent. A marker's name stays with the first
    piece of music of its span."""
    out = []
    for start, end, name, at_marker in spans:
        cursor = start
        for a, b in sorted(holes):
            a, b = max(a, start), min(b, end)
            if b <= a:
                continue
            if a > cursor:
                out.append(_Piece(cursor, a, name, False, at_marker and cursor == start))
                name = None
            out.append(_Piece(a, b, None, True, False))
            cursor = b
        if cursor < end:
            out.append(_Piece(cursor, end, name, False, at_marker and cursor == start))
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
) -> list[tuple[int, int, str | None, bool]]:
    """Spans between the editor's cue markers (named after them, flagged as starting at one);
    before the first, unnamed."""
    first_by_frame = dict(sorted((f, n) for f, n in markers if 0 <= f < total)[::-1])
    starts: list[tuple[int, str | None, bool]] = [(f, n, True) for f, n in first_by_frame.items()]
    starts.sort()
    if not starts or starts[0][0] != 0:
        starts.insert(0, (0, None, False))
    ends = [f for f, _, _ in starts[1:]] + [total]
    return [(a, b, name, flag) for (a, name, flag), b in zip(starts, ends, strict=True)]


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


def split_to_fit(plan: CuePlan, max_frames: int) -> CuePlan:
    """`plan` with every music cue longer than `max_frames` cut into equal parts, named after
    it ("cue 2 (1/3)"): the fallback when an engine runs out of memory on long cues. Rests
    are never cut (silence costs no memory)."""
    cues: list[Cue] = []
    for cue in plan.cues:
        parts = 1 if cue.silent else math.ceil(cue.frames / max(max_frames, 1))
        edges = [cue.start + round(k * cue.frames / parts) for k in range(parts + 1)]
        for k, (start, end) in enumerate(itertools.pairwise(edges)):
            name = cue.name if parts == 1 else f"{cue.name} ({k + 1}/{parts})"
            cues.append(Cue(len(cues), name, start, end, cue.silent))
    return CuePlan(tuple(cues), plan.warnings)
