"""read_edit against a frame-by-frame oracle on random multi-track timelines."""

from __future__ import annotations

import opentimelineio as otio
from hypothesis import given, settings
from hypothesis import strategies as st
from timeline_builders import NTSC_30, RT, TR, clip, gap, timeline, track

from gvmgen.timeline import read_edit

RATE = NTSC_30


@st.composite
def random_timelines(draw):
    """1–4 video tracks of clips (some disabled) and gaps; clip names are unique."""
    tracks = []
    for t in range(draw(st.integers(1, 4))):
        items = []
        for i in range(draw(st.integers(1, 6))):
            length = draw(st.integers(1, 40))
            if draw(st.booleans()):
                items.append(gap(length, RATE))
            else:
                source = draw(st.integers(0, 5000))
                enabled = draw(st.integers(0, 5)) > 0
                items.append(clip(f"c{t}.{i}", length, RATE, source, enabled=enabled))
        tracks.append(track(*items, enabled=draw(st.integers(0, 6)) > 0))
    return timeline(RATE, *tracks, drop_frame=True)


def _shown_at(tl: otio.schema.Timeline, frame: int):
    """(clip name, source frame) the viewer shows at track frame `frame`, found the slow way."""
    for tr in reversed(list(tl.video_tracks())):
        if not tr.enabled:
            continue
        for item in tr:
            span = item.range_in_parent()
            if span.start_time.value <= frame < span.end_time_exclusive().value:
                if isinstance(item, otio.schema.Clip) and item.enabled:
                    offset = frame - span.start_time.value
                    return item.name, int(item.source_range.start_time.value + offset)
                break
    return None


def _shown_by_edit(edit, frame: int):
    for s in edit.segments:
        first = s.record_range.start_time.value
        if first <= frame < s.record_range.end_time_exclusive().value:
            return s.clip_name, int(s.source_range.start_time.value + frame - first)
    return None


@settings(max_examples=60, deadline=None)
@given(tl=random_timelines(), data=st.data())
def test_segments_and_edit_points_match_a_frame_by_frame_scan(tl, data):
    total = int(tl.duration().value)
    first = data.draw(st.integers(0, total - 1))
    last = data.draw(st.integers(first + 1, total))
    edit = read_edit(tl, TR(RT(first, RATE), RT(last - first, RATE)), allow_missing_media=True)

    shown = [_shown_at(tl, f) for f in range(first, last)]
    assert [_shown_by_edit(edit, f - first) for f in range(first, last)] == shown

    def continues(a, b):
        return a is not None and b is not None and a[0] == b[0] and b[1] == a[1] + 1

    cuts = [i for i in range(1, len(shown)) if not continues(shown[i - 1], shown[i])]
    cuts = [i for i in cuts if shown[i - 1] is not None or shown[i] is not None]
    assert [int(p.value) for p in edit.edit_points] == cuts
