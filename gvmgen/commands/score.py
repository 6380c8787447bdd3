"""`gvmgen score INPUT --out DIR`: music for a video or a timeline range, beats on the cuts.

A contract other tools rely on: DIR receives score.otio, the 48 kHz WAVs (takes/take-NN/),
report.json (ScoreResult: `engine`, `cues`, `loudness_lufs` at the top level) and report.png;
exit 2 with one line for bad input, and then no output files at all.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from gvmgen.controls import MOODS
from gvmgen.defaults import (
    DEFAULT_DUCK_DB,
    DEFAULT_ENGINE,
    DEFAULT_MAX_STRETCH,
    DEFAULT_TARGET_LUFS,
    ENGINE_CHOICES,
)
from gvmgen.schema import LOUDNESS_PRESETS


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
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_score_options(parser)
    parser.add_argument(
        "--job-id",
        metavar="ID",
        help="name this job: run it again with the same ID after a crash to resume it "
        "(finished cues are kept), or after it finished to get its result without a new take",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def duck_depth(text: str) -> float:
    """`--duck 10` and `--duck -10` both mean 10 dB down (the model checks the range)."""
    try:
        return -abs(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a depth in dB, e.g. 10") from None


def positive_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = 0.0
    if not 0.0 < rate <= 240.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate; expected 24, 25, 29.97 …")
    return rate


@dataclass(frozen=True)
class RequestOption:
    """One option of a score request: its flag, the `ScoreRequest` field it fills, and how
    argparse reads it (`default` must be the field's default)."""

    flag: str
    field: str
    spec: dict


def _option(flag: str, field: str, **spec) -> RequestOption:
    return RequestOption(flag, field, spec)


# Every option that changes what a score request makes. `gvmgen score` and `gvmgen client
# submit` both take exactly these, each fills the ScoreRequest field it names (the protocol's
# `submit` body), and the Resolve scripts' option table names each one:
# tests/test_option_parity.py fails, naming the place, when one of the four lacks an option.
SCORE_OPTIONS = (
    _option(
        "--range",
        "range",
        metavar="IN-OUT",
        help="seconds (12.5-40), timecodes (01:00:10:00-01:00:20:00) or frames (f300-f900); "
        "default: everything",
    ),
    _option(
        "--mode",
        "mode",
        choices=("range", "regenerate", "batch"),
        default="range",
        help="range: one selection; regenerate: a new take of the range scored in DIR "
        "before (--range optional); batch: the whole timeline as cues. Takes already in DIR "
        "are never overwritten",
    ),
    _option(
        "--engine",
        "engine",
        choices=ENGINE_CHOICES,
        default=DEFAULT_ENGINE,
        help="auto: GVMGen when its weights and a GPU are there, else arranger",
    ),
    _option(
        "--seed",
        "seed",
        type=int,
        help="first take's seed (default: 0, or the next unused seed when regenerating)",
    ),
    _option("--takes", "takes", type=int, default=1, help="how many takes (1-8)"),
    _option(
        "--max-stretch",
        "max_stretch",
        type=float,
        default=DEFAULT_MAX_STRETCH,
        help="largest tempo change the alignment may use "
        f"(fraction; default {DEFAULT_MAX_STRETCH:g})",
    ),
    _option(
        "--target-lufs",
        "target_lufs",
        type=float,
        default=DEFAULT_TARGET_LUFS,
        help=f"integrated loudness of each cue (default {DEFAULT_TARGET_LUFS:g})",
    ),
    _option(
        "--edit-points-only",
        "allow_missing_media",
        action="store_true",
        default=False,
        help="score a timeline whose media is missing on its edit points alone",
    ),
    _option(
        "--rate",
        "rate",
        type=positive_rate,
        metavar="FPS",
        help="frame rate of an EDL input (EDLs carry none; default: told from the timecodes "
        "or the media they name), e.g. 25 or 29.97",
    ),
    _option(
        "--preview",
        "preview",
        action="store_true",
        default=False,
        help="also write DIR/preview.mp4: the picture with the new music (video input)",
    ),
    _option(
        "--mood",
        "mood",
        metavar="NAME",
        help="the music's mood, one of: " + ", ".join(MOODS) + " (each a tempo band, mode and "
        "instrumentation: see README); markers `mood NAME` change it from there on",
    ),
    _option(
        "--intensity",
        "intensity",
        type=int,
        metavar="1-9",
        help="1 barely there, 5 as the picture asks, 9 everything; markers `intensity N` "
        "change it from there on",
    ),
    _option(
        "--tempo",
        "tempo",
        metavar="BPM|MIN-MAX",
        help="tempo 40-220 BPM, one value (96) or a band (90-110); a `tempo N` marker starts "
        "a new cue there",
    ),
    _option(
        "--duck",
        "duck_db",
        type=duck_depth,
        default=DEFAULT_DUCK_DB,
        metavar="DB",
        help="lower the music this many dB under the timeline's own dialogue (default 10)",
    ),
    _option(
        "--no-duck",
        "duck_db",
        action="store_const",
        const=0.0,
        default=DEFAULT_DUCK_DB,
        help="leave the music at full level under dialogue",
    ),
    _option(
        "--loudness",
        "loudness",
        choices=tuple(LOUDNESS_PRESETS),
        help="delivery standard: streaming (-14 LUFS, -1 dBTP), web (-16, -1), ebu-r128 "
        "(-23, -1), atsc-a85 (-24 LKFS, -2); --target-lufs for any other value",
    ),
    _option(
        "--ending",
        "ending",
        choices=("button", "ring", "fade"),
        default="button",
        help="how each cue ends: button, a final accent on its out frame; ring, the last "
        "chord left to ring; fade, a musical fade (default button)",
    ),
    _option(
        "--tail",
        "tail",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="let the last cue's ending land on the out frame and ring this long past it "
        "(0-10; the WAV is longer by it; default 0: decayed by the out frame)",
    ),
    _option(
        "--stems",
        "stems",
        action="store_true",
        default=False,
        help="also write each cue's drums, bass, harmony and melody, summing to its mix, on "
        "tracks of their own (the arranger; GVMGen makes one mix and has none)",
    ),
)


def add_score_options(parser: argparse.ArgumentParser) -> None:
    """The `SCORE_OPTIONS`, each stored under its ScoreRequest field's name."""
    group = parser.add_argument_group("scoring options (as `gvmgen score` and the protocol)")
    for option in SCORE_OPTIONS:
        group.add_argument(option.flag, dest=option.field, **option.spec)


def request_from_args(args: argparse.Namespace) -> dict:
    """The ScoreRequest fields the options gave (unset or default ones are left to the model), plus
    `input`, `out_dir` and `job_id` from the command's own arguments."""
    from gvmgen.schema import ScoreRequest

    request = {"input": args.input, "out_dir": args.out}
    for option in SCORE_OPTIONS:
        value = getattr(args, option.field)
        # a default is left to the model, so that a client only sends what was asked for
        # (a server older than a field then refuses only a request that uses it)
        if value is not None and value != ScoreRequest.model_fields[option.field].default:
            request[option.field] = value
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
    for miss in result.missed_must_hits:  # the editor's hit markers the music misses
        label = f" ({miss.label})" if miss.label else ""
        fix = f"; {miss.alternative}" if miss.alternative else ""
        print(f"must-hit missed at {miss.record}{label}: {miss.reason}{fix}", file=out)
    if result.controls is not None:
        for line in result.controls.applied:
            print(f"applied:  {line}", file=out)
        for line in result.controls.not_applied:
            print(f"not applied: {line}", file=out)
    if result.dialogue and result.duck_db is not None:
        print(
            f"ducked:   {result.duck_db:g} dB under {len(result.dialogue)} dialogue region(s); "
            "the clean music is in each take's clean/ folder",
            file=out,
        )
    for warning in result.warnings:
        print(f"warning:  {warning}", file=out)
    if len(result.takes) > 1:
        print("takes:    " + ", ".join(f"{t.take} (seed {t.seed})" for t in result.takes), file=out)
