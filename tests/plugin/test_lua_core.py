"""gvmgen_core.lua on its own (LuaJIT 2.1 through lupa): the JSON reader, rates, timecodes,
version gates, and the four menu scripts that load it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gvmgen_plugin import installer
from lupa import luajit21

from tests.plugin.conftest import errors_in, make_editor

RESOLVE_DIR = Path(installer.__file__).parent / "resolve"


@pytest.fixture(scope="module")
def core():
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    assert lua.eval("jit.version").startswith("LuaJIT 2.1")
    return lua.eval(f"dofile({json.dumps(str(RESOLVE_DIR / 'gvmgen_core.lua'))})"), lua


def to_python(value, lua):
    if lua.eval("type")(value) != "table":
        return value
    keys = list(value.keys())
    if keys and all(isinstance(k, int) for k in keys):
        return [to_python(value[k], lua) for k in sorted(keys)]
    return {k: to_python(v, lua) for k, v in value.items()}


@pytest.mark.parametrize(
    "value",
    [
        {"type": "done", "job_id": "a1", "result": {"cues": [{"start": 1.5e1, "wav": "/x y.wav"}]}},
        {"text": 'quote " backslash \\ tab \t newline \n', "empty": "", "list": [1, -2, 3.25]},
        {"unicode": "Café – 東京 🎵", "flag": True, "off": False},
        {"nested": {"deep": {"deeper": [[1, 2], {"x": "y"}]}}},
    ],
)
def test_json_decode_reads_what_python_writes(core, value):
    module, lua = core
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=2)):
        assert to_python(module.json.decode(text), lua) == value


def test_json_null_is_a_sentinel_and_garbage_is_an_error(core):
    module, lua = core
    decoded = module.json.decode('{"hint": null}')
    assert lua.eval("rawequal")(decoded.hint, module.json.null)
    for bad in ('{"a": 1', '{"a" 1}', "[1,]x", '"open'):
        ok, _ = lua.eval("pcall")(module.json.decode, bad)
        assert ok is False


@pytest.mark.parametrize(
    ("rate", "timecode", "frame"),
    [
        ("24", "01:00:00:00", 86400),
        ("23.976", "01:00:00:00", 86400),
        ("29.97", "01:00:00;00", 107892),
        ("29.97", "01:10:00;00", 125874),
        ("29.97", "01:01:00;02", 109692),
        ("29.97", "01:00:00:00", 108000),
    ],
)
def test_timecodes_to_frames_drop_frame_included(core, rate, timecode, frame):
    import opentimelineio as otio

    module, _ = core
    parsed = module.frames.timecode_frame(timecode, module.frames.parse_rate(rate))
    assert parsed == frame
    exact = {"24": 24.0, "23.976": 24000 / 1001, "29.97": 30000 / 1001}[rate]
    assert round(otio.opentime.from_timecode(timecode, exact).value) == frame


def test_rates_are_exact_fractions(core):
    frames = core[0].frames
    r = frames.parse_rate("23.976")
    assert (r.num, r.den) == (24000, 1001)
    assert frames.frames_at(20.854166666666668, r) == 500
    r = frames.parse_rate("29.97")
    assert (r.num, r.den) == (30000, 1001)
    assert frames.parse_rate("nonsense") is None


def test_the_four_menu_scripts_are_one_loader_with_their_own_command():
    loaders = {}
    for name in installer.MENU_SCRIPTS:
        text = installer.menu_script(name)
        assert "@" + "COMMAND@" not in text and Path(name).stem in text.splitlines()[0]
        command = text.split('local COMMAND = "')[1].split('"')[0]
        loaders[command] = text.split("local COMMAND =")[1].split("\n", 1)[1]
    assert set(loaders) == {"range", "regenerate", "batch", "status"}
    assert len(set(loaders.values())) == 1


def test_free_21_1_lists_every_command_and_runs_without_ui_or_python(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "calls.jsonl"))
    editor = make_editor(tmp_path, "24", version=(21, 1, 0), studio=False)
    assert editor.resolve.fusion.UIManager is None
    (editor.menu_dir / "Old Python Script.py").write_text("print('hidden on free 21.1')")
    entries = editor.resolve.menu_entries(editor.scripts_root)
    assert {Path(n).stem for n in installer.MENU_SCRIPTS} <= set(entries)
    assert "Old Python Script" not in entries
    editor.timeline.set_marks(48, 527)
    assert errors_in(editor.run("Score Marked Range")) == []
    assert [len(t.items) for t in editor.timeline.audio] == [1, 1]


def test_resolve_19_0_has_no_mark_in_out_so_the_playhead_clip_is_scored(tmp_path):
    editor = make_editor(tmp_path, "24", version=(19, 0, 2))
    tl = editor.timeline
    tl.set_marks(10, 20)  # set in the UI, but 19.0 cannot read them
    tl.playhead = tl.start + 130
    assert errors_in(editor.run("Score Marked Range")) == []
    (item,) = tl.audio[1].items
    assert (item.start, item.duration) == (tl.start + 120, 97)  # the second shot


def test_resolve_18_6_counts_end_frame_inclusively_and_still_fits(tmp_path):
    editor = make_editor(tmp_path, "23.976", version=(18, 6, 4))
    tl = editor.timeline
    tl.playhead = tl.start + 300  # no GetMarkInOut before 19.1: the clip under the playhead
    assert errors_in(editor.run("Score Marked Range")) == []
    (item,) = tl.audio[1].items
    assert (item.start, item.duration) == (tl.start + 217, 211)  # the third shot, exactly


def test_resolve_before_18_5_is_told_which_version_is_needed(tmp_path):
    editor = make_editor(tmp_path, "24", version=(18, 1, 4))
    editor.timeline.set_marks(0, 100)
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "18.5 or later" in message and "18.1.4" in message


def test_a_missing_config_says_how_to_install(tmp_path):
    editor = make_editor(tmp_path, "24")
    (editor.menu_dir / installer.CONFIG).unlink()
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "gvmgen resolve install" in message


def test_the_live_probe_compiles_and_is_never_installed(tmp_path):
    probe = RESOLVE_DIR.parent / "resolve_probes" / "GVMGen Live Probe.lua"
    lua = luajit21.LuaRuntime()
    compiles = lua.eval("function(text) return loadstring(text) ~= nil end")
    assert compiles(probe.read_text(encoding="utf-8"))
    target = installer.plan(scripts_dir=tmp_path)
    assert probe.name not in target.files


@pytest.mark.parametrize(
    ("text", "setting", "drop"),
    [
        ("29.97 DF", False, True),
        ("29.97", True, True),
        ("29.97 NDF", False, False),
        ("59.94 DF", False, True),
        ("29.97", False, False),
        ("23.976", True, False),  # no drop-frame count exists at 23.976
        ("25", True, False),
    ],
)
def test_drop_frame_comes_from_the_rate_text_or_the_setting(core, text, setting, drop):
    rate = core[0].frames.parse_rate(text, setting)
    assert rate.drop_frame is drop
    assert rate.value == pytest.approx(float(text.split()[0]), abs=1e-3)


def test_a_drop_frame_timeline_counts_drop_frame_whatever_the_separator(core):
    frames = core[0].frames
    drop_frame = frames.parse_rate("29.97 DF")
    assert frames.timecode_frame("01:01:00:02", drop_frame) == 109692
    assert frames.timecode_frame("01:01:00;02", drop_frame) == 109692
    assert frames.timecode_frame("01:00:00;00", frames.parse_rate("59.94 DF")) == 215784


@pytest.mark.parametrize("rate", ["29.97", "59.94"])
def test_a_timeline_whose_rate_reads_df_scores_and_regenerates(tmp_path, monkeypatch, rate):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, rate, version=(20, 2, 0), rate_says_df=True)
    tl = editor.timeline
    assert tl.GetSetting("timelineFrameRate") == f"{rate} DF"
    tl.set_marks(40, 400)
    assert errors_in(editor.run("Score Marked Range")) == []
    ((first,),) = [t.items for t in tl.audio if t.name == "GVMGen Score"]
    assert (first.start, first.duration) == (tl.start + 40, 361)
    tl.playhead = first.start + 300  # no GetSelectedClips before 21.0.4: the playhead's clip
    assert errors_in(editor.run("Regenerate Selected Clip")) == []
    ((second,),) = [t.items for t in tl.audio if t.name == "GVMGen Score"]
    assert (second.start, second.duration) == (first.start, first.duration)
    assert "take-02" in second.mpi.path
