"""The frame rate of a CMX 3600 EDL, which the file never states.

What the file does say:

* a `;` between seconds and frames (or `FCM: DROP FRAME`) is drop-frame timecode: 29.97, or
  59.94 when a frame field passes 29;
* the largest frame field F rules out every timecode base ≤ F: a field of 24 cannot be 24 fps.
  The rate is the smallest base above F once a larger base is unlikely: with n non-zero frame
  fields spread evenly, a file at the next base would keep them all ≤ F with chance
  (F / (next − 1))^n, which must fall under `UNLIKELY`; else the file is ambiguous;
* within a base, timecode cannot tell NTSC from integer rates: base 24 reads as 24, base 30 as
  29.97 and base 60 as 59.94 (what EDLs of those bases nearly always are);
* the media's own rate, when the EDL names a file that exists, picks among the rates the frame
  fields leave open, and between a base's NTSC and integer rate; it never overrides what the
  frame fields settle (a 24 fps cut of 30 fps media stays 24).

An explicit rate (`--rate`) always wins, but must fit the frame fields.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from gvmgen.errors import TimelineError
from gvmgen.timeline.ranges import exact_rate

log = logging.getLogger(__name__)

# timecode base (frames counted per second) → the rate an EDL of that base is read at
BASE_RATES = {24: 24.0, 25: 25.0, 30: 30000 / 1001, 48: 48.0, 50: 50.0, 60: 60000 / 1001}
UNLIKELY = 0.01
_EVENT = re.compile(r"^\s*\d{3,}\s")
_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2}([:;.])(\d{2})\b")
_DROP_HEADER = re.compile(r"^\s*FCM:\s*DROP\s+FRAME", re.IGNORECASE | re.MULTILINE)

MediaRate = Callable[[], float | None]


class EdlRateError(TimelineError):
    """An EDL whose frame rate cannot be told, or a given rate its timecodes do not fit.

    :ivar fits: a rate the timecodes fit (to check the file parses at all), or None.
    """

    def __init__(self, message: str, fits: float | None = None):
        super().__init__(message)
        self.fits = fits


@dataclass(frozen=True)
class FrameFields:
    """What an EDL's event timecodes say about its rate."""

    largest: int  # the largest frame field
    nonzero: int  # how many frame fields are not 00
    drop_frame: bool


def frame_fields(text: str) -> FrameFields:
    """The frame fields of the event lines' timecodes (comments and titles are left out)."""
    fields, drop = [], bool(_DROP_HEADER.search(text))
    for line in text.splitlines():
        if not _EVENT.match(line):
            continue
        for separator, frame in _TIMECODE.findall(line):
            fields.append(int(frame))
            drop = drop or separator == ";"
    return FrameFields(max(fields, default=0), sum(1 for f in fields if f), drop)


_MEDIA_COMMENT = re.compile(
    r"^\*\s*(?:FROM CLIP(?! NAME)|FROM FILE|OTIO REFERENCE [A-Za-z]+)\s*:?\s*(?P<url>\S.*?)\s*$",
    re.IGNORECASE,
)


def media_mentions(text: str) -> list[str]:
    """The media paths or URLs the EDL's comments name (`* FROM CLIP:`, `* FROM FILE:`, as
    the cmx_3600 adapter reads them), in order, once each."""
    found = [m.group("url") for line in text.splitlines() if (m := _MEDIA_COMMENT.match(line))]
    return list(dict.fromkeys(found))


def timecode_base(rate: float) -> int:
    """Frames per timecode second at `rate` (30 at 29.97)."""
    return round(rate)


def edl_rate(
    text: str, name: str, rate: float | None = None, media_rate: MediaRate | None = None
) -> float:
    """The rate to read the EDL `text` at (see the module notes).

    :param name: the file, for messages.
    :param rate: the editor's rate (`--rate`); checked against the frame fields.
    :param media_rate: the rate of the media the EDL names, or None when none is found. It
        picks between the rates the timecodes leave open, and between a base's NTSC and
        integer rate (23.976 vs 24, 29.97 vs 30), never against what the timecodes settle.
    :raises EdlRateError: `rate` too low for the frame fields, or the rate cannot be told.
    """
    fields = frame_fields(text)
    if rate is not None:
        return _checked(exact_rate(rate), fields, name)
    if fields.drop_frame:
        return 30000 / 1001 if fields.largest < 30 else 60000 / 1001
    candidates = [base for base in BASE_RATES if base > fields.largest]
    if not candidates:
        raise EdlRateError(f"{name}: a frame field reaches {fields.largest}; no frame rate fits")
    found = media_rate() if media_rate is not None else None
    settled = _settled(fields, candidates)
    fits = [candidates[0]] if settled else candidates
    if found is not None and timecode_base(found) in fits:
        log.info("%s: read at its media's rate, %.3f fps", name, found)
        return exact_rate(found)
    if settled:
        return BASE_RATES[candidates[0]]
    options = " or ".join(f"{BASE_RATES[b]:.3f}".rstrip("0").rstrip(".") for b in candidates[:2])
    raise EdlRateError(
        f"{name}: cannot tell this EDL's frame rate: its frame fields reach only "
        f"{fields.largest}, which fits {options} fps (and the media it names was not found); "
        f"pass --rate (e.g. --rate {BASE_RATES[candidates[0]]:g})",
        fits=BASE_RATES[candidates[0]],
    )


def _settled(fields: FrameFields, candidates: list[int]) -> bool:
    """Whether the next larger base would have shown a larger frame field by now."""
    if len(candidates) == 1:
        return True
    following = candidates[1]
    chance = (fields.largest / (following - 1)) ** fields.nonzero
    return chance < UNLIKELY


def _checked(rate: float, fields: FrameFields, name: str) -> float:
    if fields.largest >= timecode_base(rate):
        raise EdlRateError(
            f"{name}: a frame field reaches {fields.largest}, but at --rate {rate:.3f} frames "
            f"run 00–{timecode_base(rate) - 1}; pass the EDL's real rate"
        )
    return rate
