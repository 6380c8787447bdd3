"""Our beat tracker against madmom on the source music (the beat a listener taps).

    .venv/bin/python bench/tracker_bench.py [--clips DIR] [--only clip1,clip5] [--candidates]

For each shared clip's own music (as generated, before any alignment) and for synthetic music
whose beats are known, the F-measure of a tracker's beats against a reference, with mir_eval's
±70 ms window (`mir_eval.beat.f_measure`, untrimmed: the clips are 15 s long), and its metrical
level: the ratio of its median beat interval to the reference's (1 = the same level; 2 = it
taps every other beat, "half time"; 0.5 = twice per beat, "double time"). References: madmom's
RNN + DBN on the real clips (bench judge only: CC BY-NC-SA models), the known kick starts on the
synthetic music. `--candidates` also runs the trackers tried while choosing the product's
(`CANDIDATES`), each beside the product in the same run.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.environ.get("ALIGN_BENCH_ROOT", str(Path(__file__).resolve().parents[1])))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import judges

from gvmgen.align import track_beats
from gvmgen.media.audio import load_audio

ROOT = Path(__file__).resolve().parents[1]
CLIPS = "/work/shared/media/real"
WINDOW = 0.070  # s, mir_eval's default F-measure window
SAME_LEVEL = (0.85, 1.18)  # interval ratio read as the reference's metrical level


def f_measure(reference: np.ndarray, estimated: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(reference, estimated, f_measure_threshold=WINDOW))


def level(reference: np.ndarray, estimated: np.ndarray) -> tuple[float, str]:
    """Median interval ratio (estimated / reference) and its name."""
    if len(reference) < 2 or len(estimated) < 2:
        return float("nan"), "none"
    ratio = float(np.median(np.diff(estimated)) / np.median(np.diff(reference)))
    if SAME_LEVEL[0] <= ratio <= SAME_LEVEL[1]:
        return ratio, "same"
    if 1.7 <= ratio <= 2.3:
        return ratio, "half"
    if 0.43 <= ratio <= 0.59:
        return ratio, "double"
    return ratio, "other"


def product(audio, rate):
    return track_beats(audio, rate).times


def librosa_default(audio, rate):
    return judges.librosa_beats(audio, rate)


CANDIDATES = {"librosa default (judge)": librosa_default}
if os.environ.get("TRACKER_CANDIDATES"):  # experiments: a module with a CANDS dict
    import importlib.util

    _spec = importlib.util.spec_from_file_location("cands", os.environ["TRACKER_CANDIDATES"])
    _cands = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_cands)
    CANDIDATES.update(_cands.CANDS)


def synthetic_cases():
    """(name, audio, rate, known beats) — kick, snare-free hats, bass, at three tempi."""
    sys.path.insert(0, str(ROOT / "tests" / "align"))
    from align_music import beat_times, make_busy_hats_music, make_music

    rate, duration = 44100, 15.0
    for name, make, bpm in (
        ("synthetic 97", make_music, 97.0),
        ("synthetic 120", make_music, 120.0),
        ("busy hats 90", make_busy_hats_music, 90.0),
    ):
        yield name, make(bpm, duration, rate), rate, beat_times(bpm, duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=CLIPS)
    parser.add_argument("--only")
    parser.add_argument("--candidates", action="store_true")
    args = parser.parse_args()
    paths = sorted(glob.glob(f"{args.clips}/*.mp4"))
    if args.only:
        wanted = {f"{n.strip()}.mp4" for n in args.only.split(",")}
        paths = [p for p in paths if Path(p).name in wanted]
    trackers = {"product": product, **(CANDIDATES if args.candidates else {})}
    track_beats(np.zeros((1, 44100 * 2), np.float32) + 1e-3, 44100)  # warm the imports
    rows = {name: [] for name in trackers}
    seconds = dict.fromkeys(trackers, 0.0)
    music = 0.0
    cases = [(Path(p).stem, *load_audio(p)) for p in paths]
    cases = [(name, audio, rate, judges.madmom_beats(audio, rate)) for name, audio, rate in cases]
    for name, audio, rate, reference in [*cases, *synthetic_cases()]:
        real = not name.startswith(("synthetic", "busy"))
        music += audio.shape[1] / rate if real else 0.0
        line = [f"{name:<14} ref {60 / np.median(np.diff(reference)):5.1f} BPM"]
        for tracker, track in trackers.items():
            started = time.perf_counter()
            beats = np.asarray(track(audio, rate), dtype=np.float64)
            seconds[tracker] += (time.perf_counter() - started) if real else 0.0
            score = f_measure(reference, beats)
            ratio, named = level(reference, beats)
            rows[tracker].append((name, real, score, named))
            line.append(f"{tracker.split()[0]} F {score:.2f} {named} ({ratio:.2f})")
        print("  ".join(line), flush=True)
    window = f"±{WINDOW * 1000:.0f} ms"
    print(f"\n### Our tracker against madmom on the source music (F-measure, {window})\n")
    print(
        "| tracker | mean F, 8 clips | lowest F | clips at another metrical level | "
        "mean F, synthetic (vs known beats) | s per min of music |\n|---|---|---|---|---|---|"
    )
    for tracker, found in rows.items():
        real = [r for r in found if r[1]]
        synthetic = [r for r in found if not r[1]]
        wrong = [f"{n} ({lv})" for n, _, _, lv in real if lv != "same"]
        print(
            f"| {tracker} | {np.mean([r[2] for r in real]):.3f} | "
            f"{min(r[2] for r in real):.2f} | {len(wrong)}: {', '.join(wrong) or '—'} | "
            f"{np.mean([r[2] for r in synthetic]):.3f} | {seconds[tracker] / music * 60:.2f} |"
        )


if __name__ == "__main__":
    main()
