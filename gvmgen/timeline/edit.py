"""A timeline range as the scoring pipeline sees it: visible segments, edit points and markers."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from gvmgen.errors import InputError, MissingMediaError, TimelineError
from gvmgen.timeline.flatten import Piece, seconds, track_dissolves, visible_pieces
from gvmgen.timeline.io import read_timeline_warned
from gvmgen.timeline.markers import TimelineMarker, markers_in_range
from gvmgen.timeline.media_refs import media_url, path_from_url
from gvmgen.timeline.ranges import (
    at_rate,
    check_long_enough,
    exact_rate,
    nearest_frame,
    parse_range,
    range_at_rate,
    range_form,
    range_text,
    rate_fraction,
    timecode,
    timeline_rate,
    uses_drop_frame,
)

log = logging.getLogger(__name__)

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

NO_FILE = "<no file reference>"
EDIT_POINTS_ONLY_HINT = "relink the media in the NLE and export again, or pass --edit-points-only"


@dataclass(frozen=True)
class Segment:
    """One visible piece of video (the top-most track wins).

    :ivar media_path: resolved absolute path; None if the clip has no file reference (titles,
        generators) or its media is missing and the edit was read with `allow_missing_media`.
    :ivar source_range: in media time (the clip's own rate and start timecode).
    :ivar record_range: in timeline time relative to the selected range's start.
    :ivar media_start: media time of the file's first frame (the reference's available range
        start, e.g. a camera file's 01:00:00:00); None when the timeline does not say.
    :ivar media_id: what names the media, to tell a through-edit from a cut: its URL, else the
        EDL reel; None when the timeline does not say (titles, missing references).
    """

    clip_name: str
    media_path: Path | None
    source_range: TimeRange
    record_range: TimeRange
    track_name: str
    media_start: RationalTime | None = None
    media_id: str | None = None

    def continues(self, before: Segment) -> bool:
        """True when this segment is the same shot running on from `before` (a through-edit:
        same media, source time continuous across the edit), so the picture does not change."""
        return (
            self.media_id is not None
            and self.media_id == before.media_id
            and self.record_range.start_time == before.record_range.end_time_exclusive()
            and self.source_range.start_time == before.source_range.end_time_exclusive()
        )

    @property
    def file_offset(self) -> float:
        """Seconds into the media file where this segment's first frame is."""
        start = self.source_range.start_time
        if self.media_start is not None:
            start = start - self.media_start
        return max(0.0, start.to_seconds())


@dataclass(frozen=True)
class Edit:
    """A timeline range ready for scoring.

    :ivar rate: timeline frame rate (23.976… is exactly 24000/1001 as a float).
    :ivar global_start: the timeline's start timecode as a time (01:00:00:00 → 86400 @ 24).
    :ivar range: the selected range in track time (excludes `global_start`).
    :ivar segments: visible video segments in record order.
    :ivar edit_points: cuts strictly inside the range, relative to its start (no 0, no end).
    :ivar markers: timeline, track and clip markers inside the range, relative to its start.
    :ivar timeline: the full input timeline (for writing the result back).
    :ivar transitions: dissolves/wipes whose midpoint is one of `edit_points`, relative to the
        range start (clipped to it) — the gradual changes a cut detector should not report.
    :ivar drop_frame: whether the timeline counts in drop-frame timecode (29.97/59.94 only;
        inferred from the start timecode, which OTIO keeps as a frame count).
    :ivar allow_missing_media: read with `--edit-points-only`: clips whose media is missing or
        unreadable contribute their edit points alone.
    :ivar through_edits: edits between two pieces of one shot (`Segment.continues`), relative to
        the range start: the picture does not change there, so they are not in `edit_points`.
    :ivar warnings: what reading it warned of, in the editor's words (an EDL read at its record
        times, media missing, `--rate` ignored): logged as said, and carried to the report.
    """

    name: str
    rate: float
    global_start: RationalTime
    range: TimeRange
    segments: list[Segment]
    edit_points: list[RationalTime]
    markers: list[TimelineMarker]
    source_path: Path | None
    timeline: otio.schema.Timeline
    transitions: list[TimeRange] = field(default_factory=list)
    drop_frame: bool = False
    through_edits: list[RationalTime] = field(default_factory=list)
    allow_missing_media: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def duration(self) -> RationalTime:
        return self.range.duration

    def timecode(self, time: RationalTime) -> str:
        """The NLE's timecode for `time` (relative to the range start), e.g. "01:00:12:03"."""
        absolute = self.global_start + self.range.start_time + time
        return timecode(absolute, self.rate, self.drop_frame)


def read_edit(
    path_or_timeline: str | os.PathLike | otio.schema.Timeline,
    range: TimeRange | str | None = None,  # shadows the builtin: the API says `range`
    allow_missing_media: bool = False,
    rate: float | None = None,
    media_rate: Callable[[Path], float | None] | None = None,
    min_seconds: float = 0.0,
) -> Edit:
    """The `Edit` for a range of a timeline file (or an already-read timeline).

    :param range: track-time range, `IN-OUT` text (see `parse_range`), or None for the whole
        timeline.
    :param allow_missing_media: keep going when media files are missing: their segments get
        `media_path=None` and the edit points stay.
    :param rate: frame rate of an EDL (they carry none); ignored by other formats.
    :param media_rate: a media file's frame rate (e.g. from probing it), used to tell the rate
        of an EDL whose timecodes leave it open (see `gvmgen.timeline.edl_rate`).
    :param min_seconds: the shortest range accepted (`MIN_RANGE_SECONDS` for scoring).
    :raises TimelineError: unreadable timeline, or a range outside it (the message gives the
        timeline's extent).
    :raises MissingMediaError: a visible clip's media is missing (names clip and path).
    :raises InputError: malformed range text, or a range under `min_seconds`.
    """
    timeline, source_path, warned = _timeline_and_path(path_or_timeline, rate, media_rate)
    tl_rate = timeline_rate(timeline, rate or 24.0)
    global_start = at_rate(timeline.global_start_time or RationalTime(0, tl_rate), tl_rate)
    drop_frame = uses_drop_frame(global_start, tl_rate)
    selected = _selected_range(timeline, range, tl_rate, global_start, drop_frame, min_seconds)
    where = _describe(selected, tl_rate, global_start, drop_frame)
    check_long_enough(int(selected.duration.value), tl_rate, min_seconds, where)
    base_dir = source_path.parent if source_path else None
    pieces = visible_pieces(list(timeline.video_tracks()))
    segments = _segments_in_range(pieces, selected, tl_rate, base_dir)
    segments = _with_media_checked(segments, allow_missing_media, warned)
    points = _edit_points(segments, selected.duration)
    through = _through_edits(segments)
    points = [p for p in points if p not in through]
    return Edit(
        name=timeline.name,
        rate=tl_rate,
        global_start=global_start,
        range=selected,
        segments=segments,
        edit_points=points,
        markers=markers_in_range(timeline, selected),
        source_path=source_path,
        timeline=timeline,
        transitions=_transitions_at(timeline, points, selected),
        drop_frame=drop_frame,
        through_edits=through,
        allow_missing_media=allow_missing_media,
        warnings=tuple(warned),
    )


def audio_track_segments(edit: Edit) -> list[list[Segment]]:
    """The clips of each enabled audio track inside the edit's range, one list per track (audio
    tracks mix, so none hides another), in the same frames as `Edit.segments`. A clip whose
    media is missing keeps its path: whoever reads the audio plays silence there."""
    base_dir = edit.source_path.parent if edit.source_path else None
    from gvmgen.timeline.score_track import METADATA_KEY, SCORE_TRACK_NAME

    tracks = []
    for track in edit.timeline.audio_tracks():
        if track.name.startswith(SCORE_TRACK_NAME) or any(
            METADATA_KEY in item.metadata for item in track
        ):  # music we placed before is not the timeline's own sound
            continue
        pieces = visible_pieces([track])
        found = _segments_in_range(pieces, edit.range, edit.rate, base_dir)
        tracks.append([segment for segment, needs_file in found if needs_file])
    return [t for t in tracks if t]


def _timeline_and_path(
    path_or_timeline: str | os.PathLike | otio.schema.Timeline,
    rate: float | None,
    media_rate: Callable[[Path], float | None] | None,
) -> tuple[otio.schema.Timeline, Path | None, list[str]]:
    """The timeline, its file, and what reading it warned of."""
    if isinstance(path_or_timeline, otio.schema.Timeline):
        return path_or_timeline, None, []
    path = Path(path_or_timeline).expanduser().absolute()
    timeline, warned = read_timeline_warned(path, rate=rate, media_rate=media_rate)
    return timeline, path, list(warned)


def _selected_range(
    timeline: otio.schema.Timeline,
    range_: TimeRange | str | None,
    rate: float,
    global_start: RationalTime,
    drop_frame: bool,
    min_seconds: float = 0.0,
) -> TimeRange:
    """The range to score in track time, whole frames at `rate`, checked against the timeline."""
    extent = TimeRange(RationalTime(0, rate), at_rate(timeline.duration(), rate))
    if extent.duration.value <= 0:
        raise TimelineError(f"timeline {timeline.name!r} is empty: it has no clips")
    if range_ is None:
        return extent
    if isinstance(range_, str):
        selected = parse_range(range_, rate, global_start)
    else:
        selected = range_at_rate(range_, rate)
        if selected.duration.value <= 0:
            raise InputError(f"range {range_} is empty; OUT must be after IN")
    if selected.start_time.value < 0 or selected.end_time_exclusive() > extent.end_time_exclusive():
        raise TimelineError(
            f"range {_describe(selected, rate, global_start, drop_frame)} is outside timeline "
            f"{timeline.name!r}, which runs {_describe(extent, rate, global_start, drop_frame)}"
            + _clamp_offer(selected, extent, range_, global_start, drop_frame, min_seconds),
            field="range",
        )
    return selected


def _clamp_offer(
    selected: TimeRange,
    extent: TimeRange,
    typed: TimeRange | str,
    global_start: RationalTime,
    drop_frame: bool,
    min_seconds: float,
) -> str:
    """`; the timeline ends at 01:00:29:12; use --range 01:00:10:00-01:00:29:12`: the part of
    the range inside the timeline, written as the editor wrote theirs, when it is long enough."""
    rate = extent.duration.rate
    start = max(selected.start_time.value, 0)
    end = min(selected.end_time_exclusive().value, extent.end_time_exclusive().value)
    edge = "starts" if selected.start_time.value < 0 else "ends"
    at = timecode((extent.start_time if edge == "starts" else extent.end_time_exclusive())
                  + global_start, rate, drop_frame)  # fmt: skip
    if end - start < max(1, math.ceil(min_seconds * rate_fraction(rate))):
        return f"; the timeline {edge} at {at}: mark a range inside it"
    form = range_form(typed) if isinstance(typed, str) else "timecode"
    clamped = TimeRange(RationalTime(start, rate), RationalTime(end - start, rate))
    return f"; the timeline {edge} at {at}; use --range " + range_text(
        clamped, form, global_start, drop_frame
    )


def _describe(
    time_range: TimeRange, rate: float, global_start: RationalTime, drop_frame: bool
) -> str:
    """`01:00:10:00–01:00:20:00 (10–20 s)`: how the editor reads it, and where it starts."""
    start, end = (
        time_range.start_time + global_start,
        time_range.end_time_exclusive() + global_start,
    )
    tc = f"{timecode(start, rate, drop_frame)}–{timecode(end, rate, drop_frame)}"
    start, end = time_range.start_time, time_range.end_time_exclusive()
    return f"{tc} ({float(seconds(start)):g}–{float(seconds(end)):g} s)"


def _segments_in_range(
    pieces: list[Piece], selected: TimeRange, rate: float, base_dir: Path | None
) -> list[tuple[Segment, bool]]:
    """Visible segments inside `selected`, each with whether its clip needs a media file."""
    lo, hi = seconds(selected.start_time), seconds(selected.end_time_exclusive())
    segments = []
    for piece in pieces:
        if piece.end <= lo or piece.start >= hi:
            continue
        visible = piece.sliced(max(piece.start, lo), min(piece.end, hi))
        segment = _segment(visible, lo, rate, base_dir)
        if segment.record_range.duration.value > 0:  # a sliver under a frame rounds away
            needs_file = not isinstance(piece.clip.media_reference, otio.schema.GeneratorReference)
            segments.append((segment, needs_file))
    return segments


def _segment(piece: Piece, origin: Fraction, rate: float, base_dir: Path | None) -> Segment:
    """`piece` as a Segment: record frames at the timeline rate counted from `origin`; source
    frames at the clip's own rate, as long as the record frames times the clip's speed."""
    record = _frames_range(piece.start - origin, piece.end - origin, rate)
    source_rate = exact_rate(piece.clip.trimmed_range().start_time.rate)
    source_fps = rate_fraction(source_rate)
    record_seconds = Fraction(record.duration.value) / rate_fraction(rate)
    source = TimeRange(
        RationalTime(nearest_frame(piece.source_start * source_fps), source_rate),
        RationalTime(nearest_frame(record_seconds * piece.speed * source_fps), source_rate),
    )
    url = media_url(piece.clip)
    path = path_from_url(url, base_dir) if url else None
    available = getattr(piece.clip.media_reference, "available_range", None)
    media_start = available.start_time if available is not None else None
    media_id = str(path) if path else _reel(piece.clip)
    return Segment(piece.clip.name, path, source, record, piece.track_name, media_start, media_id)


def _reel(clip: otio.schema.Clip) -> str | None:
    """The EDL reel (source tape) a clip comes from, when an EDL said."""
    reel = clip.metadata.get("cmx_3600", {}).get("reel")
    return f"reel:{reel}" if reel else None


def _frames_range(start: Fraction, end: Fraction, rate: float) -> TimeRange:
    """[start, end) seconds as whole frames at `rate`, each end rounded to the nearest frame."""
    fps = rate_fraction(rate)
    first, last = nearest_frame(start * fps), nearest_frame(end * fps)
    return TimeRange(RationalTime(first, rate), RationalTime(last - first, rate))


def _with_media_checked(
    segments: list[tuple[Segment, bool]], allow_missing: bool, warned: list[str]
) -> list[Segment]:
    """Segments whose media exists; a missing file raises, or drops its path when allowed
    (logged and added to `warned`)."""
    missing = [
        needs_file and (seg.media_path is None or not seg.media_path.exists())
        for seg, needs_file in segments
    ]
    if any(missing) and not allow_missing:
        names = [seg.clip_name for (seg, _), gone in zip(segments, missing, strict=True) if gone]
        first = next(seg for (seg, _), gone in zip(segments, missing, strict=True) if gone)
        others = len(set(names) - {first.clip_name})
        path = str(first.media_path) if first.media_path else NO_FILE
        raise MissingMediaError(first.clip_name, path, EDIT_POINTS_ONLY_HINT, also_missing=others)
    if any(missing):
        gone = {seg.clip_name for (seg, _), lost in zip(segments, missing, strict=True) if lost}
        named = ", ".join(sorted(gone)[:3]) + (" …" if len(gone) > 3 else "")
        alone = f"media missing for {len(gone)} clip(s) ({named}): using their edit points alone"
        warned.append(alone)
        log.warning(warned[-1])
    return [
        replace(seg, media_path=None) if gone else seg
        for (seg, _), gone in zip(segments, missing, strict=True)
    ]


def _edit_points(segments: list[Segment], duration: RationalTime) -> list[RationalTime]:
    """Every segment start and end strictly inside (0, duration), in order, once each."""
    frames = set()
    for segment in segments:
        frames.add(segment.record_range.start_time.value)
        frames.add(segment.record_range.end_time_exclusive().value)
    rate = duration.rate
    return [RationalTime(f, rate) for f in sorted(frames) if 0 < f < duration.value]


def _through_edits(segments: list[Segment]) -> list[RationalTime]:
    """Record times (from the range start) where a segment continues the one before it."""
    return [
        after.record_range.start_time
        for before, after in itertools.pairwise(segments)
        if after.continues(before)
    ]


def _transitions_at(
    timeline: otio.schema.Timeline, points: list[RationalTime], selected: TimeRange
) -> list[TimeRange]:
    """Transitions whose midpoint became an edit point, relative to the range start."""
    rate = selected.start_time.rate
    lo, hi = seconds(selected.start_time), seconds(selected.end_time_exclusive())
    point_frames = {p.value for p in points}
    found = []
    for track in timeline.video_tracks():
        for dissolve in track_dissolves(track):
            midpoint = _frames_range(dissolve.midpoint - lo, dissolve.midpoint - lo, rate)
            if midpoint.start_time.value in point_frames:
                start, end = max(dissolve.start, lo), min(dissolve.end, hi)
                found.append(_frames_range(start - lo, end - lo, rate))
    return sorted(found, key=lambda r: r.start_time.value)
