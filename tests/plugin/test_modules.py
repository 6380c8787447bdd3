"""The Lua core and its modules: each gvmgen_*.lua loads from beside the core, in the repository
and in the installed layout; install writes exactly them and uninstall removes exactly them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gvmgen_plugin import installer
from lupa import luajit21

from gvmgen.commands.score import SCORE_OPTIONS
from tests.plugin.conftest import client_calls, errors_in, make_editor
from tests.plugin.options import plugin_options, plugin_request_flags

RESOLVE_DIR = Path(installer.__file__).parent / "resolve"


def load_core(folder):
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    return lua.eval(f"dofile({json.dumps(str(folder / installer.CORE))})"), lua


def module_names(core) -> list[str]:
    return [core.MODULES[i] for i in range(1, len(core.MODULES) + 1)]


def test_install_writes_the_core_and_every_module_it_loads(tmp_path):
    core, _ = load_core(RESOLVE_DIR)
    names = module_names(core)
    assert {"json", "shell", "client", "placement", "commands", "window"} <= set(names)
    expected = {installer.CORE} | {f"gvmgen_{name}.lua" for name in names}
    assert set(installer.shared_scripts()) == expected
    target = installer.plan(scripts_dir=tmp_path / "Scripts")
    assert expected <= set(target.files)


def test_the_installed_core_loads_its_modules_from_its_own_folder(tmp_path):
    target = installer.plan(scripts_dir=tmp_path / "Scripts")
    installer.install(target, say=lambda _: None)
    core, lua = load_core(target.folder)
    assert core.folder == str(target.folder)
    for name in module_names(core):
        assert lua.eval("type")(core[name]) == "table", name
        assert lua.eval("rawequal")(core.modules[name], core[name])  # loaded once, shared


def test_a_missing_module_is_one_line_saying_to_reinstall(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, "24")
    (editor.menu_dir / "gvmgen_placement.lua").unlink()
    editor.timeline.set_marks(0, 47)
    before = editor.timeline.snapshot()
    (line,) = editor.run("Score Marked Range")
    assert line.startswith("[GVMGen] cannot load") and "gvmgen resolve install" in line
    assert editor.timeline.snapshot() == before
    assert client_calls(tmp_path) == []


@pytest.mark.parametrize("name", [n for n in installer.shared_scripts() if n != installer.CORE])
def test_a_module_run_from_the_menu_does_nothing_but_say_so(name):
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    ok, result = lua.eval("pcall")(lua.eval("dofile"), str(RESOLVE_DIR / name))
    if ok:  # a module without dependencies only returns its table
        assert lua.eval("type")(result) == "table"
    else:
        assert "shared code" in str(result)


def test_uninstall_removes_every_module(tmp_path):
    scripts = tmp_path / "Scripts"
    target = installer.plan(scripts_dir=scripts)
    installer.install(target, say=lambda _: None)
    assert all((target.folder / name).is_file() for name in installer.shared_scripts())
    removed = installer.uninstall(target.folder, say=lambda _: None)
    assert {p.name for p in removed} >= set(installer.shared_scripts())
    assert not scripts.exists()


def test_a_reinstall_removes_a_module_the_new_version_no_longer_has(tmp_path):
    scripts = tmp_path / "Scripts"
    target = installer.plan(scripts_dir=scripts)
    old = installer.Plan(target.folder, {**target.files, "gvmgen_retired.lua": "return {}"})
    installer.install(old, say=lambda _: None)
    installer.install(target, say=lambda _: None)
    assert not (target.folder / "gvmgen_retired.lua").exists()
    installer.uninstall(target.folder, say=lambda _: None)
    assert not scripts.exists()  # the folders the first install made go too


def test_request_options_in_gvmgen_json_reach_the_client(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, "24")
    config = editor.config()
    config.update(rate="23.976", edit_points_only=True, takes=2, seed=None)
    (editor.menu_dir / installer.CONFIG).write_text(json.dumps(config))
    editor.timeline.set_marks(0, 47)
    assert errors_in(editor.run("Score Marked Range")) == []
    (call,) = [c for c in client_calls(tmp_path) if "submit" in c]
    assert call[call.index("--rate") + 1] == "23.976"
    assert call[call.index("--takes") + 1] == "2"
    assert "--edit-points-only" in call and "--seed" not in call


def test_a_switch_set_to_false_is_left_out(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, "24")
    config = editor.config()
    config.update(edit_points_only=False, spawn=False)
    (editor.menu_dir / installer.CONFIG).write_text(json.dumps(config))
    editor.timeline.set_marks(0, 47)
    assert errors_in(editor.run("Score Marked Range")) == []
    (call,) = [c for c in client_calls(tmp_path) if "submit" in c]
    assert "--edit-points-only" not in call and "--spawn" not in call


def test_the_scripts_can_pass_every_score_option_of_the_client():
    wanted = {option.flag for option in SCORE_OPTIONS} | {"--input", "--out"}
    have = plugin_request_flags()
    assert not wanted - have, (
        f"the Resolve scripts cannot pass {sorted(wanted - have)}: add one line each to "
        "REQUEST_OPTIONS in plugin/resolve/gvmgen_client.lua (a `setting`, named after the flag)"
    )
    assert not have - wanted, f"REQUEST_OPTIONS passes {sorted(have - wanted)}, no client option"
    for row in plugin_options():  # a standing choice is named after its flag in gvmgen.json
        if "setting" in row:
            assert row["setting"] == row["flag"].removeprefix("--").replace("-", "_")
