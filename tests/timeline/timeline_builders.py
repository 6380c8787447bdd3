"""Hand-built OTIO timelines for the timeline tests (no sample files are read)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

NTSC_24, NTSC_30, NTSC_60 = 24000 / 1001, 30000 / 1001, 60000 / 1001

# (rate, drop-frame timecode) with readable ids; every rate the issue names.
RATES = [
    pytest.param(NTSC_24, False, id="23.976"),
    pytest.param(24.0, False, id="24"),
    pytest.param(25.0, False, id="25"),
    pytest.param(NTSC_30, True, id="29.97DF"),
    pytest.param(NTSC_30, False, id="29.97NDF"),
    pytest.param(30.0, False, id="30"),
    pytest.param(50.0, False, id="50"),
    pytest.param(NTSC_60, True, id="59.94DF"),
    pytest.param(NTSC_60, False, id="59.94NDF"),
]


def hour_one(rate: float, drop_frame: bool = False) -> RT:
    """01:00:00:00 at `rate` (01:00:00;00 when drop-frame): the usual NLE start timecode."""
    return otio.opentime.from_timecode("01:00:00;00" if drop_frame else "01:00:00:00", rate)


def media_file(folder: Path, name: str) -> Path:
    """An (empty) stand-in media file: the timeline layer only checks that it exists."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


def clip(
    name: str,
    frames: int,
    rate: float,
    source_start: int = 0,
    media: Path | str | None = None,
    enabled: bool = True,
    generator: bool = False,
    source_rate: float | None = None,
) -> otio.schema.Clip:
    """A clip showing `frames` frames of its media from `source_start` (media frames)."""
    source_rate = source_rate or rate
    source_frames = round(frames * source_rate / rate)
    source = TR(RT(source_start, source_rate), RT(source_frames, source_rate))
    if generator:
        ref = otio.schema.GeneratorReference(generator_kind="Text", available_range=source)
    elif media is None:
        ref = otio.schema.MissingReference()
    else:
        whole = TR(RT(0, source_rate), RT(source_start + source_frames + 1000, source_rate))
        ref = otio.schema.ExternalReference(str(media), available_range=whole)
    item = otio.schema.Clip(name=name, media_reference=ref, source_range=source)
    item.enabled = enabled
    return item


def gap(frames: int, rate: float) -> otio.schema.Gap:
    return otio.schema.Gap(duration=RT(frames, rate))


def track(*items, name: str = "", enabled: bool = True, kind=otio.schema.TrackKind.Video):
    result = otio.schema.Track(name=name, kind=kind)
    for item in items:
        result.append(item)
    result.enabled = enabled
    return result


def timeline(rate: float, *tracks, drop_frame: bool = False, name: str = "test"):
    """A timeline starting at 01:00:00:00 with `tracks` bottom to top."""
    result = otio.schema.Timeline(name=name, global_start_time=hour_one(rate, drop_frame))
    for item in tracks:
        result.tracks.append(item)
    return result


def silent_wav(path: Path, seconds: float, rate: int = 48000) -> Path:
    soundfile.write(str(path), np.zeros((int(seconds * rate), 2), dtype="float32"), rate)
    return path


def record_frames(segments) -> list[tuple[str, int, int]]:
    """(clip, first record frame, frame count) of each segment."""
    return [
        (s.clip_name, int(s.record_range.start_time.value), int(s.record_range.duration.value))
        for s in segments
    ]


def source_frames(segments) -> list[tuple[str, int, int]]:
    return [
        (s.clip_name, int(s.source_range.start_time.value), int(s.source_range.duration.value))
        for s in segments
    ]


def frames(times) -> list[int]:
    return [int(t.value) for t in times]
