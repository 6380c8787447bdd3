"""`gvmgen analyze INPUT... [--range IN-OUT] [--json]`: the cuts of media files and timelines.

A contract other tools rely on: with --json, one JSON object per input (JSON Lines) with
`input`, `duration` (s), `rate` (fps), `cuts` [{time, frame, record, kind}] (`record`: the
timecode the editor sees); exit 2 with one line on stderr for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(subparsers, help_text: str) -> None:
    from gvmgen.commands.score import positive_rate

    parser = subparsers.add_parser(
        "analyze",
        help=help_text,
        description=(
            "Find the cuts in media files or timelines: edit points between clips, shot "
            "changes inside clips, and gradual transitions (dissolves, fades)."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video file or timeline")
    parser.add_argument(
        "--range",
        metavar="IN-OUT",
        help="part to analyse: seconds (12.5-40), timecodes (01:00:10:00-01:00:20:00) "
        "or frames (f300-f900)",
    )
    parser.add_argument("--json", action="store_true", help="JSON Lines, one object per input")
    parser.add_argument(
        "--rate",
        type=positive_rate,
        metavar="FPS",
        help="frame rate of EDL inputs (EDLs carry none; default: told from the timecodes or "
        "the media they name), e.g. 25 or 29.97",
    )
    parser.add_argument(
        "--edit-points-only",
        action="store_true",
        help="for timelines whose media is missing: use the edit points alone",
    )


def run(args: argparse.Namespace) -> int:
    from gvmgen.analysis import analyze_input

    # Check every input before printing anything, so a bad one never leaves half a report.
    results = [
        analyze_input(path, args.range, allow_missing_media=args.edit_points_only, rate=args.rate)
        for path in args.inputs
    ]
    for result in results:
        if args.json:
            print(json.dumps(result.to_json()))
        else:
            _print_table(result.to_json())
    return 0


def _print_table(report: dict, out=None) -> None:
    out = out or sys.stdout
    cuts = report["cuts"]
    print(
        f"{report['input']}  range {report['range']}  {report['duration']:.3f} s "
        f"at {report['rate']:.3f} fps  {len(cuts)} cut(s)",
        file=out,
    )
    if cuts:
        print(f"  {'#':>3}  {'record':<11}  {'time (s)':>10}  {'frame':>7}  kind", file=out)
    for i, cut in enumerate(cuts, 1):
        print(
            f"  {i:>3}  {cut['record']:<11}  {cut['time']:>10.3f}  {cut['frame']:>7}  "
            f"{cut['kind']}",
            file=out,
        )
