"""Cut alignment on real footage, judged by trackers that are not the product's.

    .venv/bin/python bench/align_bench.py [--clips DIR] [--only clip1,clip5] [--no-arranger]
        [--compare] [--experiments] [--baseline REV] [--no-stages]

Each clip's own music (GVMGen-generated, its AAC track) is aligned to the cuts the product's
detector finds in that clip (`gvmgen align CLIP --cuts-from CLIP`: dissolves weighted 0.5).
The delivered audio is then judged, side by side in one run:
  - the report's own rate — what `gvmgen align`'s report says (the product's tracker);
  - librosa `beat.beat_track`, default settings;
  - madmom RNNBeatProcessor + DBNBeatTrackingProcessor;
each as "a beat within ±50 ms of the cut", over all cuts and over the cuts ≥ 1.5 s after the
previous cut (the first counts from the clip's start). Also: off-beat landings (madmom's nearest
beat 0.3–0.5 of its period away), the median signed offset of the attack (madmom's CNN onsets)
from the cut, largest stretch, smallest splice (beats), length exactness, clicks, and seconds of
compute per minute of music. Rows: the music as generated (unaligned) and the product.

Then the arranger through `gvmgen score CLIP --engine arranger` on the same clips: each
delivered cue WAV judged on the cuts its own report lists.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# `--baseline REV` times an older gvmgen (exported with `git archive`) from this same script
sys.path.insert(0, os.environ.get("ALIGN_BENCH_ROOT", str(Path(__file__).resolve().parents[1])))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import judges

from gvmgen.align import align_to_cuts, detect_clicks, track_beats
from gvmgen.media.audio import load_audio

ROOT = Path(__file__).resolve().parents[1]
CLIPS = "/work/shared/media/real"
SPACED = 1.5  # s: "cuts at least 1.5 s after the previous cut"
TOLERANCE = 0.050  # s
JUDGES = ("report", "librosa", "madmom")
ATTACK_BIAS_MS = 0.0  # how early madmom's onsets read known attacks; set by `attack_bias`
VARIANTS = {  # name → align_to_cuts options
    "product (default: whole-beat splices)": {},
    "phase-moving splices (1.5, 2.5 … beats)": dict(allow_half_beats=True),
}
# `--experiments`: one plan knob changed at a time (gvmgen.align.plan constants, or the
# plan's anchor slack), each beside the product in the same run; see docs/bench/align.md
EXPERIMENTS = {
    "A5 attack at cut +5 ms": dict(ATTACK_LEAD=-0.005),
    "A9 attack at cut +9 ms": dict(ATTACK_LEAD=-0.009),
    "B4 attack at cut -4 ms": dict(ATTACK_LEAD=0.004),
    "B6 attack at cut -6 ms": dict(ATTACK_LEAD=0.006),
    "B10 attack at cut -10 ms": dict(ATTACK_LEAD=0.010),
    "B14 attack at cut -14 ms": dict(ATTACK_LEAD=0.014),
    "B20 attack at cut -20 ms": dict(ATTACK_LEAD=0.020),
    "F5 flash weight 0.5 (was 0.7)": dict(FLASH_WEIGHT=0.5),
    "C3 splice clear 3 beats before its cut (was 2)": dict(CLEAR_BEATS=3),
    "S6 anchor slack ±6 ms (was ±12)": dict(anchor_slack=0.006),
}


@contextlib.contextmanager
def plan_knobs(knobs: dict):
    """`gvmgen.align.plan` constants set to `knobs` (and `anchor_slack` given to every plan)
    for the duration; restored after."""
    import functools
    from unittest import mock

    import gvmgen.align.aligner as aligner
    import gvmgen.align.plan as plan

    knobs = dict(knobs)
    with contextlib.ExitStack() as stack:
        if "anchor_slack" in knobs:
            slack = knobs.pop("anchor_slack")
            planner = functools.partial(plan.plan_alignment, anchor_slack=slack)
            stack.enter_context(mock.patch.object(aligner, "plan_alignment", planner))
        for name, value in knobs.items():
            if not hasattr(plan, name):
                raise KeyError(f"gvmgen.align.plan has no knob {name!r}")
            stack.enter_context(mock.patch.object(plan, name, value))
        yield


@dataclass
class Tally:
    """Per-cut judgements pooled over clips."""

    hits: dict[str, list[bool]] = field(default_factory=lambda: {j: [] for j in JUDGES})
    spaced: list[bool] = field(default_factory=list)
    off_beat: list[bool] = field(default_factory=list)
    attack_ms: list[float] = field(default_factory=list)
    max_stretch: float = 0.0
    smallest_splice: float = np.inf
    splices: int = 0
    clicks: int = 0
    length_errors: int = 0  # outputs whose length differs from the input by any sample
    seconds: float = 0.0
    music: float = 0.0
    tempo_steps: list[float] = field(default_factory=list)  # factor change where pieces meet
    reachable: list[bool] = field(default_factory=list)  # `ceiling_mask`, unaligned music only
    librosa_lag_ms: list[float] = field(default_factory=list)  # where madmom hits: librosa's offset

    def add_judged(self, cuts, own_hits, audio, rate, madmom=None) -> dict[str, float]:
        """Judge `audio` at `cuts` with both trackers (`madmom`: its beats, if already tracked);
        returns each judge's rate on this clip."""
        cuts = np.asarray(cuts, dtype=np.float64)
        beats = {"librosa": judges.librosa_beats(audio, rate)}
        beats["madmom"] = judges.madmom_beats(audio, rate) if madmom is None else madmom
        judged = {"report": np.asarray(own_hits, dtype=bool)}
        for name, times in beats.items():
            judged[name] = np.abs(judges.nearest_offsets(times, cuts)) <= TOLERANCE + 1e-9
        for name in JUDGES:
            self.hits[name] += judged[name].tolist()
        madmom_on = judged["madmom"]
        self.librosa_lag_ms += (
            judges.nearest_offsets(beats["librosa"], cuts[madmom_on]) * 1000
        ).tolist()
        self.spaced += spaced_mask(cuts).tolist()
        self.off_beat += judges.off_beat(beats["madmom"], cuts).tolist()
        onsets = judges.madmom_onsets(audio, rate)
        self.attack_ms += (judges.attack_offsets(onsets, cuts) * 1000).tolist()
        return {name: float(np.mean(judged[name])) if len(cuts) else 1.0 for name in JUDGES}

    def rate(self, judge: str, spaced_only: bool = False) -> str:
        hits = np.array(self.hits[judge], dtype=bool)
        if spaced_only:
            hits = hits[np.array(self.spaced, dtype=bool)]
        if len(hits) == 0:
            return "—"
        return f"{hits.mean():6.1%} ({int(hits.sum())}/{len(hits)})"

    def attack(self) -> str:
        found = np.array(self.attack_ms)
        found = found[np.isfinite(found)]
        if not len(found):
            return "—"
        median = np.median(found)
        return f"{median:+.1f} ms ({median - ATTACK_BIAS_MS:+.1f} ms) ({len(found)} cuts)"

    def off_beats(self) -> str:
        flags = np.array(self.off_beat, dtype=bool)
        return f"{flags.mean():.1%} ({int(flags.sum())}/{len(flags)})" if len(flags) else "—"


def attack_bias() -> float:
    """Median ms by which madmom's onsets read the known kick starts of the tests' synthetic
    music (97 BPM, 2 ms attacks) — the attack judge's own offset, shown beside its reading."""
    sys.path.insert(0, str(ROOT / "tests" / "align"))
    from align_music import beat_times, make_music

    truth = beat_times(97.0, 14.0)[1:-1]
    onsets = judges.madmom_onsets(make_music(97.0, 14.0, 44100), 44100)
    return float(np.median(judges.nearest_offsets(onsets, truth)) * 1000)


def spaced_mask(cuts: np.ndarray) -> np.ndarray:
    previous = np.concatenate([[0.0], cuts[:-1]])
    return cuts - previous >= SPACED


def ceiling_mask(cuts: np.ndarray, period: float, max_stretch: float = 0.06) -> np.ndarray:
    """The most cuts any plan of whole beats within ±`max_stretch` can put on a beat of tempo
    `period` (s), each within ±50 ms: a longest chain in which every two consecutive hits are a
    whole number of beats apart at some stretch in the bound (ties: more spaced cuts). An
    optimistic estimate — one steady tempo, any number of splices, the first hit free — so a
    product figure above it would be a judge's luck, not a plan."""
    count = len(cuts)
    if count == 0 or period <= 0:
        return np.zeros(count, dtype=bool)
    worth = 1.0 + 1e-3 * spaced_mask(cuts)
    best, back = worth.copy(), np.full(count, -1)
    for j in range(count):
        for i in range(j):
            better = best[i] + worth[j] > best[j]
            if better and _whole_beats_apart(cuts[j] - cuts[i], period, max_stretch):
                best[j], back[j] = best[i] + worth[j], i
    chain, j = np.zeros(count, dtype=bool), int(np.argmax(best))
    while j >= 0:
        chain[j], j = True, int(back[j])
    return chain


def _whole_beats_apart(gap: float, period: float, max_stretch: float) -> bool:
    """A gap (s) that n ≥ 1 beats of `period` can fill at a tempo factor within the bound,
    both ends allowed the ±50 ms of a hit."""
    slack = 2 * TOLERANCE
    shortest, longest = period / (1 + max_stretch), period / (1 - max_stretch)
    n = np.arange(1, int((gap + slack) / shortest) + 1)
    return bool(np.any((n * shortest - slack <= gap) & (gap <= n * longest + slack)))


def judge_on_known_beats(shifts_ms=(0, 3, 6, 9, 12, 15, 18, 21)) -> None:
    """Each judge on the tests' synthetic music with every cut exactly on a known kick start
    (three tempi, shifted by sub-frame steps so librosa's 23 ms frames fall every way): the
    best a judge can say of music whose attacks are on the cuts."""
    sys.path.insert(0, str(ROOT / "tests" / "align"))
    from align_music import beat_times, make_busy_hats_music, make_music

    rate, duration = 44100, 15.0
    offsets = {"librosa": [], "madmom": []}
    for make, bpm in ((make_music, 97.0), (make_music, 120.0), (make_busy_hats_music, 90.0)):
        for shift in shifts_ms:
            audio = make(bpm, duration, rate)
            audio = np.pad(audio, ((0, 0), (int(shift * rate / 1000), 0)))
            cuts = beat_times(bpm, duration) + shift / 1000
            cuts = cuts[(cuts > 1.0) & (cuts < duration - 1.0)]
            for name, tracker in (
                ("librosa", judges.librosa_beats),
                ("madmom", judges.madmom_beats),
            ):
                offsets[name] += (
                    judges.nearest_offsets(tracker(audio, rate), cuts) * 1000
                ).tolist()
    print("\n### Each judge on music whose attacks are exactly on the cuts (synthetic, 3 tempi)\n")
    print("| judge | ±50 ms | median beat − attack | 95th percentile |\n|---|---|---|---|")
    for name, found in offsets.items():
        found = np.array(found)
        print(
            f"| {name} | {np.mean(np.abs(found) <= 50):.1%} ({len(found)} cuts) | "
            f"{np.median(found):+.1f} ms | {np.percentile(found, 95):+.1f} ms |"
        )


def product_cuts(path: str) -> tuple[np.ndarray, list[float], float]:
    """Cut times (s), weights (a dissolve's middle 0.5) and frame rate, as `gvmgen align
    --cuts-from` takes them."""
    from gvmgen.analysis import analyze_input

    analysis = analyze_input(path, None)
    weights = [0.5 if c.kind == "gradual" else 1.0 for c in analysis.cuts]
    return np.array([float(c.time) for c in analysis.cuts]), weights, float(analysis.rate)


def run_clip(path: str, tallies: dict[str, Tally]) -> str:
    audio, rate = load_audio(path)
    cuts, weights, fps = product_cuts(path)
    music = audio.shape[1] / rate
    line = [f"{Path(path).name:<11} {len(cuts):>2} cuts @ {fps:6.3f} fps"]
    unaligned = tallies["unaligned"]
    unaligned.music += music
    own = np.abs(judges.nearest_offsets(track_beats(audio, rate).times, cuts)) <= TOLERANCE
    unaligned.clicks += detect_clicks(audio, rate)
    heard = judges.madmom_beats(audio, rate)
    rates = unaligned.add_judged(cuts, own, audio, rate, madmom=heard)
    period = float(np.median(np.diff(heard))) if len(heard) > 1 else 0.0
    unaligned.reachable += ceiling_mask(cuts, period).tolist()
    line.append("unaligned " + "/".join(f"{rates[j]:.0%}" for j in JUDGES))
    for name, options in VARIANTS.items():
        if name not in tallies:
            continue
        full = tallies[name]
        full.music += music
        started = time.perf_counter()
        options = dict(options)
        with plan_knobs(options.pop("knobs", {})):
            result = align_to_cuts(audio, rate, cuts, fps=fps, weights=weights, **options)
        full.seconds += time.perf_counter() - started
        _add_plan(full, result, audio)
        own = [c["hit"] for c in result.metrics.per_cut]
        rates = full.add_judged(cuts, own, result.audio, rate)
        line.append(name.split()[0] + " " + "/".join(f"{rates[j]:.0%}" for j in JUDGES))
    return "  ".join(line)


def _add_plan(tally: Tally, result, audio) -> None:
    m = result.metrics
    tally.max_stretch = max(tally.max_stretch, m.max_stretch)
    tally.splices += m.splices
    tally.clicks += m.clicks
    tally.length_errors += int(result.audio.shape != audio.shape)
    sizes = [abs(s.beats) for s in result.plan.splices]
    tally.smallest_splice = min([tally.smallest_splice, *sizes])
    pieces = result.plan.pieces
    tally.tempo_steps += [  # where the same music continues (an anchor), not across a splice
        abs(b.tempo_factor - a.tempo_factor)
        for a, b in itertools.pairwise(pieces)
        if abs(a.source_end - b.source_start) < 1e-6
    ]


def print_table(tallies: dict[str, Tally], title: str) -> None:
    print(f"\n### {title}\n")
    print("| music | judge | ±50 ms, all cuts | ±50 ms, cuts ≥ 1.5 s after the previous |")
    print("|---|---|---|---|")
    for name, t in tallies.items():
        for judge in JUDGES:
            label = "report's own rate" if judge == "report" else judge
            print(f"| {name} | {label} | {t.rate(judge)} | {t.rate(judge, True)} |")
    print(
        "\n| music | off-beat (madmom) | median attack − cut (less the judge's own offset) "
        "| max stretch | tempo step at an anchor, median / max | smallest splice "
        "| splices | clicks | length errors | s compute / min music |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, t in tallies.items():
        per_minute = f"{t.seconds / t.music * 60:.1f}" if t.seconds else "—"
        smallest = f"{t.smallest_splice:.2f} beats" if np.isfinite(t.smallest_splice) else "—"
        steps = np.array(t.tempo_steps)
        step = f"{np.median(steps):.1%} / {steps.max():.1%}" if len(steps) else "—"
        print(
            f"| {name} | {t.off_beats()} | {t.attack()} | {t.max_stretch:.1%} | {step} | "
            f"{smallest} | {t.splices} | {t.clicks} | {t.length_errors} | {per_minute} |"
        )


def print_ceiling_and_lag(tallies: dict[str, Tally]) -> None:
    """How many cuts any metre-keeping plan could reach (`ceiling_mask`), and how far after
    madmom's beat librosa hears the same cut."""
    unaligned = tallies["unaligned"]
    reach = np.array(unaligned.reachable, dtype=bool)
    spaced = np.array(unaligned.spaced, dtype=bool)
    print("\n### The most any plan could reach (estimate: whole beats, ±6 %, madmom's tempo)\n")
    print(
        f"{reach.mean():.1%} of all cuts ({reach.sum()}/{len(reach)}), "
        f"{reach[spaced].mean():.1%} of spaced cuts ({reach[spaced].sum()}/{spaced.sum()})"
    )
    print(
        "\n| music | cuts madmom hears on a beat | librosa's nearest beat there, median | "
        "of them, librosa beyond ±50 ms |\n|---|---|---|---|"
    )
    for name, t in tallies.items():
        lag = np.array(t.librosa_lag_ms)
        if len(lag):
            late = np.mean(np.abs(lag) > 50)
            print(f"| {name} | {len(lag)} | {np.median(lag):+.1f} ms | {late:.1%} |")


STAGES = ("track", "plan", "render", "measure")


def time_stages(paths: list[str]) -> dict[str, float]:
    """Seconds per minute of music of one track → plan → render pass, and of re-measuring
    (re-track + click scan), with whatever gvmgen is first on the path."""
    from gvmgen.align import plan_alignment, render_alignment

    spent = dict.fromkeys(STAGES, 0.0)
    music = 0.0
    for path in paths:
        audio, rate = load_audio(path)
        cuts, weights, _ = product_cuts(path)
        music += audio.shape[1] / rate
        clock = time.perf_counter()
        beats = track_beats(audio, rate)
        spent["track"] += time.perf_counter() - clock
        clock = time.perf_counter()
        plan = plan_alignment(beats, cuts, audio.shape[1] / rate, weights=weights)
        spent["plan"] += time.perf_counter() - clock
        clock = time.perf_counter()
        out = render_alignment(audio, rate, plan)
        spent["render"] += time.perf_counter() - clock
        clock = time.perf_counter()
        track_beats(out, rate)
        detect_clicks(out, rate)
        spent["measure"] += time.perf_counter() - clock
    return {stage: seconds / music * 60 for stage, seconds in spent.items()}


def compare_stages(paths: list[str], baseline: str | None, rounds: int = 2) -> None:
    """Stage times of this tree and of `baseline` (a git revision), each in a fresh process,
    alternating `rounds` times; the faster round of each counts (the box is shared)."""
    roots = {"this tree": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        if baseline:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", baseline, "gvmgen"],
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
            roots = {f"baseline {baseline}": folder, **roots}
        best: dict[str, dict[str, float]] = {}
        for _ in range(rounds):
            for name, root in roots.items():
                times = _stages_in_process(root, paths)
                if name not in best or sum(times.values()) < sum(best[name].values()):
                    best[name] = times
    print("\n### Compute per minute of music, one track → plan → render pass (2-core CPU)\n")
    print("| stage | " + " | ".join(best) + " |\n|---|" + "---|" * len(best))
    for stage in STAGES:
        print(f"| {stage} | " + " | ".join(f"{t[stage]:.2f}" for t in best.values()) + " |")
    alone = [sum(t[s] for s in STAGES[:3]) for t in best.values()]
    print("| **track + plan + render** | " + " | ".join(f"**{a:.2f}**" for a in alone) + " |")


def _stages_in_process(root: str, paths: list[str]) -> dict[str, float]:
    env = {**os.environ, "ALIGN_BENCH_ROOT": root, "PYTHONPATH": root}
    command = [sys.executable, __file__, "--stages-json", *paths]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_arranger(paths: list[str]) -> None:
    """`gvmgen score CLIP --engine arranger`, each delivered cue judged on its report's cuts."""
    from gvmgen.cli import main as gvmgen_main

    tally = Tally()
    for path in paths:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "score"
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = gvmgen_main(["score", path, "--engine", "arranger", "--out", str(out)])
            seconds = time.perf_counter() - started
            if code != 0:
                print(f"{Path(path).name}: gvmgen score exited {code}")
                continue
            report = json.loads((out / "report.json").read_text())
            for cue in report["cues"]:
                audio, rate = load_audio(cue["wav"])
                cuts = [c["time"] for c in cue["cuts"]]
                tally.music += audio.shape[1] / rate
                rates = tally.add_judged(cuts, [c["hit"] for c in cue["cuts"]], audio, rate)
                rates_text = "/".join(f"{rates[j]:.0%}" for j in JUDGES)
                print(f"{Path(path).name:<11} {cue['name']}: {len(cuts)} cuts  {rates_text}")
            tally.seconds += seconds
    print_table({"arranger via gvmgen score": tally}, "Arranger music through `gvmgen score`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=CLIPS)
    parser.add_argument("--only", help="comma-separated clip names (e.g. clip1,clip5)")
    parser.add_argument("--no-arranger", action="store_true")
    parser.add_argument("--no-stages", action="store_true")
    parser.add_argument("--compare", action="store_true", help="also phase-moving splices")
    parser.add_argument(
        "--experiments",
        nargs="?",
        const="all",
        metavar="NAMES",
        help="also each plan knob of EXPERIMENTS (or only those named, e.g. B4,B10)",
    )
    parser.add_argument("--baseline", help="git revision whose stage times to show alongside")
    parser.add_argument("--stages-only", action="store_true", help="only the stage times")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds per tree")
    parser.add_argument("--stages-json", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages_json:  # a child process of compare_stages
        track_beats(np.zeros((1, 44100 * 2), np.float32) + 1e-3, 44100)
        print(json.dumps(time_stages(args.stages_json)))
        return
    paths = sorted(glob.glob(f"{args.clips}/*.mp4"))
    if args.only:
        wanted = {f"{name.strip()}.mp4" for name in args.only.split(",")}
        paths = [p for p in paths if Path(p).name in wanted]
    if not paths:
        sys.exit(f"no .mp4 clips in {args.clips}")
    if args.stages_only:
        compare_stages(paths, args.baseline, args.rounds)
        return
    track_beats(np.zeros((1, 44100 * 2), np.float32) + 1e-3, 44100)  # warm up the imports
    judges.madmom_beats(np.zeros((1, 44100), np.float32), 44100)
    global ATTACK_BIAS_MS
    ATTACK_BIAS_MS = attack_bias()
    print(f"madmom's onsets read known attacks {ATTACK_BIAS_MS:+.1f} ms off (synthetic kicks)")
    names = list(VARIANTS) if args.compare else list(VARIANTS)[:1]
    if args.experiments:
        wanted = None if args.experiments == "all" else set(args.experiments.split(","))
        chosen = {n: k for n, k in EXPERIMENTS.items() if not wanted or n.split()[0] in wanted}
        VARIANTS.update({name: dict(knobs=knobs) for name, knobs in chosen.items()})
        names += list(chosen)
    tallies = {"unaligned": Tally(), **{name: Tally() for name in names}}
    for path in paths:
        print(run_clip(path, tallies), flush=True)
    print("\nper clip: report / librosa / madmom at ±50 ms")
    print_table(tallies, "GVMGen music aligned to the product's own cuts")
    print_ceiling_and_lag(tallies)
    judge_on_known_beats()
    if not args.no_stages:
        compare_stages(paths, args.baseline, args.rounds)
    if not args.no_arranger:
        run_arranger(paths)


if __name__ == "__main__":
    main()
