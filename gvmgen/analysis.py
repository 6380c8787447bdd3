"""Cuts and motion of a media file or a timeline range: the `gvmgen analyze` contract.

A bare video becomes a one-clip timeline, so both kinds of input take the same path: the
timeline's edit points, plus the shot changes found inside each visible segment's media,
merged into one list of cuts in the scored range's time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import opentimelineio as otio

from gvmgen import timeline
from gvmgen.errors import InputError, MediaError
from gvmgen.media.cuts import Cut, detect_shots, merge_cuts
from gvmgen.media.video import probe
from gvmgen.progress import ProgressFn, check_cancel, report, scaled
from gvmgen.timeline.edit import Edit
from gvmgen.timeline.ranges import MIN_RANGE_SECONDS

log = logging.getLogger(__name__)

TIMELINE_SUFFIXES = {".otio", ".otiod", ".otioz", ".xml", ".edl", ".aaf", ".fcpxml"}


@dataclass(frozen=True)
class Analysis:
    """The cuts of one input over the analysed range. Times are seconds from the range start."""

    input: Path
    kind: str  # "video" | "timeline"
    rate: float  # frames per second of the input (the timeline's rate for timelines)
    duration: float
    cuts: list  # list[gvmgen.media.cuts.Cut], sorted by time
    motion_times: np.ndarray  # float64 [F]
    motion: np.ndarray  # float32 [F] in [0, 1]
    edit: Edit | None  # the range analysed (None: a unit test's cuts without a timeline)
    brightness: np.ndarray | None = None  # float32 [F] mean luma (0–255) at `motion_times`
    warnings: tuple[str, ...] = ()  # clips left to their edit points (media not decodable)

    def to_json(self) -> dict:
        return {
            "input": str(self.input),
            "kind": self.kind,
            "duration": round(self.duration, 6),
            "rate": self.rate,
            "range": _range_text(self.edit),
            "cuts": [
                {
                    "time": round(c.time, 6),
                    "frame": c.frame,
                    "record": timecode_at(self.edit, c.frame),
                    "kind": c.kind,
                }
                for c in self.cuts
            ],
        }


def is_timeline(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TIMELINE_SUFFIXES


def load_edit(
    path: str | Path,
    range_text: str | None = None,
    allow_missing_media: bool = False,
    rate: float | None = None,
    min_seconds: float | None = None,
):
    """The `Edit` of a timeline file, or of a one-clip timeline made from a bare video.

    :param rate: an EDL's frame rate (`--rate`); without it the rate is told from the EDL's
        timecodes or the media it names (probed), see `gvmgen.timeline.edl_rate`.
    :param min_seconds: the shortest range accepted; None: `MIN_RANGE_SECONDS`, what scoring
        needs (a few beats); `analyze_input` takes any length.
    :raises InputError: a range (or a whole input) under `min_seconds`.
    """
    min_seconds = MIN_RANGE_SECONDS if min_seconds is None else min_seconds
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {str(path)!r}")
    if path.is_dir() and path.suffix.lower() != ".otiod":
        raise InputError(f"input is a folder, not a video or timeline: {str(path)!r}")
    if is_timeline(path):
        edit = timeline.read_edit(
            path,
            range_text,
            allow_missing_media=allow_missing_media,
            rate=rate,
            media_rate=_media_rate,
            min_seconds=min_seconds,
        )
    else:
        edit = timeline.read_edit(_clip_timeline(path), range_text, min_seconds=min_seconds)
    if rate is not None and path.suffix.lower() != ".edl":
        kind = "timeline" if is_timeline(path) else "video"
        ignored = (
            f"--rate {rate:g} ignored: {path.name} is a {kind} file, which carries its own rate "
            f"({float(edit.rate):.3f} fps); --rate is for EDLs"
        )
        log.warning(ignored)
        edit = replace(edit, warnings=(*edit.warnings, ignored))
    return edit


def _media_rate(path: Path) -> float | None:
    """A media file's frame rate, or None when it cannot be read as video."""
    try:
        return float(probe(path).rate)
    except MediaError:
        return None


def _clip_timeline(path: Path):
    info = probe(path)
    rate = float(info.rate)
    frames = info.frame_count or round(info.duration * rate)
    if frames <= 0:
        raise MediaError(f"{str(path)!r} has no video frames")
    return timeline.single_clip_timeline(path.resolve(), rate, frames)


def analyze_input(
    path: str | Path,
    range_text: str | None = None,
    allow_missing_media: bool = False,
    rate: float | None = None,
) -> Analysis:
    """Cuts (edit points ∪ shot changes) and motion of `path` over `range_text` (or all of it).

    :param rate: an EDL's frame rate (see `load_edit`); other inputs carry their own.

    Any length is analysed (a cut list of half a second is still a cut list); scoring refuses
    ranges under `MIN_RANGE_SECONDS`.
    """
    edit = load_edit(path, range_text, allow_missing_media, rate, min_seconds=0.0)
    return analyze_edit(edit, Path(path), "timeline" if is_timeline(path) else "video")


def analyze_edit(
    edit,
    input_path: Path,
    kind: str = "timeline",
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Analysis:
    """Cuts and motion of `edit`; `progress` hears of each segment and inside its decode,
    `cancel` stops within a few decoded frames."""
    rate = float(edit.rate)
    edits = [
        Cut(p.to_seconds(), _frame(p, rate), _edit_kind(edit, p), 1.0) for p in edit.edit_points
    ]
    shots, motion_times, motion, brightness, warned = [], [], [], [], []
    segments = list(edit.segments)
    for index, segment in enumerate(segments):
        check_cancel(cancel)
        report(progress, index / len(segments), f"cuts: segment {index + 1}/{len(segments)}")
        within = scaled(progress, index / len(segments), (index + 1) / len(segments))
        found = _clip_shots(edit, segment, rate, kind, warned, within, cancel)
        if found is None and segment.media_path is not None:  # not decodable: as if missing,
            segments[index] = replace(segment, media_path=None)  # so no later stage reads it
        if found is not None:
            shots.extend(found[0])
            motion_times.append(found[1])
            motion.append(found[2])
            brightness.append(found[3])
    cuts = merge_cuts(edits, sorted(shots, key=lambda c: c.time), tolerance_frames=1)
    return Analysis(
        input=input_path,
        kind=kind,
        rate=rate,
        duration=edit.duration.to_seconds(),
        cuts=cuts,
        motion_times=np.concatenate(motion_times) if motion_times else np.zeros(0),
        motion=np.concatenate(motion).astype(np.float32) if motion else np.zeros(0, np.float32),
        brightness=np.concatenate(brightness) if brightness else np.zeros(0, np.float32),
        edit=replace(edit, segments=segments) if warned else edit,
        warnings=tuple(warned),
    )


def _edit_kind(edit, point) -> str:
    """ "gradual" for an edit point in the middle of a dissolve or wipe, else "edit"."""
    on_transition = any(t.contains(point) for t in getattr(edit, "transitions", ()))
    return "gradual" if on_transition else "edit"


def _clip_shots(
    edit, segment, rate: float, kind: str, warned: list[str], progress=None, cancel=None
):
    """`_segment_shots`, with a timeline clip whose media cannot be decoded (truncated,
    damaged) reported as that clip's error — or, with `--edit-points-only`, left to its edit
    points (logged and added to `warned`). A bare video's error stays as it is: there is
    nothing else to score."""
    try:
        return _segment_shots(segment, rate, progress, cancel)
    except MediaError as error:
        if kind != "timeline":
            raise
        if getattr(edit, "allow_missing_media", False):
            warned.append(f"clip {segment.clip_name!r}: {error}; using its edit points alone")
            log.warning(warned[-1])
            return None
        raise MediaError(
            f"clip {segment.clip_name!r}: {error}; or pass --edit-points-only to use the "
            "edit points alone"
        ) from error


def _segment_shots(segment, rate: float, progress=None, cancel=None):
    """Shot changes inside one segment's media, moved to the range's time; None without media."""
    if segment.media_path is None:
        return None
    offset = segment.record_range.start_time.to_seconds()
    found = detect_shots(
        segment.media_path,
        start=segment.file_offset,
        duration=segment.record_range.duration.to_seconds(),
        progress=progress,
        cancel=cancel,
    )
    cuts = [
        replace(c, time=c.time + offset, frame=round((c.time + offset) * rate))
        for c in found.cuts
        if c.time > 0  # a change at the segment's first frame is the edit point itself
    ]
    return cuts, found.motion_times + offset, found.motion, found.brightness


def _frame(time, rate: float) -> int:
    return round(time.to_seconds() * rate)


def range_timecodes(edit) -> tuple[str, str]:
    """The scored range as the editor reads it on the timeline: (in, out) timecodes."""
    return timecode_at(edit, 0), timecode_at(edit, round(edit.duration.to_seconds() * edit.rate))


def timecode_at(edit, frame: int) -> str:
    """Timecode of `frame` (counted from the range start), global start time included."""
    return edit.timecode(otio.opentime.RationalTime(frame, float(edit.rate)))


def _range_text(edit) -> str:
    return "-".join(range_timecodes(edit))
