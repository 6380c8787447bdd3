"""Install the GVMGen menu scripts into DaVinci Resolve's Scripts folder, and take them out again.

Resolve scans `<Scripts>/Utility/` at startup and shows each sub-folder as a submenu of
Workspace › Scripts, on every page. We write the four Lua menu scripts, their shared
`gvmgen_core.lua` and the modules it loads from beside itself (`gvmgen_*.lua`), a `gvmgen.json`
that tells them where this environment's `gvmgen` is (Resolve's Lua has no PATH of ours), and a
manifest of exactly what we wrote, so uninstall removes that and nothing else. A file there that
we did not write is never overwritten; one an earlier install wrote and this one no longer has
is removed.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PureWindowsPath

from gvmgen_backend.datadir import default_data_dir

from gvmgen.atomic import write_text_atomic
from gvmgen.defaults import DEFAULT_ENGINE
from gvmgen.errors import GVMGenError

MENU_FOLDER = ("Utility", "GVMGen")
# menu entry -> (the command gvmgen_core.lua runs, what the entry does); each script is the one
# loader (resolve/menu_script.lua) with these filled in, so the four can never drift apart
MENU_SCRIPTS = {
    "Score Marked Range.lua": (
        "range",
        "the In/Out marks (or the clip under the playhead) as one cue on the GVMGen Score track",
    ),
    "Regenerate Selected Clip.lua": (
        "regenerate",
        "a new take of the selected score clip, in its place; earlier takes stay in the bin",
    ),
    "Score Whole Timeline.lua": (
        "batch",
        "every cue of the timeline (cue markers, then scene changes), placed end to end",
    ),
    "GVMGen Status.lua": ("status", "backend up or down, engine, device, queue and the last jobs"),
}
MENU_LOADER = "menu_script.lua"
CORE = "gvmgen_core.lua"  # loads the other gvmgen_*.lua (its modules) from its own folder
CONFIG = "gvmgen.json"
MANIFEST = ".gvmgen-install.json"
CLIENT_TIMEOUT_SECONDS = 3600  # a whole-timeline batch on the neural engine can take this long


class InstallError(GVMGenError):
    """The Scripts folder cannot be written, or holds files GVMGen did not write."""


@dataclass(frozen=True)
class Plan:
    """What an install writes: the menu folder and each file's text."""

    folder: Path
    files: dict[str, str]  # name inside `folder` -> contents


def scripts_folder(platform: str, system: bool, env: dict[str, str], home: Path) -> Path:
    """Resolve's Fusion Scripts folder for this OS: per user, or for everyone (`system`)."""
    if platform.startswith("win"):
        base = env.get("PROGRAMDATA", r"C:\ProgramData") if system else env.get("APPDATA")
        if not base:
            raise InstallError("APPDATA is not set; cannot find Resolve's per-user Scripts folder")
        tail = "Fusion" if system else r"Support\Fusion"
        return Path(PureWindowsPath(base, "Blackmagic Design", "DaVinci Resolve", tail, "Scripts"))
    if platform == "darwin":
        root = Path("/") if system else home
        return root / "Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts"
    if system:
        return Path("/opt/resolve/Fusion/Scripts")
    return home / ".local/share/DaVinciResolve/Fusion/Scripts"


def gvmgen_command(platform: str) -> list[str]:
    """How the scripts start this environment's `gvmgen`: its console script, else `python -m`."""
    bin_dir = Path(sys.executable).parent
    script = bin_dir / ("gvmgen.exe" if platform.startswith("win") else "gvmgen")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "gvmgen.cli"]


def plan(
    *,
    platform: str | None = None,
    system: bool = False,
    env: dict[str, str] | None = None,
    home: Path | None = None,
    scripts_dir: Path | None = None,
) -> Plan:
    platform = platform or sys.platform
    env = dict(os.environ) if env is None else env
    home = home or Path.home()
    root = scripts_dir or scripts_folder(platform, system, env, home)
    config = {
        "gvmgen": gvmgen_command(platform),
        "scores_dir": str(default_data_dir(platform, env, home) / "resolve"),
        "engine": DEFAULT_ENGINE,
        "timeout": CLIENT_TIMEOUT_SECONDS,
    }
    files = {name: menu_script(name) for name in MENU_SCRIPTS}
    files |= {name: _script_text(name) for name in shared_scripts()}
    files[CONFIG] = json.dumps(config, indent=2) + "\n"
    return Plan(root.joinpath(*MENU_FOLDER), files)


def menu_script(name: str) -> str:
    """The text of menu entry `name`: the shared loader with its command and title filled in."""
    command, about = MENU_SCRIPTS[name]
    title = name.removesuffix(".lua")
    text = _script_text(MENU_LOADER)
    return text.replace("@TITLE@", title).replace("@ABOUT@", about).replace("@COMMAND@", command)


def shared_scripts() -> list[str]:
    """The core and its modules: every `gvmgen_*.lua` shipped with the plugin."""
    folder = resources.files("gvmgen_plugin").joinpath("resolve")
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith("gvmgen_") and p.name.endswith(".lua")
    )


def _script_text(name: str) -> str:
    return resources.files("gvmgen_plugin").joinpath("resolve", name).read_text(encoding="utf-8")


def install(target: Plan, dry_run: bool = False, say=print) -> list[Path]:
    """Write the plan; returns every path written (or that would be, with `dry_run`)."""
    written = [target.folder / name for name in target.files] + [target.folder / MANIFEST]
    previous = _manifest(target.folder)
    ours = set(previous.get("files", []))
    retired = [target.folder / name for name in sorted(ours - set(target.files))]
    strangers = [p for p in written[:-1] if p.exists() and p.name not in ours]
    if strangers:
        raise InstallError(
            f"{strangers[0]} exists and was not written by GVMGen; move it away and run "
            "`gvmgen resolve install` again"
        )
    for path in written:
        say(("would write " if dry_run else "writing ") + str(path))
    for path in retired:  # an earlier version's file that this one no longer has
        say(("would remove " if dry_run else "removing ") + str(path))
    if dry_run:
        return written
    created = _make_folder(target.folder)
    fresh = [p for p in written if not p.exists()]
    try:
        for name, text in target.files.items():
            write_text_atomic(target.folder / name, text)
        # a reinstall keeps the folders the first install created, so uninstall still removes them
        folders = [*previous.get("created_folders", []), *created]
        manifest = {"files": sorted(target.files), "created_folders": folders}
        write_text_atomic(target.folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        for path in retired:
            path.unlink(missing_ok=True)
    except OSError as error:
        _undo(fresh, created)  # half an install would look like someone else's files next time
        if isinstance(error, PermissionError):
            raise _permission(error, target.folder) from None
        raise InstallError(f"cannot write to {target.folder}: {error.strerror}") from None
    return written


def _undo(files: list[Path], folders: list[str]) -> None:
    for path in files:
        path.unlink(missing_ok=True)
    for folder in reversed(folders):
        if Path(folder).is_dir() and not any(Path(folder).iterdir()):
            Path(folder).rmdir()


def uninstall(folder: Path, dry_run: bool = False, say=print) -> list[Path]:
    """Remove exactly what install wrote into `folder` (and the folders it created, if empty)."""
    manifest = _manifest(folder)
    if not manifest:
        raise InstallError(f"GVMGen is not installed in {folder} (no {MANIFEST} there)")
    removed = [folder / name for name in manifest["files"]] + [folder / MANIFEST]
    for path in removed:
        say(("would remove " if dry_run else "removing ") + str(path))
    if dry_run:
        return removed
    try:
        for path in removed:
            path.unlink(missing_ok=True)
        for created in sorted(manifest.get("created_folders", []), key=len, reverse=True):
            if Path(created).is_dir() and not any(Path(created).iterdir()):
                Path(created).rmdir()
    except PermissionError as error:
        raise _permission(error, folder) from None
    return removed


def _manifest(folder: Path) -> dict:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("files"), list) else {}


def _make_folder(folder: Path) -> list[str]:
    """Create `folder` and its missing parents; returns the ones created (deepest last)."""
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            break
        missing.append(parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError as error:
        raise _permission(error, folder) from None
    return [str(p) for p in reversed(missing)]


def _permission(error: PermissionError, folder: Path) -> InstallError:
    return InstallError(
        f"cannot write to {error.filename or folder}: permission denied; install for this "
        "user (without --system), or run as an administrator"
    )
