"""`gvmgen resolve install|uninstall`: the right Scripts folder per OS, exactly what it wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path, PureWindowsPath

import pytest
from gvmgen_plugin import installer

from gvmgen.cli import main

MENU = "Utility/GVMGen"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")} if root.exists() else set()


@pytest.mark.parametrize(
    ("platform", "system", "expected"),
    [
        ("linux", False, "HOME/.local/share/DaVinciResolve/Fusion/Scripts"),
        ("linux", True, "/opt/resolve/Fusion/Scripts"),
        (
            "darwin",
            False,
            "HOME/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
        ),
        (
            "darwin",
            True,
            "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts",
        ),
        (
            "win32",
            False,
            r"C:\Users\ed\AppData\Roaming\Blackmagic Design\DaVinci Resolve\Support\Fusion\Scripts",
        ),
        ("win32", True, r"C:\ProgramData\Blackmagic Design\DaVinci Resolve\Fusion\Scripts"),
    ],
)
def test_the_scripts_folder_for_each_os(tmp_path, platform, system, expected):
    env = {"APPDATA": r"C:\Users\ed\AppData\Roaming", "PROGRAMDATA": r"C:\ProgramData"}
    folder = installer.scripts_folder(platform, system, env, tmp_path)
    if platform == "win32":
        assert PureWindowsPath(folder) == PureWindowsPath(expected)
    else:
        assert folder == Path(expected.replace("HOME", str(tmp_path)))


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_install_then_uninstall_leaves_home_as_it_was(tmp_path, monkeypatch, capsys, platform):
    home = tmp_path / "home"
    (home / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GVMGEN_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    before = files_under(home)

    assert main(["resolve", "install"]) == 0
    folder = installer.scripts_folder(platform, False, {}, home) / MENU
    written = files_under(home) - before
    assert {p.name for p in written if p.is_file()} == {
        *installer.MENU_SCRIPTS,
        *installer.shared_scripts(),
        installer.CONFIG,
        installer.MANIFEST,
    }
    assert installer.CORE in installer.shared_scripts()
    for path in written:  # everything under the Scripts folder, nothing else
        assert path == folder or folder in path.parents or path in folder.parents
    config = json.loads((folder / installer.CONFIG).read_text())
    command = Path(config["gvmgen"][0])
    assert command.parent == Path(sys.executable).parent  # this venv's gvmgen
    assert config["scores_dir"].startswith(str(home))
    assert (folder / "Score Marked Range.lua").read_text() == (
        installer.menu_script("Score Marked Range.lua")
    )
    out = capsys.readouterr().out
    assert all(str(p) in out for p in written if p.is_file())

    assert main(["resolve", "uninstall"]) == 0
    assert files_under(home) == before


def test_dry_run_prints_every_path_and_writes_nothing(tmp_path, capsys):
    scripts = tmp_path / "Scripts"
    assert main(["resolve", "install", "--dry-run", "--scripts-dir", str(scripts)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(installer.MENU_SCRIPTS) + len(installer.shared_scripts()) + 2
    assert all(line.startswith("would write " + str(scripts / MENU)) for line in out)
    assert not scripts.exists()


def test_uninstall_keeps_files_it_did_not_write(tmp_path):
    scripts = tmp_path / "Scripts"
    (scripts / "Utility").mkdir(parents=True)
    (scripts / "Utility/Mine.lua").write_text("-- the user's own script")
    target = installer.plan(scripts_dir=scripts)
    installer.install(target, say=lambda _: None)
    (target.folder / "notes.txt").write_text("the editor's notes")
    installer.uninstall(target.folder, say=lambda _: None)
    assert (scripts / "Utility/Mine.lua").exists()
    assert sorted(p.name for p in target.folder.iterdir()) == ["notes.txt"]


def test_install_never_overwrites_a_file_it_did_not_write(tmp_path, capsys):
    scripts = tmp_path / "Scripts"
    (scripts / MENU).mkdir(parents=True)
    (scripts / MENU / "gvmgen.json").write_text("{}")
    assert main(["resolve", "install", "--scripts-dir", str(scripts)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not written by GVMGen" in err
    assert (scripts / MENU / "gvmgen.json").read_text() == "{}"
    assert sorted(p.name for p in (scripts / MENU).iterdir()) == ["gvmgen.json"]


def test_reinstall_updates_its_own_files(tmp_path):
    target = installer.plan(scripts_dir=tmp_path)
    installer.install(target, say=lambda _: None)
    (target.folder / installer.CORE).write_text("-- old version")
    installer.install(target, say=lambda _: None)
    assert (target.folder / installer.CORE).read_text() == target.files[installer.CORE]


def test_uninstall_where_nothing_is_installed_is_one_line(tmp_path, capsys):
    assert main(["resolve", "uninstall", "--scripts-dir", str(tmp_path)]) == 2
    assert "not installed" in capsys.readouterr().err


def test_a_folder_it_cannot_write_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    written = []

    def refuse_the_third(path, text):
        if len(written) == 2:
            raise PermissionError(13, "Permission denied", str(path))
        written.append(path)
        Path(path).write_text(text)

    monkeypatch.setattr(installer, "write_text_atomic", refuse_the_third)
    assert main(["resolve", "install", "--scripts-dir", str(tmp_path / "Scripts")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "permission denied" in err and "--system" in err
    assert not (tmp_path / "Scripts").exists()  # the two files written were taken back
