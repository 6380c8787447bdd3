"""Reading timeline files that are broken, writing results Resolve can re-import."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest
from timeline_builders import RT, TR, clip, media_file, silent_wav, timeline, track

from gvmgen.errors import InputError, MediaError, TimelineError
from gvmgen.timeline import (
    PlacedCue,
    read_edit,
    read_timeline,
    single_clip_timeline,
    timeline_with_score,
    write_timeline,
)

R = 25.0


@pytest.mark.parametrize(
    ("name", "content", "adapter"),
    [
        pytest.param(
            "cut.otio", '{"OTIO_SCHEMA": "Timeline.1", "tracks": [', "otio_json", id="otio"
        ),
        pytest.param("cut.otio", "", "otio_json", id="empty-otio"),
        pytest.param("cut.xml", "<xmeml><sequence>", "fcp_xml", id="fcp-xml"),
        pytest.param("cut.edl", "001  AX V C 01:00:00:00\n", "cmx_3600", id="edl"),
    ],
)
def test_corrupt_timeline_is_a_timeline_error_naming_the_file(tmp_path, name, content, adapter):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TimelineError) as caught:
        read_timeline(path)
    message = str(caught.value)
    assert str(path) in message and adapter in message and "\n" not in message


def test_unknown_suffix_lists_the_known_ones(tmp_path):
    path = tmp_path / "cut.mp4"
    path.write_bytes(b"\0")
    with pytest.raises(TimelineError, match=r"unknown timeline type '\.mp4'.*\.otio.*\.edl"):
        read_timeline(path)


def test_missing_timeline_file(tmp_path):
    with pytest.raises(TimelineError, match="not found"):
        read_edit(tmp_path / "nowhere.otio")


def test_otio_file_holding_a_clip_is_not_a_timeline(tmp_path):
    path = tmp_path / "clip.otio"
    otio.adapters.write_to_file(clip("A", 10, R), str(path))
    with pytest.raises(TimelineError, match="holds a Clip"):
        read_timeline(path)


def test_failed_write_leaves_nothing_behind(tmp_path):
    two_video_tracks = timeline(R, track(clip("A", 10, R)), track(clip("B", 10, R)))
    with pytest.raises(TimelineError, match="cmx_3600"):
        write_timeline(two_video_tracks, tmp_path / "out.edl")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TimelineError, match="unknown timeline type"):
        write_timeline(two_video_tracks, tmp_path / "out.mov")


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    return silent_wav(tmp_path_factory.mktemp("cues") / "cue 1.wav", seconds=2.0)


def _cut(tmp_path: Path) -> otio.schema.Timeline:
    return timeline(R, track(clip("A", 100, R, 50, media_file(tmp_path, "a.mov")), name="Video 1"))


def test_score_track_is_resolve_shaped_and_input_untouched(tmp_path, wav):
    cut = _cut(tmp_path)
    before = cut.to_json_string()
    cues = [
        PlacedCue(wav, TR(RT(60, R), RT(30, R)), "cue 2", {"seed": 2}),
        PlacedCue(wav, TR(RT(10, R), RT(40, R)), "cue 1", {"seed": 1}),
    ]
    marker = otio.schema.Marker("hit", TR(RT(50, R), RT(0, R)), color="GREEN")
    result = timeline_with_score(cut, cues, markers=[marker], metadata={"job_id": "j1", "seed": 1})
    assert cut.to_json_string() == before
    path = write_timeline(result, tmp_path / "scored.otio")

    data = json.loads(path.read_text())
    score = data["tracks"]["children"][-1]
    assert (score["name"], score["kind"]) == ("GVMGen Score", "Audio")
    kinds = [
        (c["OTIO_SCHEMA"].split(".")[0], c["source_range"]["duration"]["value"])
        for c in score["children"]
    ]
    assert kinds == [("Gap", 10), ("Clip", 40), ("Gap", 10), ("Clip", 30)]
    ref = score["children"][1]["media_references"]["DEFAULT_MEDIA"]
    assert ref["target_url"] == str(wav)  # bare absolute path, as Resolve writes and reads
    assert ref["available_range"]["duration"]["value"] == 50  # 2 s at 25 fps
    assert score["children"][1]["metadata"]["gvmgen"] == {"seed": 1}
    assert len(score["children"][1]["metadata"]["Resolve_OTIO"]["Channels"]) == 2  # stereo
    assert data["metadata"]["gvmgen"] == {"job_id": "j1", "seed": 1}

    back = read_edit(path)
    assert [(m.name, m.time.value) for m in back.markers] == [("hit", 50)]
    assert [t.name for t in back.timeline.audio_tracks()] == ["GVMGen Score"]
    take_2 = timeline_with_score(result, cues[:1], track_name="GVMGen Score (take 2)")
    assert [t.name for t in take_2.audio_tracks()] == ["GVMGen Score", "GVMGen Score (take 2)"]
    assert len(result.audio_tracks()) == 1


def test_overlapping_cues_are_refused(tmp_path, wav):
    cues = [
        PlacedCue(wav, TR(RT(0, R), RT(30, R)), "a"),
        PlacedCue(wav, TR(RT(20, R), RT(30, R)), "b"),
    ]
    with pytest.raises(InputError, match=r"'b' at frames 20–50 overlaps"):
        timeline_with_score(_cut(tmp_path), cues)
    before_start = PlacedCue(wav, TR(RT(-5, R), RT(30, R)), "early")
    with pytest.raises(InputError, match="'early' at frames -5–25 starts before the timeline"):
        timeline_with_score(_cut(tmp_path), [before_start])


def test_cue_audio_missing_or_too_short(tmp_path, wav):
    with pytest.raises(MediaError, match=r"gone\.wav"):
        timeline_with_score(
            _cut(tmp_path), [PlacedCue(tmp_path / "gone.wav", TR(RT(0, R), RT(10, R)))]
        )
    with pytest.raises(MediaError, match="lasts 50 frames but is placed over 60"):
        timeline_with_score(_cut(tmp_path), [PlacedCue(wav, TR(RT(0, R), RT(60, R)))])


def test_single_clip_timeline_for_a_bare_video(tmp_path):
    video = media_file(tmp_path, "shot.mp4")
    edit = read_edit(single_clip_timeline(video, 29.97, 450))
    assert edit.name == "shot" and edit.rate == 30000 / 1001
    assert [(s.media_path, s.record_range.duration.value) for s in edit.segments] == [(video, 450)]
    assert edit.edit_points == [] and edit.global_start.value == 0
    with pytest.raises(InputError, match="duration 0 frames"):
        single_clip_timeline(video, 25, 0)


def test_edl_whose_rate_cannot_be_told_says_pass_rate(tmp_path):
    path = tmp_path / "cut.edl"
    path.write_text(
        "TITLE: T\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:01:00 00:00:02:00 01:00:00:00 01:00:01:00\n"
    )
    with pytest.raises(TimelineError, match=r"cannot tell this EDL's frame rate.*--rate"):
        read_edit(path, allow_missing_media=True)
    edit = read_edit(path, allow_missing_media=True, rate=24)
    assert edit.rate == 24.0 and edit.global_start == RT(86400, 24)
