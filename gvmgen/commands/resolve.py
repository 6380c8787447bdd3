"""`gvmgen resolve install [--dry-run] [--system]` and `gvmgen resolve uninstall`.

Copies the GVMGen menu scripts (Lua: they run on free and Studio alike) into DaVinci Resolve's
Scripts folder for this OS, with a config that points them at this environment's `gvmgen`.
Uninstall removes exactly what install wrote. Restart Resolve to see Workspace › Scripts › GVMGen.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser("resolve", help=help_text, description=help_text)
    actions = parser.add_subparsers(dest="resolve_action", metavar="ACTION")
    install = actions.add_parser("install", help="copy the menu scripts into Resolve")
    uninstall = actions.add_parser("uninstall", help="remove what install wrote")
    for action in (install, uninstall):
        action.add_argument(
            "--dry-run", action="store_true", help="print every path, write or remove nothing"
        )
        action.add_argument(
            "--system",
            action="store_true",
            help="the Scripts folder for every user (needs administrator rights)",
        )
        action.add_argument(
            "--scripts-dir",
            type=Path,
            help="Resolve's Fusion Scripts folder, when it is not in the usual place",
        )


def run(args: argparse.Namespace) -> int:
    from gvmgen_plugin import installer

    from gvmgen.errors import InputError

    action = getattr(args, "resolve_action", None)
    if action not in ("install", "uninstall"):
        raise InputError("choose an action: gvmgen resolve install | uninstall [--dry-run]")
    target = installer.plan(system=args.system, scripts_dir=args.scripts_dir)
    if action == "install":
        installer.install(target, dry_run=args.dry_run)
        if not args.dry_run:
            print("restart Resolve, then use Workspace › Scripts › GVMGen")
    else:
        installer.uninstall(target.folder, dry_run=args.dry_run)
    return 0
