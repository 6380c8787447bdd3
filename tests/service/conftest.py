"""Fixtures for the service-core tests: a three-cue timeline."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

RATE = 25


@pytest.fixture(scope="session")
def three_cue_timeline(cut_clip, tmp_path_factory) -> Path:
    """16 s over two clips of the cut clip, `cue` markers at frames 100 and 250: three cues."""
    target = tmp_path_factory.mktemp("timeline") / "three-cues.otio"
    ref = otio.schema.ExternalReference(str(cut_clip[0]), available_range=_range(0, 300))
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for start in (0, 60):
        track.append(
            otio.schema.Clip(
                name=f"c{start}", media_reference=ref.clone(), source_range=_range(start, 200)
            )
        )
    timeline = otio.schema.Timeline(global_start_time=otio.opentime.RationalTime(90000, RATE))
    timeline.tracks.append(track)
    for frame, name in ((100, "Cue Intro"), (250, "CUE end")):
        timeline.tracks.markers.append(otio.schema.Marker(name=name, marked_range=_range(frame, 1)))
    otio.adapters.write_to_file(timeline, str(target))
    return target


def _range(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(duration, RATE)
    )
