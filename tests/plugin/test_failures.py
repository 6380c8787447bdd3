"""What goes wrong reaches the editor as one sentence, and the timeline stays as it was."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import errors_in

SCORE = "GVMGen Score"


def one_sentence(lines: list[str]) -> str:
    (message,) = errors_in(lines)
    text = message.removeprefix("[GVMGen] ")
    assert "\n" not in text and "Traceback" not in text
    assert text.endswith(".") and text[0].isupper()
    return text


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("down", "gvmgen serve"),
        ("bad_range", "outside the timeline"),
        ("no_weights", "gvmgen models import"),
        ("fail", "no media"),
        ("cancelled", "cancelled"),
        ("silent", "stopped without an answer"),
    ],
)
def test_a_backend_problem_is_one_sentence_and_changes_nothing(
    one_editor, monkeypatch, behaviour, words
):
    monkeypatch.setenv("FAKE_GVMGEN", behaviour)
    one_editor.timeline.set_marks(100, 600)
    before = one_editor.timeline.snapshot()
    assert words in one_sentence(one_editor.run("Score Marked Range"))
    assert one_editor.timeline.snapshot() == before
    assert one_editor.resolve.project.media_pool.all_clips() == []


def test_backend_down_reaches_the_whole_timeline_and_status_too(one_editor, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN", "down")
    before = one_editor.timeline.snapshot()
    assert "gvmgen serve" in one_sentence(one_editor.run("Score Whole Timeline"))
    assert "gvmgen serve" in one_sentence(one_editor.run("GVMGen Status"))
    assert one_editor.timeline.snapshot() == before


@pytest.mark.parametrize(
    ("marks", "words"),
    [
        (None, "Mark an In and an Out point"),
        ((400, 399), "empty"),
        ((400, 99999), "outside the timeline"),
    ],
    ids=["no-marks", "empty", "past-the-end"],
)
def test_a_bad_range_is_refused_before_anything_runs(one_editor, tmp_path, marks, words):
    one_editor.timeline.playhead = one_editor.timeline.start - 10  # over no clip
    if marks:
        one_editor.timeline.set_marks(*marks)
    before = one_editor.timeline.snapshot()
    assert words in one_sentence(one_editor.run("Score Marked Range"))
    assert one_editor.timeline.snapshot() == before
    assert not (tmp_path / "client-calls.jsonl").exists()


def test_regenerate_without_a_score_clip_says_what_to_select(one_editor):
    before = one_editor.timeline.snapshot()
    assert "Select a GVMGen score clip" in one_sentence(one_editor.run("Regenerate Selected Clip"))
    assert one_editor.timeline.snapshot() == before


def score_tracks(timeline):
    return [t for t in timeline.audio if t.name.startswith(SCORE)]


def test_an_occupied_score_track_gets_a_new_track_beside_it(one_editor):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    tl.set_marks(240, 719)  # overlaps the first score clip
    assert errors_in(one_editor.run("Score Marked Range")) == []
    first, second = score_tracks(tl)
    assert [(i.start, i.duration) for i in first.items] == [(tl.start, 480)]
    assert [(i.start, i.duration) for i in second.items] == [(tl.start + 240, 480)]
    assert second.name == "GVMGen Score 2"


def test_a_locked_score_track_gets_a_new_track(one_editor):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    score_tracks(tl)[0].locked = True
    tl.set_marks(600, 899)  # free on the locked track, but Resolve would return {}
    assert errors_in(one_editor.run("Score Marked Range")) == []
    locked, fresh = score_tracks(tl)
    assert len(locked.items) == 1
    assert [(i.start, i.duration) for i in fresh.items] == [(tl.start + 600, 300)]


def test_when_resolve_hides_the_lock_the_dropped_append_moves_to_a_new_track(
    one_editor, monkeypatch
):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    score_tracks(tl)[0].locked = True
    monkeypatch.setattr(type(tl), "GetIsTrackLocked", property(lambda self: None))  # no probe
    tl.set_marks(600, 899)
    assert errors_in(one_editor.run("Score Marked Range")) == []
    assert [(i.start, i.duration) for i in score_tracks(tl)[1].items] == [(tl.start + 600, 300)]


def test_when_no_track_can_be_added_the_editor_is_told_and_nothing_changes(one_editor, monkeypatch):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    tl.audio[-1].locked = True
    monkeypatch.setattr(type(tl), "AddTrack", lambda self, kind, sub=None: False)
    tl.set_marks(0, 479)
    before = tl.snapshot()
    assert "add an audio track" in one_sentence(one_editor.run("Score Marked Range"))
    assert tl.snapshot() == before


def test_regenerate_on_a_locked_track_keeps_the_old_take(one_editor):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    (track,) = score_tracks(tl)
    tl.selected = list(track.items)
    track.locked = True
    before = tl.snapshot()
    monkeypatch_delete = tl.DeleteClips  # a locked track: Resolve deletes nothing
    tl.DeleteClips = lambda *args: False
    assert "would not remove" in one_sentence(one_editor.run("Regenerate Selected Clip"))
    tl.DeleteClips = monkeypatch_delete
    assert tl.snapshot() == before


def test_regenerate_refuses_a_clip_gvmgen_did_not_place(one_editor):
    tl = one_editor.timeline
    tl.selected = list(tl.audio[0].items)  # the production sound
    before = tl.snapshot()
    assert "Select a GVMGen score clip" in one_sentence(one_editor.run("Regenerate Selected Clip"))
    assert tl.snapshot() == before


def test_a_client_that_moved_away_says_to_reinstall(one_editor, tmp_path):
    import json

    config_path = one_editor.menu_dir / "gvmgen.json"
    config = json.loads(config_path.read_text())
    config["gvmgen"] = [str(tmp_path / "gone" / "gvmgen")]
    config_path.write_text(json.dumps(config))
    one_editor.timeline.set_marks(0, 47)
    before = one_editor.timeline.snapshot()
    message = one_sentence(one_editor.run("Score Marked Range"))
    assert "stopped without an answer" in message and "gvmgen resolve install" in message
    assert one_editor.timeline.snapshot() == before


def test_status_right_after_install_with_no_jobs_is_an_answer(one_editor, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN", "no_jobs")  # `client list` prints nothing and exits 0
    lines = one_editor.run("GVMGen Status")
    assert errors_in(lines) == []
    assert any("backend up" in line for line in lines)
    assert "[GVMGen] jobs: none yet" in lines


@pytest.mark.parametrize(
    ("behaviour", "words"),
    [
        ("list_crash", "stopped without an answer: OSError: the data dir is gone"),
        ("list_killed", "stopped without an answer"),
    ],
)
def test_a_job_list_that_dies_is_still_reported(one_editor, monkeypatch, behaviour, words):
    monkeypatch.setenv("FAKE_GVMGEN", behaviour)
    lines = one_editor.run("GVMGen Status")
    assert any("backend up" in line for line in lines)
    (problem,) = errors_in(lines)
    assert problem.startswith("[GVMGen] cannot list the jobs: ") and words in problem
