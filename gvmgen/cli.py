"""The `gvmgen` command: a thin layer over the library.

Each subcommand lives in `gvmgen/commands/<name>.py` and exposes `add_parser(subparsers)` and
`run(args) -> int`. Command modules import only the standard library at module level and pull
in the library inside `run`, so `gvmgen analyze` never pays for torch. Every `GVMGenError`
ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gvmgen import __version__
from gvmgen.errors import GVMGenError, one_line

# name -> one-line help; the module gvmgen.commands.<name> does the rest.
COMMANDS = {
    "analyze": "find the cuts in media files or timelines",
    "align": "move a music track's beats onto cut times",
    "score": "score a video or a timeline range with music",
    "demo": "score a generated sample clip and show where the results are",
    "models": "list, verify and import GVMGen weights",
    "train": "prepare a dataset, fine-tune GVMGen, train the evaluation model",
    "evaluate": "measure how well music fits picture: CMR, TA and cut hits",
    "serve": "run the local scoring backend (ZeroMQ) that the client and editor plugins use",
    "client": "submit jobs to the local backend and follow them (JSON lines for scripts)",
    "keys": "make CURVE keys so the backend may listen beyond loopback",
    "resolve": "install or remove the DaVinci Resolve menu scripts",
}

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gvmgen",
        description="Score video with AI-generated music whose beats land on the cuts.",
    )
    parser.add_argument("--version", action="version", version=f"gvmgen {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        _command_module(name).add_parser(subparsers, help_text)
    return parser


def _command_module(name: str):
    return importlib.import_module(f"gvmgen.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USER_ERROR
    warnings = _warnings_to_stderr(args.command)
    try:
        return _command_module(args.command).run(args) or 0
    except GVMGenError as error:
        print(
            f"gvmgen {args.command}: error: {one_line(error.message, error.hint)}", file=sys.stderr
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"gvmgen {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("gvmgen").removeHandler(warnings)


def _warnings_to_stderr(command: str) -> logging.Handler:
    """The library's warnings (media missing, an EDL read leniently …) as the command's own
    lines on stderr, `gvmgen CMD: warning: …`, while the command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter(f"gvmgen {command}: warning: %(message)s"))
    logging.getLogger("gvmgen").addHandler(handler)
    return handler


if __name__ == "__main__":
    sys.exit(main())
