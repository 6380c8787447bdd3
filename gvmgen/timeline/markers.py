"""Markers an editor placed — on the timeline, a track or a clip — in one time frame, and what
they say: the one place that reads the editor's marker conventions.

A convention is a word at the start of a marker's name or note (its "Note" in Resolve, its
comment in OTIO and FCP7 XML; an EDL locator's text becomes the name), matched as a whole word
and case-insensitively, so `hit`, `hit: logo` and `HIT door slam` are must-hits and `history`
is not. `read_conventions` reads every convention of a range's markers into one typed value;
each convention is a small function beside `must_hits`, listed in `MarkerConventions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import opentimelineio as otio

from gvmgen.controls import ControlChange
from gvmgen.errors import InputError
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


# --- conventions: what a marker's leading word asks for ---------------------------------------

HIT_WORD = "hit"  # a sync point the music must land on: the top priority of the plan
# A marker whose name starts so (any case, `Cue A`, `cue 3`, `CUE-outro`) starts a new cue: the
# editor asks for new music there. A prefix, not a whole word, as editors have always used it.
CUE_MARKER_PREFIX = "cue"
# The editor's controls from a marker on (gvmgen.controls): `mood tense`, `intensity 8`,
# `tempo 96` (or `tempo 90-110`).
CONTROL_WORDS = ("mood", "intensity", "tempo")


@dataclass(frozen=True)
class MustHit:
    """A `hit` marker: the music must land a beat on `time` (relative to the range start).

    :ivar label: what follows the word, e.g. "logo" for "hit: logo" ("" for a bare "hit").
    """

    time: RationalTime
    label: str
    marker: TimelineMarker

    @property
    def seconds(self) -> float:
        return self.time.to_seconds()


@dataclass(frozen=True)
class MarkerConventions:
    """Everything the editor's markers ask of the score, one field per convention."""

    must_hits: tuple[MustHit, ...] = ()
    control_changes: tuple[ControlChange, ...] = ()
    warnings: tuple[str, ...] = ()  # markers that name a convention but cannot be read


def read_conventions(markers: list[TimelineMarker]) -> MarkerConventions:
    """Every convention of `markers` (as `markers_in_range` returns them)."""
    changes, warnings = control_changes(markers)
    return MarkerConventions(
        must_hits=must_hits(markers), control_changes=changes, warnings=warnings
    )


def is_cue_marker(marker: TimelineMarker) -> bool:
    """Whether the editor's marker starts a cue (its name begins with `CUE_MARKER_PREFIX`)."""
    return marker.name.strip().lower().startswith(CUE_MARKER_PREFIX)


def must_hits(markers: list[TimelineMarker]) -> tuple[MustHit, ...]:
    """The `hit` markers among `markers`, in time order (one per frame)."""
    found: dict[int, MustHit] = {}
    for marker in markers:
        label = leading_word(marker, HIT_WORD)
        if label is not None and marker.time.value not in found:
            found[marker.time.value] = MustHit(marker.time, label, marker)
    return tuple(found[frame] for frame in sorted(found))


def leading_word(marker: TimelineMarker, word: str) -> str | None:
    """What follows `word` when the marker's name, else its note, begins with it as a whole
    word (any case; a colon or dash after it is punctuation); None when neither does."""
    pattern = _word_pattern(word)
    for text in (marker.name, marker.comment):
        match = pattern.match(text or "")
        if match:
            return match.group(1).strip()
    return None


def _word_pattern(word: str) -> re.Pattern:
    # the word, then the end or a character that is not a letter, digit or underscore
    return re.compile(rf"\s*{re.escape(word)}(?![\w])[\s:;,.\-\u2013\u2014]*(.*)", re.I | re.S)


def control_changes(
    markers: list[TimelineMarker],
) -> tuple[tuple[ControlChange, ...], tuple[str, ...]]:
    """The `mood NAME`, `intensity N` and `tempo BPM` markers as changes from their time on (in
    time order; the last of one control on one frame wins), and one warning per such marker
    whose value cannot be read, naming it: a bad marker never stops a score."""
    found: dict[tuple[int, str], ControlChange] = {}
    warnings = []
    for marker in markers:
        for word in CONTROL_WORDS:
            value = leading_word(marker, word)
            if value is None:
                continue
            try:
                change = ControlChange(
                    marker.time.to_seconds(), word, _control_value(word, value), marker.name
                )
            except InputError as error:
                where = f"{marker.time.to_seconds():.2f} s into the range"
                reason = str(error).split(": ", 1)[-1]
                warnings.append(f"marker {marker.name!r} at {where} ignored: {reason}")
                continue
            found[marker.time.value, word] = change
    changes = tuple(found[key] for key in sorted(found))
    return changes, tuple(warnings)


def _control_value(word: str, text: str):
    from gvmgen.controls import check_intensity, check_mood, parse_tempo

    value = text.split()[0] if text.split() else ""
    if word == "mood":
        return check_mood(value)
    if word == "intensity":
        return check_intensity(value)
    return parse_tempo(text)
