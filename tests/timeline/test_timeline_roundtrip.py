"""Frame-exact at every NLE rate with a 01:00:00:00 start: read → write with a score → read."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import (
    RATES,
    RT,
    TR,
    clip,
    frames,
    gap,
    hour_one,
    media_file,
    record_frames,
    silent_wav,
    source_frames,
    timeline,
    track,
)

from gvmgen.timeline import PlacedCue, read_edit, timecode, timeline_with_score, write_timeline


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    return silent_wav(tmp_path_factory.mktemp("cues") / "cue.wav", seconds=4.0)


def _cut(folder: Path, rate: float, drop_frame: bool):
    """Awkward lengths (1 frame, primes) on two tracks, sources at 01:00:00:00-based timecode."""
    src = int(hour_one(rate, drop_frame).value)
    m = lambda name: media_file(folder, name)  # noqa: E731 — a local shorthand
    v1 = track(
        clip("A", 37, rate, src + 11, m("a.mov")),
        clip("B", 101, rate, src + 1001, m("b.mov")),
        gap(12, rate),
        clip("C", 250, rate, src, m("c.mov")),
        name="Video 1",
    )
    v2 = track(
        gap(60, rate),
        clip("D", 1, rate, 7, m("d.mov")),
        gap(70, rate),
        clip("E", 77, rate, src + 3, m("e.mov")),
        name="Video 2",
    )
    return timeline(rate, v1, v2, drop_frame=drop_frame)


def _range_text(rate: float, drop_frame: bool, first: int, last: int) -> str:
    start = hour_one(rate, drop_frame)
    tc = lambda f: timecode(start + RT(f, rate), rate, drop_frame)  # noqa: E731
    return f"{tc(first)}-{tc(last)}"


@pytest.mark.parametrize(
    "suffix", [pytest.param(".otio", id="otio"), pytest.param(".xml", id="fcp7xml")]
)
@pytest.mark.parametrize(("rate", "drop_frame"), RATES)
def test_read_write_read_keeps_every_range_to_the_frame(tmp_path, wav, rate, drop_frame, suffix):
    text = _range_text(rate, drop_frame, 20, 400)
    edit = read_edit(_cut(tmp_path, rate, drop_frame), text)
    assert edit.range == TR(RT(20, rate), RT(380, rate))
    assert edit.drop_frame == drop_frame
    assert f"{edit.timecode(RT(0, rate))}-{edit.timecode(edit.duration)}" == text
    assert record_frames(edit.segments) == [
        ("A", 0, 17), ("B", 17, 23), ("D", 40, 1), ("B", 41, 70), ("E", 111, 77), ("C", 188, 192),
    ]  # fmt: skip
    assert frames(edit.edit_points) == [17, 40, 41, 111, 188]

    cues = [
        PlacedCue(wav, TR(edit.range.start_time + RT(5, rate), RT(33, rate)), "cue 1"),
        PlacedCue(wav, TR(edit.range.start_time + RT(38, rate), RT(57, rate)), "cue 2"),
    ]
    hit = otio.schema.Marker("hit", TR(edit.range.start_time + RT(38, rate), RT(1, rate)))
    scored = timeline_with_score(edit.timeline, cues, markers=[hit], metadata={"job_id": "j"})
    path = write_timeline(scored, tmp_path / f"scored{suffix}")
    again = read_edit(path, text)

    assert again.global_start == edit.global_start
    assert again.range == edit.range
    assert record_frames(again.segments) == record_frames(edit.segments)
    assert source_frames(again.segments) == source_frames(edit.segments)
    assert [s.media_path for s in again.segments] == [s.media_path for s in edit.segments]
    assert again.edit_points == edit.edit_points
    assert [(m.name, m.time) for m in again.markers] == [("hit", RT(38, rate))]
    (score,) = again.timeline.audio_tracks()
    placed = [c.range_in_parent() for c in score.find_clips()]
    assert [(int(r.start_time.value), int(r.duration.value)) for r in placed] == [
        (25, 33),
        (58, 57),
    ]


def _edl(rate: float, drop_frame: bool, events: list[tuple[str, int, int, int]]) -> str:
    """An EDL with one video event per (clip, source in, record in, frames) from 01:00:00:00."""
    start = hour_one(rate, drop_frame)
    tc = lambda f: timecode(RT(f, rate), rate, drop_frame)  # noqa: E731
    lines = ["TITLE: ROUNDTRIP", f"FCM: {'DROP FRAME' if drop_frame else 'NON-DROP FRAME'}", ""]
    for number, (name, src, rec, count) in enumerate(events, start=1):
        rec = int(start.value) + rec
        times = f"{tc(src)} {tc(src + count)} {tc(rec)} {tc(rec + count)}"
        lines.append(f"{number:03d}  AX       V     C        {times}")
        lines.append(f"* FROM CLIP NAME: {name}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("rate", "drop_frame"), RATES)
def test_edl_reads_frame_exact_from_hour_one(tmp_path, rate, drop_frame):
    events = [("A", 1000, 0, 37), ("B", 2000, 37, 1), ("C", 3000, 50, 1800)]
    path = tmp_path / "cut.edl"
    path.write_text(_edl(rate, drop_frame, events))
    edit = read_edit(path, allow_missing_media=True, rate=rate)
    assert edit.rate == rate and edit.global_start == hour_one(rate, drop_frame)
    assert record_frames(edit.segments) == [("A", 0, 37), ("B", 37, 1), ("C", 50, 1800)]
    assert source_frames(edit.segments) == [("A", 1000, 37), ("B", 2000, 1), ("C", 3000, 1800)]
    assert frames(edit.edit_points) == [37, 38, 50]
    part = read_edit(
        path, _range_text(rate, drop_frame, 40, 1000), allow_missing_media=True, rate=rate
    )
    assert record_frames(part.segments) == [("C", 10, 950)]
