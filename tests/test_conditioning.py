"""Which cuts a cue must hit: hard cuts inside it, not the ones that are its own boundary."""

from pathlib import Path

import numpy as np

from gvmgen.analysis import Analysis
from gvmgen.conditioning import cue_cut_times
from gvmgen.media.cuts import Cut


def _analysis(cuts):
    return Analysis(Path("x.mp4"), "video", 25.0, 20.0, cuts, np.zeros(0), np.zeros(0), None)


def test_cut_at_a_cue_boundary_is_not_a_target_of_either_cue():
    cuts = [Cut(4.96, 124, "edit"), Cut(7.0, 175, "shot"), Cut(10.04, 251, "shot")]
    analysis = _analysis(cuts)
    assert list(cue_cut_times(analysis, 0.0, 5.0)) == []  # 1 frame before the end
    assert list(cue_cut_times(analysis, 5.0, 5.0)) == [2.0]  # 10.04 is 1 frame after its end
    assert list(cue_cut_times(analysis, 10.0, 5.0)) == []  # 1 frame after the start


def test_gradual_transitions_are_not_hit_targets():
    analysis = _analysis([Cut(3.0, 75, "gradual"), Cut(6.0, 150, "shot")])
    assert list(cue_cut_times(analysis, 0.0, 10.0)) == [6.0]


def test_a_source_with_start_timecode_maps_to_seconds_into_the_file():
    """Camera files start at e.g. 01:00:00:00: the clip's source range counts from there."""
    import opentimelineio as otio

    from gvmgen.timeline import read_edit

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    media = otio.schema.ExternalReference(
        "/media/A001.mov", available_range=tr(rt(86400, 24), rt(2400, 24))
    )
    clip = otio.schema.Clip(
        name="A001", media_reference=media, source_range=tr(rt(86400 + 48, 24), rt(96, 24))
    )
    timeline = otio.schema.Timeline()
    timeline.tracks.append(otio.schema.Track(children=[clip]))
    (segment,) = read_edit(timeline, allow_missing_media=True).segments
    assert segment.file_offset == 2.0  # 48 frames into the file, not 3602 s
