"""Timeline layer: OTIO in (a range → visible segments, edit points, markers) and out (the
editor's timeline plus a "GVMGen Score" audio track).

All times are OTIO `RationalTime`/`TimeRange` at the timeline rate, in track time (which excludes
the start timecode, e.g. 01:00:00:00) unless a name says otherwise.
"""

from gvmgen.timeline.edit import Edit, Segment, read_edit
from gvmgen.timeline.io import ADAPTERS, adapter_for, read_timeline, write_timeline
from gvmgen.timeline.markers import TimelineMarker
from gvmgen.timeline.media_refs import path_from_url
from gvmgen.timeline.ranges import (
    RANGE_FORMS,
    at_rate,
    exact_rate,
    parse_range,
    rate_fraction,
    timecode,
    timeline_rate,
    uses_drop_frame,
)
from gvmgen.timeline.score_track import (
    SCORE_TRACK_NAME,
    PlacedCue,
    single_clip_timeline,
    timeline_with_score,
)

__all__ = [
    "ADAPTERS",
    "RANGE_FORMS",
    "SCORE_TRACK_NAME",
    "Edit",
    "PlacedCue",
    "Segment",
    "TimelineMarker",
    "adapter_for",
    "at_rate",
    "exact_rate",
    "parse_range",
    "path_from_url",
    "rate_fraction",
    "read_edit",
    "read_timeline",
    "single_clip_timeline",
    "timecode",
    "timeline_rate",
    "timeline_with_score",
    "uses_drop_frame",
    "write_timeline",
]
