"""`gvmgen demo [--out DIR]`: score a sample clip of our own making, end to end.

The README's main-job command: it needs no weights, no GPU and no media. It makes a synthetic
clip with several shots cut at irregular times, scores it with the `auto` engine and writes
the outputs of `gvmgen score` plus an MP4 preview with the music muxed in.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

from gvmgen.defaults import DEFAULT_ENGINE, ENGINE_CHOICES

DEMO_RATE = Fraction(25)
DEMO_SECONDS = 32.0
# Cuts at irregular times (frames at 25 fps), none closer than 2 s: the kind of rhythm
# an editor cuts to, not a metronome.
DEMO_CUT_FRAMES = (62, 131, 227, 286, 371, 433, 527, 611, 690)
DEMO_SIZE = (640, 360)


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser("demo", help=help_text, description=help_text)
    parser.add_argument(
        "--out", default="demo-out", metavar="DIR", help="output folder (default: demo-out)"
    )
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default=DEFAULT_ENGINE)
    parser.add_argument("--seed", type=int, default=0)


def make_demo_clip(path: Path) -> Path:
    from gvmgen.media.synth import make_test_clip

    return make_test_clip(
        path,
        rate=DEMO_RATE,
        duration=DEMO_SECONDS,
        cut_frames=DEMO_CUT_FRAMES,
        size=DEMO_SIZE,
        kind="shots",
    )


def _clear_previous_demo(out: Path) -> None:
    """The demo owns its folder: a re-run replaces what the last demo wrote, and nothing else.

    A folder whose report is not a demo's is left alone; scoring into it then fails clearly.
    """
    import shutil

    from gvmgen.outputs import read_previous

    previous = read_previous(out)
    if previous is None or Path(previous.input) != (out / "demo-clip.mp4").resolve():
        return
    for name in ("demo-clip.mp4", "score.otio", "report.json", "report.png", "preview.mp4"):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "takes", ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.commands.score import print_summary
    from gvmgen.pipeline import score

    out = Path(args.out)
    _clear_previous_demo(out)
    clip = make_demo_clip(out / "demo-clip.mp4")
    print(f"sample clip: {clip} ({DEMO_SECONDS:g} s, {len(DEMO_CUT_FRAMES)} cuts)", file=sys.stderr)
    request = {
        "input": str(clip),
        "out_dir": str(out),
        "engine": args.engine,
        "seed": args.seed,
        "preview": True,
    }
    with ProgressBar() as bar:
        result = score(request, on_event=bar.event)
    print_summary(result)
    print(
        f"\nListen: {result.preview}\nOpen {result.timeline} in DaVinci Resolve "
        "(File > Import > Timeline) to see the music on its own track."
    )
    return 0
