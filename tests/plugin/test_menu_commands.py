"""The menu commands as an editor runs them: clips placed and read back from the fake timeline,
at 23.976, 24 and 29.97 DF, each timeline starting at 01:00:00:00."""

from __future__ import annotations

import itertools
import json

import soundfile

from tests.plugin.conftest import SHOTS, client_calls, errors_in
from tests.plugin.fake_resolve import RATES

SCORE = "GVMGen Score"


def score_clips(timeline):
    return [
        (index + 1, item)
        for index, track in enumerate(timeline.audio)
        if track.name.startswith(SCORE)
        for item in sorted(track.items, key=lambda i: i.start)
    ]


def wav_frames(item, timeline) -> float:
    info = soundfile.info(item.mpi.path)
    return info.frames * RATES[timeline.rate_text] / info.samplerate


def bin_clips(editor) -> list[str]:
    (gvmgen_bin,) = editor.resolve.project.media_pool.root.subfolders
    assert gvmgen_bin.name == "GVMGen"
    return [mpi.path for mpi in gvmgen_bin.clips]


def test_score_marked_range_places_one_clip_exactly_on_the_range(editor, tmp_path):
    tl = editor.timeline
    tl.set_marks(217, 217 + 30 * 24 - 1)  # In at frame 217, Out inclusive: 720 frames
    lines = editor.run("Score Marked Range")
    assert errors_in(lines) == []
    ((track, item),) = score_clips(tl)
    assert tl.audio[track - 1].name == SCORE
    assert tl.start == (107892 if tl.drop_frame else 86400)
    assert item.start == tl.start + 217
    assert item.duration == 720
    assert abs(wav_frames(item, tl) - item.duration) < 1  # the WAV really is that long
    assert item.color == "Purple"
    (marker,) = item.markers.values()
    result = json.loads((tmp_path / "scores/Film/Cut_3/range-217-937/report.json").read_text())
    assert marker["customData"] == result["job_id"]
    assert bin_clips(editor) == [item.mpi.path]
    call = client_calls(tmp_path)[-1]
    assert call[call.index("--range") + 1] == "f217-f937"
    assert call[call.index("--mode") + 1] == "range"
    assert editor.resolve.manager.saves == 1


def test_the_backends_warnings_reach_the_console_and_the_music_is_placed(one_editor, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN", "warnings")
    tl = one_editor.timeline
    tl.set_marks(0, 239)
    lines = one_editor.run("Score Marked Range")
    warned = [line for line in lines if line.startswith("[GVMGen] warning: ")]
    assert warned == [
        "[GVMGen] warning: clip 'S3': media /Volumes/Rushes/A003.mov not found; scored on its "
        "edit points alone",
        "[GVMGen] warning: mood 'tense' chose among takes only: GVMGen is conditioned on picture",
    ]  # one line each, in the backend's words
    ((_, item),) = score_clips(tl)
    assert item.duration == 240


def test_without_marks_the_clip_under_the_playhead_is_scored(one_editor):
    tl = one_editor.timeline
    tl.playhead = tl.start + SHOTS[0] + SHOTS[1] + 5  # inside the third shot
    lines = one_editor.run("Score Marked Range", loaded_as="string")  # script dir via Scripts:
    assert errors_in(lines) == []
    ((_, item),) = score_clips(tl)
    assert (item.start, item.duration) == (tl.start + SHOTS[0] + SHOTS[1], SHOTS[2])


def test_regenerate_replaces_in_place_and_keeps_the_old_take(editor):
    tl = editor.timeline
    tl.set_marks(300, 899)
    editor.run("Score Marked Range")
    ((track, first),) = score_clips(tl)
    tl.selected = [first]
    lines = editor.run("Regenerate Selected Clip")
    assert errors_in(lines) == []
    ((again_track, second),) = score_clips(tl)
    assert (again_track, second.start, second.duration) == (track, first.start, first.duration)
    assert second.mpi.path != first.mpi.path
    assert "take-02" in second.mpi.path
    assert bin_clips(editor) == [first.mpi.path, second.mpi.path]  # the old take stays
    assert abs(wav_frames(second, tl) - second.duration) < 1


def test_regenerate_finds_the_clip_under_the_playhead_before_21_0_4(tmp_path, monkeypatch):
    from tests.plugin.conftest import make_editor

    editor = make_editor(tmp_path, "29.97", version=(20, 2, 0))
    tl = editor.timeline
    tl.set_marks(40, 400)
    editor.run("Score Marked Range")
    ((_, first),) = score_clips(tl)
    tl.playhead = first.start + 100
    assert errors_in(editor.run("Regenerate Selected Clip")) == []
    ((_, second),) = score_clips(tl)
    assert (second.start, second.duration) == (first.start, first.duration)
    assert "take-02" in second.mpi.path


def test_regenerating_a_batch_cue_scores_its_range_with_a_new_seed(one_editor, tmp_path):
    tl = one_editor.timeline
    one_editor.run("Score Whole Timeline")
    before = [(i.start, i.duration) for _, i in score_clips(tl)]
    _, target = score_clips(tl)[1]
    tl.selected = [target]
    assert errors_in(one_editor.run("Regenerate Selected Clip")) == []
    assert [(i.start, i.duration) for _, i in score_clips(tl)] == before
    call = client_calls(tmp_path)[-1]
    assert call[call.index("--mode") + 1] == "range"
    assert int(call[call.index("--seed") + 1]) == 2  # the batch cue had seed 1


def test_score_whole_timeline_places_every_cue_end_to_end(editor, tmp_path):
    tl = editor.timeline
    tl.AddMarker(500, "Blue", "cue B", "", 1, "")
    tl.AddMarker(901, "Blue", "cue C", "", 1, "")
    lines = editor.run("Score Whole Timeline")
    assert errors_in(lines) == []
    clips = [item for _, item in score_clips(tl)]
    report = json.loads((tmp_path / "scores/Film/Cut_3/timeline/report.json").read_text())
    assert len(clips) == len(report["cues"]) >= 3  # nothing dropped
    assert clips[0].start == tl.start
    for before, after in itertools.pairwise(clips):
        assert before.start + before.duration == after.start  # no gap, no overlap
    assert clips[-1].start + clips[-1].duration == tl.start + sum(SHOTS)
    assert {tl.start + 500, tl.start + 901} <= {c.start for c in clips}  # cue markers split
    for clip in clips:
        assert abs(wav_frames(clip, tl) - clip.duration) < 1
    assert len({track for track, _ in score_clips(tl)}) == 1


def test_a_wav_still_being_written_is_imported_once_it_is_complete(one_editor):
    one_editor.timeline.set_marks(0, 239)
    pool = one_editor.resolve.project.media_pool
    pool.busy_first = 2  # the first two imports return {}
    assert errors_in(one_editor.run("Score Marked Range")) == []
    assert len(score_clips(one_editor.timeline)) == 1
    assert pool.imports == 3


def test_status_reports_the_backend(one_editor):
    lines = one_editor.run("GVMGen Status")
    assert errors_in(lines) == []
    assert any("backend up" in line and "engine=arranger" in line for line in lines)
    assert any("job_id=abc123" in line for line in lines)


def test_a_clip_that_vanishes_on_save_is_placed_again(one_editor, monkeypatch):
    from tests.plugin.fake_resolve import FakeProjectManager

    tl = one_editor.timeline
    original = FakeProjectManager.SaveProject
    vanished = []

    def save_losing_one_clip(manager):
        result = original(manager)
        score_track = tl.audio[-1]
        if not vanished and score_track.items:
            vanished.append(score_track.items.pop(0))
        return result

    monkeypatch.setattr(FakeProjectManager, "SaveProject", save_losing_one_clip)
    assert errors_in(one_editor.run("Score Whole Timeline")) == []
    clips = [item for _, item in score_clips(tl)]
    assert vanished and (vanished[0].start, vanished[0].duration) in {
        (c.start, c.duration) for c in clips
    }
    assert clips[0].start == tl.start and clips[-1].start + clips[-1].duration == tl.GetEndFrame()
    assert one_editor.resolve.manager.saves == 2
