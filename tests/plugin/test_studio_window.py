"""Studio: progress in a UIManager window with a working Cancel (the free edition has no UI)."""

from __future__ import annotations

from tests.plugin.conftest import errors_in, make_editor
from tests.plugin.fake_resolve import FakeDispatcher


def studio_editor(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_STATE", str(tmp_path))
    return make_editor(tmp_path, "23.976", version=(21, 1, 0), studio=True)


def test_studio_shows_progress_in_a_window_and_places_the_clip(tmp_path, monkeypatch):
    editor = studio_editor(tmp_path, monkeypatch)
    editor.timeline.set_marks(24, 263)
    assert errors_in(editor.run("Score Marked Range")) == []
    dialog, window = editor.resolve.fusion.UIManager.windows  # the score dialog, then progress
    assert dialog.props["ID"] == "GVMGenControls" and not dialog.shown
    assert any(text.startswith("write:") for text in window.items["Stage"].texts)
    assert window.items["Bar"].texts[-1].endswith("83%")
    assert not window.shown  # closed when the job ended
    (item,) = editor.timeline.audio[1].items
    assert (item.start, item.duration) == (editor.timeline.start + 24, 240)


def test_cancel_in_the_window_stops_the_job_and_changes_nothing(tmp_path, monkeypatch):
    editor = studio_editor(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_GVMGEN", "slow")
    monkeypatch.setattr(FakeDispatcher, "press_cancel", True)
    editor.timeline.set_marks(24, 263)
    before = editor.timeline.snapshot()
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "cancelled" in message
    assert editor.timeline.snapshot() == before
    assert list(tmp_path.glob("cancel-*"))  # `gvmgen client cancel JOB` was called


def test_a_client_that_dies_in_the_background_is_one_sentence(tmp_path, monkeypatch):
    editor = studio_editor(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_GVMGEN", "silent")
    editor.timeline.set_marks(24, 263)
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "stopped without an answer: RuntimeError: the client crashed" in message
