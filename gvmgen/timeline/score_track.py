"""The result timeline: the editor's timeline plus a "GVMGen Score" audio track.

Shaped the way Resolve exports and re-imports OTIO: bare absolute paths in `target_url` (Resolve
does not read `file://` URLs), `available_range` set on every media reference, source ranges in
the timeline rate, gaps filling the space before and between cues.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from gvmgen.errors import InputError, MediaError
from gvmgen.timeline.ranges import exact_rate, range_at_rate, rate_fraction, timeline_rate

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

SCORE_TRACK_NAME = "GVMGen Score"
METADATA_KEY = "gvmgen"
RESOLVE_KEY = "Resolve_OTIO"


@dataclass(frozen=True)
class PlacedCue:
    """A rendered cue and where it goes.

    :ivar record_range: in track time of the output timeline (already offset by the selected
        range's start; excludes the global start timecode).
    :ivar metadata: stored on the clip under `metadata["gvmgen"]` (job id, seed, metrics …).
    """

    wav_path: Path
    record_range: TimeRange
    name: str = ""
    metadata: dict = field(default_factory=dict)


def single_clip_timeline(
    media_path: str | os.PathLike, info_rate: float, duration_frames: int, name: str | None = None
) -> otio.schema.Timeline:
    """A one-clip timeline for a bare video file (how `gvmgen score VIDEO` becomes an edit).

    The clip covers frames [0, duration_frames) of the file at `info_rate`; the timeline starts
    at 00:00:00:00 so times read as seconds into the file.
    """
    if duration_frames <= 0:
        raise InputError(f"{str(media_path)!r}: duration {duration_frames} frames; expected > 0")
    rate = exact_rate(info_rate)
    path = Path(media_path).expanduser().absolute()
    extent = TimeRange(RationalTime(0, rate), RationalTime(duration_frames, rate))
    clip = otio.schema.Clip(
        name=path.name,
        media_reference=otio.schema.ExternalReference(str(path), available_range=extent),
        source_range=extent,
    )
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    track.append(clip)
    timeline = otio.schema.Timeline(name=name or path.stem, global_start_time=RationalTime(0, rate))
    timeline.tracks.append(track)
    return timeline


def timeline_with_score(
    timeline: otio.schema.Timeline,
    cues: list[PlacedCue],
    track_name: str = SCORE_TRACK_NAME,
    markers: list[otio.schema.Marker] = (),
    metadata: dict | None = None,
) -> otio.schema.Timeline:
    """A copy of `timeline` with the cues on a new audio track on top of the audio tracks.

    :param markers: added to the timeline (stack) markers; ranges in track time.
    :param metadata: stored as `timeline.metadata["gvmgen"]` (job id, engine, seed, metrics).
    :raises InputError: cues that overlap or start before the timeline.
    :raises MediaError: a cue WAV that cannot be read (its length sets `available_range`).
    """
    result = timeline.deepcopy()
    rate = timeline_rate(result)
    result.tracks.append(_score_track(cues, rate, track_name))
    for marker in markers:
        result.tracks.markers.append(marker.deepcopy())
    if metadata is not None:
        result.metadata[METADATA_KEY] = metadata
    return result


def _score_track(cues: list[PlacedCue], rate: float, name: str) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    # As in Resolve's own export; tells its importer to make a stereo track.
    track.metadata[RESOLVE_KEY] = {"Audio Type": "Stereo", "Locked": False, "SoloOn": False}
    cursor = RationalTime(0, rate)
    for cue in sorted(cues, key=lambda c: c.record_range.start_time.to_seconds()):
        record = range_at_rate(cue.record_range, rate)
        if record.start_time < cursor:
            where = "overlaps the one before" if len(track) else "starts before the timeline"
            frames = f"frames {record.start_time.value:g}–{record.end_time_exclusive().value:g}"
            raise InputError(f"cue {cue.name or Path(cue.wav_path).name!r} at {frames} {where}")
        if record.start_time > cursor:
            track.append(otio.schema.Gap(duration=record.start_time - cursor))
        track.append(_cue_clip(cue, record.duration, rate))
        cursor = record.end_time_exclusive()
    return track


def _cue_clip(cue: PlacedCue, duration: RationalTime, rate: float) -> otio.schema.Clip:
    path = Path(cue.wav_path).expanduser().absolute()
    length, channels = _wav_length_and_channels(path, rate)
    available = TimeRange(RationalTime(0, rate), length)
    if duration > available.duration:
        raise MediaError(
            f"cue audio {str(path)!r} lasts {available.duration.value:g} frames but is placed "
            f"over {duration.value:g} frames at {rate:g} fps"
        )
    clip = otio.schema.Clip(
        name=cue.name or path.stem,
        media_reference=otio.schema.ExternalReference(str(path), available_range=available),
        source_range=TimeRange(RationalTime(0, rate), duration),
    )
    clip.metadata[METADATA_KEY] = dict(cue.metadata)
    # Resolve's export maps each of the file's channels onto the track this way.
    clip.metadata[RESOLVE_KEY] = {
        "Channels": [{"Source Channel ID": i, "Source Track ID": 0} for i in range(channels)]
    }
    return clip


def _wav_length_and_channels(path: Path, rate: float) -> tuple[RationalTime, int]:
    """The WAV's length in whole timeline frames (rounded up: the last partial frame is media)
    and its channel count."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError/OSError
        raise MediaError(f"cue audio {str(path)!r} cannot be read: {err}") from err
    frames = Fraction(info.frames, info.samplerate) * rate_fraction(rate)
    length = RationalTime(-(-frames.numerator // frames.denominator), exact_rate(rate))
    return length, info.channels
