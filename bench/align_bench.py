"""Cut alignment on real footage: each clip's own (GVMGen-generated) music against its own cuts.

    .venv/bin/python bench/align_bench.py [--clips DIR] [--cuts product|pyscenedetect|both]

Side by side in one run, all measured the same way (beats re-tracked on the audio that would be
delivered, nearest beat to each cut):
  - unaligned — what a user has today: the music as GVMGen made it;
  - stretch only — the plan with splices off (±6 %);
  - whole-beat splices — stretch + splices of whole beats;
  - full — stretch + half-beat splices + in-point slip + re-plan on measured misses (default).
Hit rates at ±1 frame (the clip's own rate), ±50 ms, ±100 ms, over all cuts and over the cuts
at least 1.5 s after the previous cut (or after the clip's start, for the first cut). Also the
largest stretch, splices, clicks found, and seconds of compute per minute of music.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gvmgen.align import align_to_cuts, detect_clicks, track_beats
from gvmgen.align.metrics import cut_offsets
from gvmgen.media.audio import load_audio

CLIPS = "/work/shared/media/real"
SPACED = 1.5  # s: "cuts at least 1.5 s after the previous cut"
VARIANTS = {
    "unaligned": None,
    "stretch only": dict(allow_splices=False, replans=0),
    "whole-beat splices": dict(allow_half_beats=False),
    "full (default)": dict(),
}


@dataclass
class Tally:
    """Offsets (s) of every cut to its nearest re-tracked beat, pooled over clips."""

    offsets: list[float] = field(default_factory=list)
    spaced: list[bool] = field(default_factory=list)
    frames: list[float] = field(default_factory=list)  # one frame, s, per cut
    max_stretch: float = 0.0
    splices: int = 0
    clicks: int = 0
    seconds: float = 0.0
    music: float = 0.0

    def add(self, offsets, spaced, frame, stretch=0.0, splices=0, clicks=0, seconds=0.0):
        self.offsets += list(offsets)
        self.spaced += list(spaced)
        self.frames += [frame] * len(offsets)
        self.max_stretch = max(self.max_stretch, stretch)
        self.splices += splices
        self.clicks += clicks
        self.seconds += seconds

    def rate(self, tolerance=None, spaced_only=False) -> str:
        off, keep = np.abs(np.array(self.offsets)), np.array(self.spaced, dtype=bool)
        tol = np.array(self.frames) if tolerance is None else np.full(len(off), tolerance)
        if spaced_only:
            off, tol = off[keep], tol[keep]
        if len(off) == 0:
            return "—"
        hits = int(np.sum(off <= tol + 1e-9))
        return f"{hits / len(off):6.1%} ({hits}/{len(off)})"


def detect_cuts(path: str, which: str) -> tuple[list[float], list[float], float]:
    """Cut times (s), their weights (a dissolve's middle 0.5, as `gvmgen align --cuts-from`)
    and the frame rate of a clip, by the product's detector or PySceneDetect's."""
    if which == "product":
        from gvmgen.media.cuts import detect_shots

        shots = detect_shots(path)
        weights = [0.5 if c.kind == "gradual" else 1.0 for c in shots.cuts]
        return [c.time for c in shots.cuts], weights, float(shots.rate)
    from scenedetect import ContentDetector, detect, open_video

    scenes = detect(path, ContentDetector())
    cuts = [s[0].seconds for s in scenes[1:]]
    return cuts, [1.0] * len(cuts), float(open_video(path).frame_rate)


def spaced_mask(cuts: np.ndarray) -> np.ndarray:
    previous = np.concatenate([[0.0], cuts[:-1]])
    return cuts - previous >= SPACED


def run_clip(path: str, which: str, tallies: dict[str, Tally]) -> str:
    audio, rate = load_audio(path)
    cuts, weights, fps = detect_cuts(path, which)
    cuts = np.array(cuts)
    spaced, frame = spaced_mask(cuts), 1.0 / fps
    music = audio.shape[1] / rate
    line = [f"{Path(path).name:<11} {len(cuts):>2} cuts @ {fps:6.3f} fps"]
    for name, options in VARIANTS.items():
        tally = tallies[name]
        tally.music += music
        if options is None:
            offsets = cut_offsets(track_beats(audio, rate).times, cuts)
            tally.add(offsets, spaced, frame, clicks=detect_clicks(audio, rate))
        else:
            started = time.perf_counter()
            result = align_to_cuts(audio, rate, cuts, fps=fps, weights=weights, **options)
            seconds = time.perf_counter() - started
            m = result.metrics
            offsets = [
                c["offset_ms"] / 1000 if c["offset_ms"] is not None else np.inf for c in m.per_cut
            ]
            tally.add(offsets, spaced, frame, m.max_stretch, m.splices, m.clicks, seconds)
        hits = np.mean(np.abs(offsets) <= 0.05) if len(cuts) else 1.0
        line.append(f"{name.split()[0]} {hits:4.0%}")
    return "  ".join(line)


def print_table(tallies: dict[str, Tally], which: str) -> None:
    print(f"\n### Cuts from {which}\n")
    print(
        "| variant | ±1 frame | ±50 ms | ±100 ms | ±50 ms, cuts ≥1.5 s apart "
        "| max stretch | splices | clicks | s compute / min music |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, t in tallies.items():
        per_minute = f"{t.seconds / t.music * 60:.1f}" if t.seconds else "—"
        print(
            f"| {name} | {t.rate()} | {t.rate(0.05)} | {t.rate(0.1)} | "
            f"{t.rate(0.05, spaced_only=True)} | {t.max_stretch:.1%} | {t.splices} | "
            f"{t.clicks} | {per_minute} |"
        )
    base, full = tallies["unaligned"], tallies["full (default)"]
    b, f = _fraction(base, 0.05), _fraction(full, 0.05)
    print(
        f"\nfull vs unaligned at ±50 ms: {f:.1%} vs {b:.1%} → ×{f / max(b, 1e-9):.1f} "
        "the cuts on a beat"
    )


def _fraction(t: Tally, tolerance: float) -> float:
    off = np.abs(np.array(t.offsets))
    return float(np.mean(off <= tolerance)) if len(off) else 1.0


def time_stages(paths: list[str]) -> None:
    """Seconds per minute of music for each stage of the full alignment (one pass, no re-plan)."""
    from gvmgen.align import plan_alignment, render_alignment

    spent = dict(track=0.0, plan=0.0, render=0.0, measure=0.0)
    music = 0.0
    for path in paths:
        audio, rate = load_audio(path)
        cuts, _, _ = detect_cuts(path, "pyscenedetect")
        music += audio.shape[1] / rate
        clock = time.perf_counter()
        beats = track_beats(audio, rate)
        spent["track"] += time.perf_counter() - clock
        clock = time.perf_counter()
        plan = plan_alignment(beats, np.array(cuts), audio.shape[1] / rate)
        spent["plan"] += time.perf_counter() - clock
        clock = time.perf_counter()
        out = render_alignment(audio, rate, plan)
        spent["render"] += time.perf_counter() - clock
        clock = time.perf_counter()
        track_beats(out, rate)
        detect_clicks(out, rate)
        spent["measure"] += time.perf_counter() - clock
    print("\n### Compute per minute of music, one plan-render pass (2-core CPU)\n")
    print("| stage | s / min of music |\n|---|---|")
    for stage, seconds in spent.items():
        print(f"| {stage} | {seconds / music * 60:.2f} |")
    alone = spent["track"] + spent["plan"] + spent["render"]
    print(f"| **alignment alone (track + plan + render)** | **{alone / music * 60:.2f}** |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=CLIPS)
    parser.add_argument("--cuts", choices=["product", "pyscenedetect", "both"], default="both")
    args = parser.parse_args()
    paths = sorted(glob.glob(f"{args.clips}/*.mp4"))
    if not paths:
        sys.exit(f"no .mp4 clips in {args.clips}")
    track_beats(np.zeros((1, 44100 * 2), np.float32) + 1e-3, 44100)  # warm up numba
    sources = ["product", "pyscenedetect"] if args.cuts == "both" else [args.cuts]
    for which in sources:
        tallies = {name: Tally() for name in VARIANTS}
        for path in paths:
            print(run_clip(path, which, tallies), flush=True)
        print_table(tallies, which)
    time_stages(paths)


if __name__ == "__main__":
    main()
