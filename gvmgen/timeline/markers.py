"""Markers an editor placed — on the timeline, a track or a clip — in one time frame."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from gvmgen.timeline.flatten import seconds
from gvmgen.timeline.ranges import at_rate, nearest_frame, rate_fraction

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange


@dataclass(frozen=True)
class TimelineMarker:
    """A marker inside the selected range.

    :ivar time: relative to the selected range's start, whole frames at the timeline rate.
    :ivar color: OTIO's colour name ("RED", "GREEN", …) as the NLE wrote it.
    :ivar comment: the marker's note (OTIO `comment`, FCP7 `comment`, Resolve `Note`).
    """

    name: str
    time: RationalTime
    duration: RationalTime
    color: str
    comment: str


def markers_in_range(timeline: otio.schema.Timeline, selected: TimeRange) -> list[TimelineMarker]:
    """Timeline (stack), track and clip markers whose start lies inside `selected`, in time order.

    Clip markers are read from clips directly on enabled top-level tracks; a marker's range is
    in its owner's time and is mapped to track time here.
    """
    rate = selected.start_time.rate
    placed = [(m, seconds(m.marked_range.start_time)) for m in timeline.tracks.markers]
    for track in timeline.tracks:
        if not track.enabled:
            continue
        placed.extend(_owned_markers(track))
        for item in track:
            if isinstance(item, otio.schema.Clip) and item.enabled:
                placed.extend(_owned_markers(item))
    lo, hi = seconds(selected.start_time), seconds(selected.end_time_exclusive())
    found = [_marker(m, t - lo, rate) for m, t in placed if lo <= t < hi]
    return sorted(found, key=lambda m: (m.time.value, m.name))


def _owned_markers(item: otio.core.Item) -> list[tuple[otio.schema.Marker, Fraction]]:
    """Markers of `item` with their start in the parent's (track) time."""
    trimmed = item.trimmed_range()
    in_parent = item.range_in_parent()
    offset = seconds(in_parent.start_time) - seconds(trimmed.start_time)
    return [(m, seconds(m.marked_range.start_time) + offset) for m in item.markers]


def _marker(marker: otio.schema.Marker, time: Fraction, rate: float) -> TimelineMarker:
    frame = nearest_frame(time * rate_fraction(rate))
    return TimelineMarker(
        name=marker.name,
        time=RationalTime(frame, rate),
        duration=at_rate(marker.marked_range.duration, rate),
        color=str(marker.color or ""),
        comment=_comment(marker),
    )


def _comment(marker: otio.schema.Marker) -> str:
    """The marker's note wherever the NLE put it."""
    if getattr(marker, "comment", ""):
        return marker.comment
    for namespace, key in (("fcp_xml", "comment"), ("Resolve_OTIO", "Note")):
        value = marker.metadata.get(namespace, {}).get(key)
        if value:
            return str(value)
    return ""
