"""EDL events whose source length differs from their record length.

Some tools write an EDL of stills or titles with every source timecode the same and the source
out left wherever (OpenTimelineIO's own `timecode_mismatch.edl`: each still runs 01:00:00:00
to some source out that is not its record length). The cmx_3600 adapter refuses such a file;
with `ignore_timecode_mismatch` it lays each clip out by its *source* length, which moves
its cut off the record timecode and invents a cut to a gap further on.

Scoring needs the record times, what the timeline shows. So a plain cut (`C`, no `M2` speed
change, no freeze frame, which the adapter already times by the record) gets its source out
set to source in + record length before the adapter reads it; what is left (a dissolve's
event, say) gets the adapter's `ignore_timecode_mismatch`, and the editor a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import opentimelineio as otio

_TC = r"\d{2}:\d{2}:\d{2}[:;.]\d{2}"
_EVENT = re.compile(r"^\s*\d{3,}\s")
_CUT = re.compile(
    rf"^(?P<head>\s*(?P<number>\d{{3,}})\s+\S+\s+\S+\s+C\s+)(?P<src_in>{_TC})(?P<gap>\s+)"
    rf"(?P<src_out>{_TC})(?P<rest>\s+(?P<rec_in>{_TC})\s+(?P<rec_out>{_TC})\s*)$"
)
_RETIMED_BY_ADAPTER = re.compile(r"^\s*M2\s|FREEZE FRAME", re.IGNORECASE)


@dataclass(frozen=True)
class Mismatch:
    """One event whose source and record lengths differ (frames at the EDL's rate)."""

    event: str  # the event number as written, e.g. "004"
    source_frames: int
    record_frames: int


def record_timed(text: str, rate: float) -> tuple[str, list[Mismatch]]:
    """`text` with each mismatched plain cut's source out set to source in + record length,
    and those cuts (events the adapter times by the record itself are left alone)."""
    lines = text.splitlines(keepends=True)
    found = []
    for index, line in enumerate(lines):
        match = _CUT.match(line.rstrip("\r\n"))
        if match is None:
            continue
        src_in, src_out = _frames(match["src_in"], rate), _frames(match["src_out"], rate)
        rec_in, rec_out = _frames(match["rec_in"], rate), _frames(match["rec_out"], rate)
        if src_out - src_in == rec_out - rec_in or _retimed_by_adapter(lines, index):
            continue
        found.append(Mismatch(match["number"], src_out - src_in, rec_out - rec_in))
        out = _timecode(src_in + rec_out - rec_in, rate, match["src_out"])
        ending = line[len(line.rstrip("\r\n")) :]
        lines[index] = f"{match['head']}{match['src_in']}{match['gap']}{out}{match['rest']}"
        lines[index] += ending
    return "".join(lines), found


def describe(name: str, found: list[Mismatch]) -> str:
    """The editor's warning: how many events, the first of them, and what was done."""
    first = found[0]
    return (
        f"{name}: {len(found)} event(s) have a source length that differs from their record "
        f"length (first: event {first.event}, source {first.source_frames} frames, record "
        f"{first.record_frames}); read at their record times, as the timeline shows them"
    )


_ADAPTER_MISMATCH = re.compile(
    r"RationalTime\((?P<src>[\d.]+), [\d.]+\) != RationalTime\((?P<rec>[\d.]+), [\d.]+\)"
    r" for clip (?P<clip>.*)$"
)


def laid_out_by_source(name: str, adapter_message: str) -> str:
    """The warning for an event left to the adapter's `ignore_timecode_mismatch`."""
    match = _ADAPTER_MISMATCH.search(adapter_message.strip())
    what = (
        f"clip {match['clip']!r} is {float(match['src']):g} frames long at its source but "
        f"{float(match['rec']):g} on the record"
        if match
        else adapter_message.strip()
    )
    return (
        f"{name}: {what}; read by its source length, so the cuts from there on may sit off "
        "their record timecodes"
    )


def _retimed_by_adapter(lines: list[str], index: int) -> bool:
    """Whether an M2 or freeze-frame line belongs to the event at `index`."""
    for line in lines[index + 1 :]:
        if _EVENT.match(line):
            return False
        if _RETIMED_BY_ADAPTER.search(line):
            return True
    return False


def _frames(text: str, rate: float) -> int:
    return round(otio.opentime.from_timecode(text, rate).value)


def _timecode(frames: int, rate: float, like: str) -> str:
    """`frames` as a timecode written like `like` (drop-frame when it has a ';')."""
    time = otio.opentime.RationalTime(frames, rate)
    return otio.opentime.to_timecode(time, rate, ";" in like)
