"""`gvmgen score INPUT --out DIR`: music for a video or a timeline range, beats on the cuts.

A contract other tools rely on: DIR receives score.otio, the 48 kHz WAVs (takes/take-NN/),
report.json (ScoreResult: `engine`, `cues`, `loudness_lufs` at the top level) and report.png;
exit 2 with one line for bad input, and then no output files at all.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser(
        "score",
        help=help_text,
        description="Score a video file or a timeline range with music whose beats land on "
        "the cuts, and write a timeline with the music on a new audio track.",
    )
    parser.add_argument(
        "input", metavar="INPUT", help="video file or timeline (.otio, .xml, .edl, .aaf, .fcpxml)"
    )
    add_score_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--preview",
        action="store_true",
        help="also write DIR/preview.mp4: the picture with the new music (video input)",
    )
    parser.add_argument(
        "--job-id",
        metavar="ID",
        help="name this job: run it again with the same ID after a crash to resume it "
        "(finished cues are kept), or after it finished to get its result without a new take",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_score_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--range",
        metavar="IN-OUT",
        help="seconds (12.5-40), timecodes "
        "(01:00:10:00-01:00:20:00) or frames (f300-f900); default: everything",
    )
    parser.add_argument(
        "--mode",
        choices=("range", "regenerate", "batch"),
        default="range",
        help="range: one selection; regenerate: a new take of the range scored in DIR "
        "before (--range optional); batch: the whole timeline as cues. Takes already in DIR "
        "are never overwritten",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "arranger", "gvmgen"),
        default="auto",
        help="auto: GVMGen when its weights and a GPU are there, else arranger",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help="first take's seed (default: 0, or the next unused seed when regenerating)",
    )
    parser.add_argument("--takes", type=int, default=1, help="how many takes (1-8)")
    parser.add_argument(
        "--max-stretch",
        type=float,
        default=0.06,
        help="largest tempo change the alignment may use (fraction)",
    )
    parser.add_argument(
        "--target-lufs", type=float, default=-16.0, help="integrated loudness of each cue"
    )
    parser.add_argument(
        "--edit-points-only",
        action="store_true",
        help="score a timeline whose media is missing on its edit points alone",
    )
    parser.add_argument(
        "--rate",
        type=_positive_rate,
        metavar="FPS",
        help="frame rate of an EDL input (EDLs carry none; default: told from the timecodes "
        "or the media they name), e.g. 25 or 29.97",
    )


def _positive_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not 0.0 < rate <= 240.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate; expected 24, 25, 29.97 …")
    return rate


def request_from_args(args: argparse.Namespace, preview: bool = False) -> dict:
    request = {
        "input": args.input,
        "range": args.range,
        "mode": args.mode,
        "engine": args.engine,
        "seed": args.seed,
        "takes": args.takes,
        "out_dir": args.out,
        "max_stretch": args.max_stretch,
        "target_lufs": args.target_lufs,
        "allow_missing_media": args.edit_points_only,
        "preview": preview or getattr(args, "preview", False),
    }
    if getattr(args, "rate", None) is not None:
        request["rate"] = args.rate
    if getattr(args, "job_id", None):
        request["job_id"] = args.job_id
    return request


def run(args: argparse.Namespace) -> int:
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.pipeline import score

    with ProgressBar() as bar:
        result = score(request_from_args(args), on_event=bar.event)
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        print_summary(result)
    return 0


def print_summary(result, out=None) -> None:
    out = out or sys.stdout
    print(f"engine: {result.engine} ({result.engine_reason})", file=out)
    print(
        f"range {result.range_in}-{result.range_out}, take {result.take}, "
        f"loudness {result.loudness_lufs:.1f} LUFS",
        file=out,
    )
    print(
        f"  {'cue':<14} {'in':>11} {'out':>11} {'bpm':>5} {'seed':>6} {'hits ±1f':>8} "
        f"{'±50ms':>6} {'stretch':>7} {'splices':>7}",
        file=out,
    )
    for cue in result.cues:
        where = f"  {cue.name[:14]:<14} {cue.record_in:>11} {cue.record_out:>11}"
        if cue.silent:  # a rest over a gap or long black: nothing aimed at, nothing to rate
            print(f"{where}   rest: silence over a gap or black", file=out)
            continue
        if cue.hit_rate_50ms is None:  # no cut to aim at: no rate to claim
            print(f"{where} {cue.tempo:>5.0f} {cue.seed:>6}   no cuts in range", file=out)
            continue
        print(
            f"{where} {cue.tempo:>5.0f} "
            f"{cue.seed:>6} {cue.hit_rate_1frame:>8.0%} {cue.hit_rate_50ms:>6.0%} "
            f"{cue.max_stretch:>7.1%} {cue.splices:>7}",
            file=out,
        )
    print(f"timeline: {result.timeline}", file=out)
    for path in result.extra_timelines:
        print(f"also:     {path}", file=out)
    print(f"report:   {result.report_json}\npicture:  {result.report_picture}", file=out)
    if result.preview:
        print(f"preview:  {result.preview}", file=out)
    for warning in result.warnings:
        print(f"warning:  {warning}", file=out)
    if len(result.takes) > 1:
        print("takes:    " + ", ".join(f"{t.take} (seed {t.seed})" for t in result.takes), file=out)
