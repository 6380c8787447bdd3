"""Cut analysis: our one-pass detector vs PySceneDetect's default ContentDetector vs pure decode.

Run: .venv/bin/python bench/cuts_bench.py [--clips DIR] [--repeats 3] [--json out.json]

On every clip, in one run and interleaved (so machine load hits all three alike):
  ours      gvmgen.media.cuts.detect_shots(path) — hard cuts, gradual transitions and the
            motion curve from one low-resolution decode pass
  psd       scenedetect.detect(path, ContentDetector()) with its default backend (OpenCV)
  decode    PyAV threaded decode of every frame, no conversion: the ceiling for any detector
            that looks at every frame with the decoder's default settings
Times are the best of `--repeats` runs. Agreement is F1 at ±1 frame between our cuts and
PySceneDetect's; neither is ground truth, so both are also scored against boundaries checked
by eye on these clips (HAND_CHECKED below; frames viewed around every cut either detector
reported).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

DEFAULT_CLIPS = "/work/shared/media/real"
TOLERANCE = 1  # frames

# Shot boundaries checked by eye (frame indices at the clip's rate). A pair is a transition
# (flash to white, dissolve, whip) whose whole extent counts as the boundary.
HAND_CHECKED: dict[str, list[tuple[int, int]]] = {
    "clip1": [(43, 43), (150, 170)],
    "clip14": [(22, 22), (189, 189), (229, 229), (325, 325)],
    "clip16": [(122, 122), (172, 172), (213, 213), (245, 258), (289, 289), (328, 328),
               (343, 346), (375, 375), (413, 431)],
    "clip19": [(115, 119), (156, 156), (228, 228), (255, 255), (284, 284), (312, 312),
               (341, 344), (363, 366), (390, 393), (416, 416)],
    "clip2": [(15, 15), (22, 22), (34, 34), (46, 46), (60, 60), (70, 70), (114, 114),
              (168, 168), (205, 205), (248, 248), (302, 302)],
    "clip24": [(22, 22), (39, 40), (72, 72), (92, 92), (113, 113), (136, 136), (176, 177),
               (199, 199), (211, 212), (222, 223), (238, 238), (239, 246), (260, 260),
               (356, 356)],
    "clip5": [(3, 3), (26, 26), (45, 45), (112, 112), (154, 154), (236, 236), (291, 291)],
    "clip6": [(41, 41), (66, 66), (79, 79), (112, 112), (124, 124), (145, 145), (160, 160),
              (165, 165), (178, 178), (197, 197), (213, 213), (235, 235), (253, 253),
              (273, 273), (299, 299), (310, 310), (317, 317), (329, 329), (337, 337),
              (351, 351)],
}  # fmt: skip


def run_ours(path: str) -> tuple[list[int], list[int]]:
    from gvmgen.media.cuts import detect_shots

    analysis = detect_shots(path)
    shots = [c.frame for c in analysis.cuts if c.kind == "shot"]
    gradual = [c.frame for c in analysis.cuts if c.kind == "gradual"]
    return shots, gradual


def run_pyscenedetect(path: str) -> list[int]:
    from scenedetect import ContentDetector, detect

    scenes = detect(path, ContentDetector())
    return [start.frame_num for start, _ in scenes[1:]]


def run_decode(path: str) -> int:
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def best_time(fn, path: str, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn(path)
        best = min(best, time.perf_counter() - started)
    return best, result


def agreement(a: list[int], b: list[int], tolerance: int = TOLERANCE) -> tuple[int, float]:
    """(matches, F1) with one-to-one greedy matching within ±tolerance frames."""
    unmatched = sorted(b)
    matches = 0
    for frame in sorted(a):
        near = [x for x in unmatched if abs(x - frame) <= tolerance]
        if near:
            unmatched.remove(min(near, key=lambda x: abs(x - frame)))
            matches += 1
    total = len(a) + len(b)
    return matches, (2 * matches / total if total else 1.0)


def against_truth(found: list[int], truth: list[tuple[int, int]]) -> tuple[int, int, int]:
    """(true positives, false positives, misses): a detection hits a boundary within ±1 of
    its extent; each boundary is hit at most once (a second hit counts as false)."""
    left = list(truth)
    hits = 0
    for frame in sorted(found):
        match = next((t for t in left if t[0] - TOLERANCE <= frame <= t[1] + TOLERANCE), None)
        if match is not None:
            left.remove(match)
            hits += 1
    return hits, len(found) - hits, len(left)


def video_seconds(path: str) -> float:
    from gvmgen.media.video import probe

    return probe(path).duration


def bench_clip(path: str, repeats: int) -> dict:
    name = Path(path).stem
    seconds = video_seconds(path)
    run_ours(path)  # warm the import and the file cache before timing anything
    t_ours, (shots, gradual) = best_time(run_ours, path, repeats)
    t_psd, psd = best_time(run_pyscenedetect, path, repeats)
    t_decode, frames = best_time(run_decode, path, repeats)
    return {
        "clip": name,
        "seconds": seconds,
        "frames": frames,
        "t_ours": t_ours,
        "t_psd": t_psd,
        "t_decode": t_decode,
        "ours_shots": shots,
        "ours_gradual": gradual,
        "psd": psd,
    }


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'clip':8} {'s':>5} {'ours s':>7} {'×rt':>6} {'psd s':>7} {'×rt':>6} "
        f"{'decode s':>8} {'×rt':>6} {'ours/psd':>8} {'cuts o/g/p':>11} {'F1±1':>5} "
        f"{'F1 all':>6}"
    )
    print(head)
    print("-" * len(head))
    total = {k: 0.0 for k in ("seconds", "t_ours", "t_psd", "t_decode")}
    counts = {"shots": 0, "gradual": 0, "psd": 0, "m_shot": 0, "m_all": 0}
    for r in rows:
        _, f1 = agreement(r["ours_shots"], r["psd"])
        _, f1_all = agreement(r["ours_shots"] + r["ours_gradual"], r["psd"])
        print(
            f"{r['clip']:8} {r['seconds']:5.1f} {r['t_ours']:7.3f} {r['seconds'] / r['t_ours']:6.1f} "
            f"{r['t_psd']:7.3f} {r['seconds'] / r['t_psd']:6.1f} {r['t_decode']:8.3f} "
            f"{r['seconds'] / r['t_decode']:6.1f} {r['t_psd'] / r['t_ours']:7.2f}× "
            f"{len(r['ours_shots']):>3}/{len(r['ours_gradual'])}/{len(r['psd']):<3}   "
            f"{f1:5.2f} {f1_all:6.2f}"
        )
        for key in total:
            total[key] += r[key]
        counts["shots"] += len(r["ours_shots"])
        counts["gradual"] += len(r["ours_gradual"])
        counts["psd"] += len(r["psd"])
        counts["m_shot"] += agreement(r["ours_shots"], r["psd"])[0]
        counts["m_all"] += agreement(r["ours_shots"] + r["ours_gradual"], r["psd"])[0]
    f1 = 2 * counts["m_shot"] / (counts["shots"] + counts["psd"])
    f1_all = 2 * counts["m_all"] / (counts["shots"] + counts["gradual"] + counts["psd"])
    s = total["seconds"]
    print("-" * len(head))
    print(
        f"{'total':8} {s:5.1f} {total['t_ours']:7.3f} {s / total['t_ours']:6.1f} "
        f"{total['t_psd']:7.3f} {s / total['t_psd']:6.1f} {total['t_decode']:8.3f} "
        f"{s / total['t_decode']:6.1f} {total['t_psd'] / total['t_ours']:7.2f}× "
        f"{counts['shots']:>3}/{counts['gradual']}/{counts['psd']:<3}  {f1:5.2f} {f1_all:6.2f}"
    )
    print(
        f"\nours vs pure decode: {total['t_ours'] / total['t_decode']:.2f}× the decode time; "
        "cuts o/g/p = our hard cuts / our gradual transitions / PySceneDetect's cuts"
    )


def print_hand_checked(rows: list[dict]) -> None:
    print("\nAgainst boundaries checked by eye (±1 frame of a boundary's extent):")
    print(f"{'detector':28} {'found':>5} {'false':>5} {'missed':>6} {'precision':>9} {'recall':>6}")
    runs = {
        "ours (shot + gradual)": lambda r: r["ours_shots"] + r["ours_gradual"],
        "PySceneDetect ContentDetector": lambda r: r["psd"],
    }
    for label, pick in runs.items():
        hits = false = missed = 0
        for r in rows:
            h, f, m = against_truth(pick(r), HAND_CHECKED.get(r["clip"], []))
            hits, false, missed = hits + h, false + f, missed + m
        precision = hits / max(1, hits + false)
        recall = hits / max(1, hits + missed)
        print(f"{label:28} {hits:5d} {false:5d} {missed:6d} {precision:9.2f} {recall:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=DEFAULT_CLIPS, help="folder of .mp4 clips")
    parser.add_argument("--repeats", type=int, default=3, help="best of N timings per method")
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()

    import av
    import scenedetect

    paths = sorted(glob.glob(os.path.join(args.clips, "*.mp4")))
    if not paths:
        raise SystemExit(f"no .mp4 clips in {args.clips}")
    print(
        f"PyAV {av.__version__}, PySceneDetect {scenedetect.__version__} "
        f"(default backend: {type(scenedetect.open_video(paths[0])).__name__}), "
        f"{os.cpu_count()} CPUs, best of {args.repeats}\n"
    )
    rows = [bench_clip(path, args.repeats) for path in paths]
    print_table(rows)
    print_hand_checked(rows)
    for r in rows:
        print(f"  {r['clip']:7} ours {r['ours_shots']} gradual {r['ours_gradual']}")
        print(f"  {'':7} psd  {r['psd']}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
