"""Timeline files in and out through OTIO's adapters, with errors an editor can act on.

`.otio` files in schemas newer than the pinned OTIO reads (Marker.3 from OTIO 0.19) are read
through the documented downgrade in `gvmgen.timeline.schema_versions`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio

from gvmgen.atomic import atomic_path
from gvmgen.errors import TimelineError
from gvmgen.timeline.edl_mismatch import describe, laid_out_by_source, record_timed
from gvmgen.timeline.edl_rate import EdlRateError, MediaRate, edl_rate, media_mentions
from gvmgen.timeline.media_refs import file_url, path_from_url
from gvmgen.timeline.schema_versions import NewerSchemaError, downgraded

log = logging.getLogger(__name__)

# Suffix → OTIO adapter name (the adapter packages of the `adapters` extra provide the last four).
ADAPTERS = {
    ".otio": "otio_json",
    ".otioz": "otioz",
    ".xml": "fcp_xml",
    ".edl": "cmx_3600",
    ".aaf": "AAF",
    ".fcpxml": "fcpx_xml",
}


def adapter_for(path: str | os.PathLike) -> str:
    """The OTIO adapter name for a timeline file, from its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in ADAPTERS:
        known = ", ".join(ADAPTERS)
        raise TimelineError(f"{str(path)!r}: unknown timeline type {suffix!r}; expected {known}")
    return ADAPTERS[suffix]


def read_timeline(
    path: str | os.PathLike,
    rate: float | None = None,
    media_rate: Callable[[Path], float | None] | None = None,
) -> otio.schema.Timeline:
    """The timeline in `path` (see `read_timeline_warned`), its warnings logged."""
    return read_timeline_warned(path, rate, media_rate)[0]


def read_timeline_warned(
    path: str | os.PathLike,
    rate: float | None = None,
    media_rate: Callable[[Path], float | None] | None = None,
) -> tuple[otio.schema.Timeline, tuple[str, ...]]:
    """The timeline in `path`, read with the adapter its suffix names, and what the reading
    warned of (an EDL read at its record times), for the report as well as the log.

    EDLs carry no frame rate: `rate` says what it is; without it the rate is told from the
    timecodes, or from the media the EDL names (`media_rate(path)` gives a media file's rate),
    see `gvmgen.timeline.edl_rate`. Their record timecodes (usually from 01:00:00:00) become
    the timeline's `global_start_time`. Other formats carry their own rate and ignore `rate`.

    :raises TimelineError: missing file, unknown suffix, a file the adapter cannot parse, a
        file holding no timeline, or an EDL whose rate cannot be told — the message names the
        path and what went wrong.
    """
    path = Path(path)
    adapter = adapter_for(path)
    if not path.is_file():
        raise TimelineError(f"timeline file not found: {str(path)!r}")
    kwargs, warned = {}, []
    if adapter == "cmx_3600":
        kwargs["rate"] = _edl_rate(path, rate, media_rate)
    try:
        result = _read_edl(path, kwargs["rate"], warned) if kwargs else _read(path, adapter, {})
    except NewerSchemaError as err:
        raise TimelineError(f"cannot read {str(path)!r}: {err}") from err
    except otio.exceptions.UnsupportedSchemaError as err:
        raise TimelineError(
            f"cannot read {str(path)!r}: written by a newer OpenTimelineIO than "
            f"{otio.__version__} ({_reason(err)}); export it as .otio, which gvmgen reads "
            "through a downgrade, or with target_schema_versions for OTIO 0.18"
        ) from err
    except Exception as err:  # adapters raise anything: JSON, XML, KeyError, their own errors
        raise TimelineError(f"cannot read {str(path)!r} as {adapter}: {_reason(err)}") from err
    timeline = _first_timeline(result, path)
    timeline = _edl_normalised(timeline) if is_edl_shaped(timeline) else timeline
    return timeline, tuple(warned)


def _edl_rate(
    path: Path, rate: float | None, media_rate: Callable[[Path], float | None] | None
) -> float:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = _edl_media_rate(text, path, media_rate) if media_rate is not None else None
    try:
        return edl_rate(text, repr(str(path)), rate, found)
    except EdlRateError as err:
        if err.fits is not None:  # a broken EDL is reported as broken, not as a rate question
            _check_parses(path, err.fits)
        raise


def _edl_media_rate(text: str, path: Path, media_rate: Callable[[Path], float | None]) -> MediaRate:
    """The rate of the first media file the EDL names that exists (asked only when needed)."""

    def first_media_rate() -> float | None:
        for url in media_mentions(text):
            media = path_from_url(url, path.parent)
            if media.is_file():
                return media_rate(media)
        return None

    return first_media_rate


def _check_parses(path: Path, rate: float) -> None:
    try:
        _read_edl(path, rate, warned=None)  # the rate question is the one line to show
    except Exception as err:  # as in read_timeline: adapters raise anything
        raise TimelineError(f"cannot read {str(path)!r} as cmx_3600: {_reason(err)}") from err


def _read_edl(path: Path, rate: float, warned: list[str] | None) -> otio.schema.Timeline:
    """An EDL at its record times: plain cuts whose source length differs from their record
    length are read at the record length (`edl_mismatch`); any other mismatch the adapter
    finds is laid out by its source length (`ignore_timecode_mismatch`). Each says so once:
    logged and added to `warned` (None: said nowhere)."""

    def warn(line: str) -> None:
        if warned is not None:
            log.warning(line)
            warned.append(line)

    name = repr(str(path))
    text, mismatched = record_timed(path.read_text(encoding="utf-8", errors="replace"), rate)
    if mismatched:
        warn(describe(name, mismatched))
    read = functools.partial(otio.adapters.read_from_string, adapter_name="cmx_3600", rate=rate)
    try:
        return read(text)
    except Exception as err:  # the adapter's EDLParseError; anything else is raised again below
        if "don't match" not in str(err):
            raise
        warn(laid_out_by_source(name, str(err)))
    return read(text, ignore_timecode_mismatch=True)


def _read(path: Path, adapter: str, kwargs: dict) -> otio.core.SerializableObject:
    """The adapter's reading; an `.otio` in newer schemas goes through the downgrade."""
    try:
        return otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)
    except otio.exceptions.UnsupportedSchemaError:
        if adapter != "otio_json":
            raise
    document = downgraded(json.loads(path.read_text(encoding="utf-8")))
    log.info("%s: read with newer OTIO schemas downgraded to OTIO %s", path, otio.__version__)
    return otio.adapters.read_from_string(json.dumps(document), adapter_name="otio_json")


def _reason(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def _first_timeline(result: otio.core.SerializableObject, path: Path) -> otio.schema.Timeline:
    if isinstance(result, otio.schema.Timeline):
        return result
    if isinstance(result, otio.schema.SerializableCollection):
        for timeline in result.find_children(descended_from_type=otio.schema.Timeline):
            return timeline
    kind = type(result).__name__
    raise TimelineError(f"{str(path)!r} holds a {kind}, not a timeline")


def is_edl_shaped(timeline: otio.schema.Timeline) -> bool:
    """Whether a track is trimmed to before its children, as the cmx_3600 adapter writes EDLs.

    The adapter puts the record timecode (01:00:00:00) into each track's `source_range` as a
    negative start, and leaves `global_start_time` unset; such timelines are saved as `.otio`
    too (OTIO's `screening_example.otio`), so the shape decides, not the file's suffix.
    """
    return any(
        track.source_range is not None and track.source_range.start_time.value < 0
        for track in timeline.tracks
    )


def _edl_normalised(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """The cmx_3600 adapter's record offset moved into `global_start_time`.

    The adapter trims each track with `source_range.start = -first record in`, which makes the
    track's visible window lie before its children. Track time starts at 0 like everywhere else
    once the earliest record in is the global start and later-starting tracks get a leading gap.
    """
    offsets = [-t.source_range.start_time for t in timeline.tracks if t.source_range is not None]
    if not offsets:
        return timeline
    start = min(offsets, key=lambda time: time.to_seconds())
    for track in timeline.tracks:
        if track.source_range is None:
            continue
        lead = -track.source_range.start_time - start
        track.source_range = None
        if lead.value > 0:
            track.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(duration=lead)))
    timeline.global_start_time = start
    return timeline


def write_timeline(
    timeline: otio.schema.Timeline, out_path: str | os.PathLike, adapter: str | None = None
) -> Path:
    """Write `timeline` to `out_path` atomically, with the adapter its suffix names.

    `.otio` is written with OTIO 0.18's schema versions (Clip.2, Marker.2), which Resolve 18.5+
    and every OTIO from 0.17 read, with bare paths as Resolve wants them. FCP7 XML gets
    `file://localhost/…` `pathurl`s instead, which Premiere and FCP7 link online (a bare path
    imports offline).

    :returns: the path written.
    :raises TimelineError: unknown suffix, or the adapter cannot express this timeline.
    """
    out_path = Path(out_path)
    adapter = adapter or adapter_for(out_path)
    if adapter == "fcp_xml":
        timeline = with_file_urls(timeline)
    try:
        with atomic_path(out_path) as tmp:
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name=adapter)
    except Exception as err:  # as for reading: adapters raise anything
        raise TimelineError(f"cannot write {str(out_path)!r} as {adapter}: {_reason(err)}") from err
    return out_path


def with_file_urls(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of `timeline` whose external media references are `file://` URLs."""
    result = timeline.deepcopy()
    for clip in result.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
            ref.target_url = file_url(ref.target_url)
    return result
