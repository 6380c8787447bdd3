"""`gvmgen align MUSIC (--cuts T1,T2,… | --cuts-from VIDEO_OR_TIMELINE) -o OUT.wav`.

Moves the music's beats onto the cut times (seconds from the start of MUSIC) by bounded local
time-stretch and beat splices, writes OUT.wav (MUSIC's rate and exact length, 24-bit) and,
with --report, a JSON of the hits re-measured on the output. Bad input exits 2 with one line
and leaves no output file behind.
"""

from __future__ import annotations

import json
from pathlib import Path

from gvmgen.defaults import DEFAULT_MAX_STRETCH
from gvmgen.errors import InputError

DEFAULT_FPS = 24.0
GRADUAL_WEIGHT = 0.5  # a dissolve or fade has no single instant to hit


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser("align", help=help_text, description=help_text)
    parser.add_argument("music", metavar="MUSIC", help="audio file, or a video with an audio track")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--cuts", metavar="T1,T2,…", help="cut times, seconds from MUSIC's start")
    source.add_argument(
        "--cuts-from", metavar="VIDEO_OR_TIMELINE", help="take the cuts from a video or timeline"
    )
    parser.add_argument("--range", dest="range_text", help="with --cuts-from: the range to use")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="aligned music")
    parser.add_argument("--report", metavar="R.json", help="write hit rates and per-cut offsets")
    parser.add_argument(
        "--max-stretch",
        type=float,
        default=DEFAULT_MAX_STRETCH,
        help="largest local tempo change, fraction in (0, 0.5] "
        f"(default {DEFAULT_MAX_STRETCH:g} = ±{DEFAULT_MAX_STRETCH * 100:g} %%)",
    )
    parser.add_argument(
        "--fps", type=float, default=None, help="frame rate for the ±1-frame hit rate (default 24)"
    )


def run(args) -> int:
    from gvmgen.align import align_to_cuts
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.media.audio import load_audio, write_wav

    _check_flags(args)
    cuts, weights, fps = _cuts_and_rate(args)
    audio, rate = load_audio(args.music)
    duration = audio.shape[1] / rate
    _check_cuts_fit(cuts, duration)
    with ProgressBar(f"aligning {len(cuts)} cuts") as progress:
        result = align_to_cuts(
            audio,
            rate,
            cuts,
            max_stretch=args.max_stretch,
            fps=fps,
            weights=weights,
            progress=progress,
        )
    report = _report(args, result, rate, fps)
    write_wav(args.output, result.audio, rate)
    if args.report:
        from gvmgen.atomic import write_text_atomic

        write_text_atomic(args.report, json.dumps(report, indent=2) + "\n")
    print(_summary(result, args.output))
    return 0


def _check_flags(args) -> None:
    if not 0.0 < args.max_stretch <= 0.5:
        raise InputError(f"--max-stretch {args.max_stretch} is outside (0, 0.5]")
    if args.fps is not None and not args.fps > 0:
        raise InputError(f"--fps {args.fps} is not a positive frame rate")
    if not Path(args.music).is_file():
        raise InputError(f"MUSIC not found: {args.music!r}")
    output = Path(args.output)
    if output.suffix.lower() != ".wav":
        raise InputError(f"-o {args.output!r}: the output must be a .wav file")
    for flag, path in (("-o", output), ("--report", args.report)):
        if path and not Path(path).resolve().parent.is_dir():
            raise InputError(f"{flag} {str(path)!r}: folder {str(Path(path).parent)!r} not found")


def _cuts_and_rate(args) -> tuple[list[float], list[float], float]:
    """Cut times (s), what hitting each is worth, and the frame rate that defines '±1 frame'.

    A dissolve's middle is worth half a hard cut: when both cannot be hit, the cut wins.
    """
    if args.cuts is not None:
        cuts = parse_cut_list(args.cuts)
        return cuts, [1.0] * len(cuts), args.fps or DEFAULT_FPS
    from gvmgen.analysis import analyze_input

    analysis = analyze_input(args.cuts_from, args.range_text)
    weights = [GRADUAL_WEIGHT if c.kind == "gradual" else 1.0 for c in analysis.cuts]
    return [float(c.time) for c in analysis.cuts], weights, args.fps or float(analysis.rate)


def parse_cut_list(text: str) -> list[float]:
    """'1.5, 3.25,7' → [1.5, 3.25, 7.0]; names the bad item otherwise."""
    cuts = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            raise InputError(f"--cuts: {item!r} is not a time in seconds") from None
        if not value >= 0 or value == float("inf"):
            raise InputError(f"--cuts: {item!r} is not a time ≥ 0 s")
        cuts.append(value)
    if not cuts:
        raise InputError("--cuts: no cut times given (expected e.g. --cuts 2.5,6,9.75)")
    return sorted(cuts)


def _check_cuts_fit(cuts: list[float], duration: float) -> None:
    late = [c for c in cuts if c > duration]
    if late:
        raise InputError(f"cut times {late} lie beyond the end of MUSIC ({duration:.3f} s)")


def _report(args, result, rate: int, fps: float) -> dict:
    """The JSON other tools read: hit rates, stretch, splices, duration, per-cut offsets."""
    from gvmgen.align.metrics import cut_offsets, hit_rate

    metrics, plan = result.metrics, result.plan
    before = cut_offsets(result.beats_before.times, plan.cuts)
    return {
        "music": str(args.music),
        "output": str(args.output),
        "sample_rate": rate,
        "duration": result.audio.shape[1] / rate,
        "fps": fps,
        "max_stretch_bound": args.max_stretch,
        **metrics.to_dict(),
        "hit_rate_50ms_before": hit_rate(before, 0.050),
        "hit_rate_1frame_before": hit_rate(before, 1.0 / fps),
        "tempo_before": round(result.beats_before.tempo, 2),
        "tempo_after": round(result.beats_after.tempo, 2),
        "unhit": [{"time": u.time, "reason": u.reason} for u in plan.unhit],
        "plan": plan.to_dict(),
    }


def _summary(result, output: str) -> str:
    m = result.metrics
    hits = sum(c["hit"] for c in m.per_cut)
    if not m.per_cut:
        return (
            f"no cuts in range: music fitted to length, max stretch {m.max_stretch:.1%}, "
            f"{m.splices} splices → {output}"
        )
    return (
        f"{hits}/{len(m.per_cut)} cuts on a beat within ±50 ms "
        f"(±1 frame: {m.hit_rate_1frame:.0%}), max stretch {m.max_stretch:.1%}, "
        f"{m.splices} splices → {output}"
    )
