"""Frame rates, timecodes and the `IN-OUT` range text an editor types.

Everything here stays rational: frame counts are integers at the timeline rate, and NTSC rates
are snapped to their exact `n * 1000 / 1001` value so that OTIO's timecode functions accept them
and 01:00:00:00 at 23.976 is exactly frame 86400.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from fractions import Fraction

import opentimelineio as otio

from gvmgen.errors import InputError

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

# Integer rates whose NTSC sibling (rate * 1000/1001) editors call 23.976, 29.97, 47.952, 59.94 …
_NTSC_BASES = (24, 30, 48, 60, 120)
_DROP_FRAME_BASES = (30, 60)

MIN_RANGE_SECONDS = 2.0  # shorter than a few beats: no tempo to hear, no cut to land on
RANGE_FORMS = (
    "seconds from the start ('12.5-20'), "
    "absolute SMPTE timecodes ('01:00:10:00-01:00:20:00', ';' for drop-frame) "
    "or frames ('f240-f480')"
)


@functools.lru_cache(maxsize=64)
def exact_rate(rate: float) -> float:
    """`rate` snapped to the exact NTSC value when it is one written short (23.976 → 24000/1001).

    Resolve and the adapters write 23.976, 29.97 or the full double; OTIO's timecode functions
    accept only the exact double, and frame arithmetic should not depend on which was written.
    """
    rate = float(rate)
    for base in _NTSC_BASES:
        ntsc = base * 1000 / 1001
        if abs(rate - ntsc) < 5e-3:
            return ntsc
    if abs(rate - round(rate)) < 1e-6:
        return float(round(rate))
    return rate


@functools.lru_cache(maxsize=64)
def rate_fraction(rate: float) -> Fraction:
    """The rate as an exact fraction (24000/1001 for 23.976…): arithmetic that does not drift."""
    rate = exact_rate(rate)
    for base in _NTSC_BASES:
        if rate == base * 1000 / 1001:
            return Fraction(base * 1000, 1001)
    return Fraction(rate).limit_denominator(1001)


def is_drop_frame_rate(rate: float) -> bool:
    """True for 29.97 and 59.94, the rates SMPTE defines drop-frame timecode for."""
    return any(exact_rate(rate) == base * 1000 / 1001 for base in _DROP_FRAME_BASES)


def nearest_frame(frames: Fraction) -> int:
    """`frames` rounded half up — the same way everywhere, so abutting ranges stay abutting
    (Python's `round` goes half to even: 9.5 → 10 but 10.5 → 10)."""
    return math.floor(frames + Fraction(1, 2))


def at_rate(time: RationalTime, rate: float) -> RationalTime:
    """`time` as a whole number of frames at `rate` (rounded to the nearest frame)."""
    frames = Fraction(time.value) * rate_fraction(rate) / rate_fraction(time.rate)
    return RationalTime(nearest_frame(frames), exact_rate(rate))


def range_at_rate(time_range: TimeRange, rate: float) -> TimeRange:
    """`time_range` with start and end on whole frames at `rate` (duration = end - start)."""
    start = at_rate(time_range.start_time, rate)
    end = at_rate(time_range.end_time_exclusive(), rate)
    return TimeRange(start, RationalTime(end.value - start.value, start.rate))


def timecode(time: RationalTime, rate: float, drop_frame: bool | None = None) -> str:
    """SMPTE timecode of `time` at `rate`; drop-frame by default at 29.97/59.94."""
    rate = exact_rate(rate)
    frame = at_rate(time, rate)
    if frame.value < 0:
        return "-" + timecode(RationalTime(-frame.value, rate), rate, drop_frame)
    if drop_frame is None:
        drop_frame = is_drop_frame_rate(rate)
    return otio.opentime.to_timecode(frame, rate, drop_frame)


def uses_drop_frame(global_start: RationalTime | None, rate: float) -> bool:
    """Whether a timeline at `rate` starting at `global_start` counts in drop-frame timecode.

    OTIO stores no drop-frame flag, but editors start timelines on a round timecode: 107892
    frames at 29.97 is 01:00:00;00 in drop-frame and 00:59:56:12 in non-drop. The reading with
    more trailing zero fields wins; a tie (e.g. a start at 0) goes to drop-frame, the NTSC default.
    """
    if not is_drop_frame_rate(rate):
        return False
    if global_start is None:
        return True
    drop = _zero_fields(timecode(global_start, rate, drop_frame=True))
    return drop >= _zero_fields(timecode(global_start, rate, drop_frame=False))


def _zero_fields(text: str) -> int:
    """How many of the timecode's fields, counted from the frames field up, are zero."""
    fields = re.split(r"[:;]", text.lstrip("-"))
    count = 0
    for field in reversed(fields):
        if int(field):
            break
        count += 1
    return count


def parse_range(text: str, rate: float, global_start: RationalTime | None = None) -> TimeRange:
    """The track-time range an editor typed as `IN-OUT`.

    Seconds and frames count from the start of the timeline; SMPTE timecodes are absolute, as
    the editor reads them in the NLE, so `global_start` (e.g. 01:00:00:00) is subtracted. The
    result is whole frames at `rate` and excludes the global start, like OTIO track time.

    :raises InputError: text in none of the accepted forms, or an empty or negative range.
    """
    rate = exact_rate(rate)
    parts = _split_range(text)
    forms = {_form(part, text) for part in parts}
    if len(forms) > 1:
        raise InputError(f"range {text!r} mixes forms; write both ends alike: {RANGE_FORMS}")
    start, end = (_parse_point(part, text, rate) for part in parts)
    if forms == {"timecode"}:
        offset = at_rate(global_start, rate).value if global_start is not None else 0
        start, end = start - offset, end - offset
    if end <= start:
        raise InputError(f"range {text!r} is empty or runs backwards (OUT must be after IN)")
    return TimeRange(RationalTime(start, rate), RationalTime(end - start, rate))


def range_form(text: str) -> str:
    """Which form an `IN-OUT` text is written in: "seconds", "frames" or "timecode"."""
    return _form(_split_range(text)[0], text)


def range_text(
    time_range: TimeRange, form: str, global_start: RationalTime, drop_frame: bool
) -> str:
    """`time_range` (track time) as `IN-OUT` text in `form`, which `parse_range` reads back."""
    rate = time_range.start_time.rate
    start, end = time_range.start_time, time_range.end_time_exclusive()
    if form == "frames":
        return f"f{round(start.value)}-f{round(end.value)}"
    if form == "seconds":
        fps = rate_fraction(rate)
        return "-".join(
            f"{float(Fraction(round(t.value)) / fps):.3f}".rstrip("0").rstrip(".")
            for t in (start, end)
        )
    return "-".join(timecode(t + global_start, rate, drop_frame) for t in (start, end))


def check_long_enough(frames: int, rate: float, minimum: float, where: str) -> None:
    """Refuse a range of `frames` at `rate` shorter than `minimum` seconds.

    :param where: how the editor reads the range, e.g. "01:00:10:00–01:00:10:12 (10–10.5 s)".
    :raises InputError: naming the range, its length and the minimum in seconds and frames.
    """
    needed = math.ceil(minimum * rate_fraction(rate))
    if frames < needed:
        length = float(Fraction(frames) / rate_fraction(rate))
        raise InputError(
            f"range {where} is {length:g} s long; at least {minimum:g} s ({needed} frames at "
            f"{exact_rate(rate):.3f} fps) is needed: mark a longer range"
        )


def _split_range(text: str) -> tuple[str, str]:
    parts = [part.strip() for part in str(text).strip().split("-")]
    if len(parts) != 2 or not all(parts):
        raise InputError(f"range {text!r} is not IN-OUT; use {RANGE_FORMS}")
    return parts[0], parts[1]


_SECONDS = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")
_FRAMES = re.compile(r"^[fF](\d+)$")
_TIMECODE = re.compile(r"^\d{1,2}:\d{2}:\d{2}[:;.]\d{2,3}$")


def _form(point: str, text: str) -> str:
    """Which of the accepted forms one end of a range is written in."""
    for form, pattern in (("seconds", _SECONDS), ("frames", _FRAMES), ("timecode", _TIMECODE)):
        if pattern.match(point):
            return form
    raise InputError(f"range {text!r}: cannot read {point!r}; use {RANGE_FORMS}")


def _parse_point(point: str, text: str, rate: float) -> int:
    """One end of a range as a frame number at `rate` (timecodes still absolute)."""
    form = _form(point, text)
    if form == "seconds":
        return nearest_frame(Fraction(point) * rate_fraction(rate))
    if form == "frames":
        return int(point[1:])
    return _timecode_frame(point, text, rate)


def _timecode_frame(point: str, text: str, rate: float) -> int:
    drop = ";" in point
    frame_field = int(re.split(r"[:;.]", point)[-1])
    if frame_field >= round(rate):
        raise InputError(
            f"range {text!r}: {point!r} has frame {frame_field}, but a second has only "
            f"{round(rate)} frames at {rate:.3f} fps"
        )
    if drop and not is_drop_frame_rate(rate):
        raise InputError(
            f"range {text!r}: {point!r} is drop-frame (';') but the timeline runs at "
            f"{rate:.3f} fps; drop-frame exists only at 29.97 and 59.94 — use ':'"
        )
    if not drop:
        point = point.replace(";", ":").replace(".", ":")
    try:
        return round(otio.opentime.from_timecode(point, rate).value)
    except (ValueError, RuntimeError) as err:
        raise InputError(f"range {text!r}: {point!r} is not a timecode at {rate:.3f} fps") from err


def timeline_rate(timeline: otio.schema.Timeline, fallback: float = 24.0) -> float:
    """The timeline's frame rate.

    Its start timecode's rate where it has one; else the rate most of its video clips are laid
    out at (a clip's range takes its source's rate, so one 15 fps clip must not decide); else
    `fallback`. Rates under `_MIN_FRAME_RATE` are seconds-based bookkeeping, not frame rates.
    """
    start = timeline.global_start_time
    if start is not None and start.rate >= _MIN_FRAME_RATE:
        return exact_rate(start.rate)
    rates = Counter(
        exact_rate(clip.range_in_parent().duration.rate)
        for track in timeline.video_tracks()
        for clip in track.find_clips(shallow_search=True)
    )
    rates = Counter({rate: n for rate, n in rates.items() if rate >= _MIN_FRAME_RATE})
    return rates.most_common(1)[0][0] if rates else exact_rate(fallback)


_MIN_FRAME_RATE = 8.0
