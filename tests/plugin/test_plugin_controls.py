"""The editor's controls from Resolve: on Studio a score dialog (mood, intensity, tempo, preset
from gvmgen.json) whose choices reach `gvmgen client submit`; closing it submits nothing. On the
free edition (no UI) gvmgen.json's settings are passed, and `mood …`/`intensity N`/`tempo N`
markers travel in the exported timeline."""

from __future__ import annotations

import json

from gvmgen_plugin import installer

from gvmgen.controls import MOODS
from tests.plugin.conftest import client_calls, errors_in, make_editor
from tests.plugin.fake_resolve import FakeDispatcher
from tests.plugin.options import CLIENT_MODULE


def _editor(tmp_path, monkeypatch, studio: bool, **settings):
    monkeypatch.setenv("FAKE_GVMGEN_STATE", str(tmp_path))
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    monkeypatch.delenv("FAKE_GVMGEN", raising=False)
    options = {"version": (21, 1, 0), "studio": True} if studio else {}
    editor = make_editor(tmp_path, "24", **options)
    if settings:
        config = editor.config()
        config.update(settings)
        (editor.menu_dir / installer.CONFIG).write_text(json.dumps(config))
    editor.timeline.set_marks(24, 263)
    return editor


def _submit(tmp_path) -> list[str]:
    (call,) = [c for c in client_calls(tmp_path) if "submit" in c]
    return call


def _value(call: list[str], flag: str) -> str | None:
    return call[call.index(flag) + 1] if flag in call else None


def test_the_studio_dialog_sends_the_editors_choices(tmp_path, monkeypatch):
    editor = _editor(tmp_path, monkeypatch, studio=True, mood="warm", intensity=3)
    choices = {"Mood": "tense", "Intensity": "8", "Tempo": "96"}
    monkeypatch.setattr(FakeDispatcher, "controls", choices)
    assert errors_in(editor.run("Score Marked Range")) == []
    assert FakeDispatcher.opened_with == {"Mood": "warm", "Intensity": "3", "Tempo": ""}
    call = _submit(tmp_path)
    assert (_value(call, "--mood"), _value(call, "--intensity"), _value(call, "--tempo")) == (
        "tense",
        "8",
        "96",
    )
    assert len(editor.timeline.audio[1].items) == 1  # and the music was placed


def test_from_the_picture_sends_no_control(tmp_path, monkeypatch):
    editor = _editor(tmp_path, monkeypatch, studio=True, mood="warm")
    choices = {"Mood": "from the picture", "Intensity": "from the picture", "Tempo": ""}
    monkeypatch.setattr(FakeDispatcher, "controls", choices)
    assert errors_in(editor.run("Score Marked Range")) == []
    call = _submit(tmp_path)
    assert not {"--mood", "--intensity", "--tempo"} & set(call)


def test_closing_the_dialog_submits_nothing_and_changes_nothing(tmp_path, monkeypatch):
    editor = _editor(tmp_path, monkeypatch, studio=True)
    monkeypatch.setattr(FakeDispatcher, "controls", None)
    before = editor.timeline.snapshot()
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "score dialog was closed" in message
    assert not [c for c in client_calls(tmp_path) if "submit" in c]
    assert editor.timeline.snapshot() == before


def test_the_free_edition_passes_the_settings(tmp_path, monkeypatch):
    editor = _editor(tmp_path, monkeypatch, studio=False, mood="epic", tempo="90-110", duck=6)
    assert errors_in(editor.run("Score Marked Range")) == []
    call = _submit(tmp_path)
    assert _value(call, "--mood") == "epic" and _value(call, "--tempo") == "90-110"
    assert _value(call, "--duck") == "6" and "--intensity" not in call


def test_the_dialog_offers_the_moods_the_cli_takes():
    from lupa import luajit21

    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    load = lua.eval("function(path) return loadfile(path)(function() return {} end) end")
    window = load(str(CLIENT_MODULE.with_name("gvmgen_window.lua")))
    moods = window["MOODS"]
    assert [moods[i] for i in range(1, len(moods) + 1)] == list(MOODS)
