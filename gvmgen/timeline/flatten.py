"""What the viewer shows: the video tracks flattened to one row of visible pieces.

`otio.algorithms.flatten_stack` lets a title on V3 hide every cut below it and cannot say where a
transition's picture change happens, so the flattening here is a sweep of its own:

* the top-most enabled clip wins at every instant; gaps and disabled clips/tracks are holes;
* clips with a generator reference (titles, text, adjustment layers) are overlays: they show only
  where no file-backed clip is visible beneath them;
* a transition moves the boundary between its two neighbours to the transition's midpoint — the
  moment the picture is half A, half B — so a trim inside a transition never fails;
* nested stacks and tracks are flattened recursively and mapped into their parent's time;
* `LinearTimeWarp` effects (speed changes, freeze frames) scale the source advance.

Times are exact `Fraction` seconds inside this module; the caller rounds to frames once.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, replace
from fractions import Fraction

import opentimelineio as otio

from gvmgen.timeline.ranges import rate_fraction


@dataclass(frozen=True)
class Piece:
    """A stretch of one clip that is visible, in the coordinates of the composition holding it.

    `source_start` is the media time (seconds) shown at `start`; media advances `speed` seconds
    per second of record time.
    """

    clip: otio.schema.Clip
    start: Fraction
    end: Fraction
    source_start: Fraction
    speed: Fraction = Fraction(1)
    overlay: bool = False
    track_name: str = ""

    def sliced(self, start: Fraction, end: Fraction) -> Piece:
        """The part of this piece between `start` and `end` (inside it)."""
        return replace(
            self,
            start=start,
            end=end,
            source_start=self.source_start + self.speed * (start - self.start),
        )

    def shifted(self, offset: Fraction) -> Piece:
        return replace(self, start=self.start + offset, end=self.end + offset)


@dataclass(frozen=True)
class Dissolve:
    """A transition between two visible pieces of one track: [start, end) and its midpoint."""

    start: Fraction
    end: Fraction
    midpoint: Fraction


def seconds(time: otio.opentime.RationalTime) -> Fraction:
    """`time` as exact seconds (NTSC rates taken as n*1000/1001)."""
    return Fraction(time.value) / rate_fraction(time.rate)


def visible_pieces(tracks: list[otio.schema.Track]) -> list[Piece]:
    """The pieces the viewer shows, in record order, for `tracks` listed bottom to top.

    Each piece carries the name of the top-level track it sits on ("V2" when unnamed).
    """
    layers = []
    for index, track in enumerate(tracks):
        name = track.name or f"V{index + 1}"
        layers.append([replace(p, track_name=name) for p in _item_pieces(track)])
    return top_most_pieces(layers)


def track_dissolves(track: otio.schema.Track) -> list[Dissolve]:
    """The transitions of an enabled top-level track, in track time."""
    if not track.enabled:
        return []
    dissolves = []
    for item in track:
        if isinstance(item, otio.schema.Transition):
            span = item.range_in_parent()
            _, midpoint = _cut_and_midpoint(item)
            start, end = seconds(span.start_time), seconds(span.end_time_exclusive())
            dissolves.append(Dissolve(start, end, midpoint))
    return dissolves


def top_most_pieces(layers: list[list[Piece]]) -> list[Piece]:
    """Flatten layers (bottom to top, each sorted and non-overlapping): top-most opaque wins."""
    bounds = sorted({t for layer in layers for p in layer for t in (p.start, p.end)})
    starts = [[p.start for p in layer] for layer in layers]
    flat: list[Piece] = []
    for a, b in itertools.pairwise(bounds):
        piece = _winner(layers, starts, a)
        if piece is None:
            continue
        if (
            flat
            and flat[-1].clip is piece.clip
            and flat[-1].end == a
            and _continues(flat[-1], piece)
        ):
            flat[-1] = replace(flat[-1], end=b)
        else:
            flat.append(piece.sliced(a, b))
    return flat


def _winner(layers: list[list[Piece]], starts: list[list[Fraction]], t: Fraction) -> Piece | None:
    """The piece visible at `t`: the top-most opaque one, else the top-most overlay."""
    overlay = None
    for layer, layer_starts in zip(reversed(layers), reversed(starts), strict=True):
        i = bisect.bisect_right(layer_starts, t) - 1
        if i >= 0 and layer[i].end > t:
            if not layer[i].overlay:
                return layer[i]
            overlay = overlay or layer[i]
    return overlay


def _continues(before: Piece, after: Piece) -> bool:
    """True when `after` is the same stretch of media running on from `before`."""
    return before.source_start + before.speed * (after.start - before.start) == after.source_start


def _item_pieces(item: otio.core.Item) -> list[Piece]:
    """Visible pieces of `item` in its own (trimmed) time."""
    if not item.enabled or isinstance(item, otio.schema.Gap):
        return []
    if isinstance(item, otio.schema.Clip):
        return _clip_pieces(item)
    if isinstance(item, otio.schema.Track):
        return _track_pieces(item)
    if isinstance(item, otio.schema.Stack):
        return top_most_pieces([_in_parent_time(child) for child in item])
    return []


def _clip_pieces(clip: otio.schema.Clip) -> list[Piece]:
    trimmed = clip.trimmed_range()
    start, end = seconds(trimmed.start_time), seconds(trimmed.end_time_exclusive())
    if end <= start:
        return []
    overlay = isinstance(clip.media_reference, otio.schema.GeneratorReference)
    return [Piece(clip, start, end, start, _speed(clip), overlay)]


def _speed(clip: otio.schema.Clip) -> Fraction:
    speed = Fraction(1)
    for effect in clip.effects:
        if isinstance(effect, otio.schema.LinearTimeWarp):
            speed *= Fraction(effect.time_scalar).limit_denominator(10000)
    return speed


def _track_pieces(track: otio.schema.Track) -> list[Piece]:
    pieces: list[Piece] = []
    moved_cut = None  # (cut, midpoint) of the transition just passed
    for child in track:
        if isinstance(child, otio.schema.Transition):
            moved_cut = _cut_and_midpoint(child)
            pieces = _ending_moved(pieces, *moved_cut)
            continue
        child_pieces = _in_parent_time(child)
        if moved_cut is not None:
            child_pieces = _starting_moved(child_pieces, *moved_cut)
            moved_cut = None
        pieces.extend(child_pieces)
    return _clipped(pieces, track.trimmed_range())


def _cut_and_midpoint(transition: otio.schema.Transition) -> tuple[Fraction, Fraction]:
    """Where the two clips meet in the track, and the transition's midpoint (the new edit)."""
    span = transition.range_in_parent()
    cut = seconds(span.start_time + transition.in_offset)
    return cut, seconds(span.start_time) + seconds(span.duration) / 2


def _ending_moved(pieces: list[Piece], cut: Fraction, midpoint: Fraction) -> list[Piece]:
    """`pieces` with the one ending at `cut` ending at `midpoint` (its tail handle plays on)."""
    if not pieces or pieces[-1].end != cut or midpoint <= pieces[-1].start:
        return pieces
    return [*pieces[:-1], replace(pieces[-1], end=midpoint)]


def _starting_moved(pieces: list[Piece], cut: Fraction, midpoint: Fraction) -> list[Piece]:
    """`pieces` with the one starting at `cut` starting at `midpoint`.

    Before the cut the incoming clip shows its head handle: media before its source in.
    """
    if not pieces or pieces[0].start != cut or midpoint >= pieces[0].end:
        return pieces
    first = pieces[0]
    source_start = first.source_start + first.speed * (midpoint - first.start)
    return [replace(first, start=midpoint, source_start=source_start), *pieces[1:]]


def _in_parent_time(item: otio.core.Item) -> list[Piece]:
    """Pieces of a child item mapped into its parent's time, clipped to the child's extent."""
    in_parent = item.range_in_parent()
    trimmed = item.trimmed_range()
    offset = seconds(in_parent.start_time) - seconds(trimmed.start_time)
    return [p.shifted(offset) for p in _clipped(_item_pieces(item), trimmed)]


def _clipped(pieces: list[Piece], extent: otio.opentime.TimeRange) -> list[Piece]:
    lo, hi = seconds(extent.start_time), seconds(extent.end_time_exclusive())
    return [
        p.sliced(max(p.start, lo), min(p.end, hi)) for p in pieces if p.end > lo and p.start < hi
    ]
