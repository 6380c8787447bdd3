"""Cut analysis: our one-pass detector vs PySceneDetect's default ContentDetector vs pure decode.

Run: .venv/bin/python bench/cuts_bench.py [--clips DIR] [--repeats 3] [--json out.json]

On every clip, in one run and interleaved (so machine load hits all three alike):
  ours      gvmgen.media.cuts.detect_shots(path) — hard cuts, gradual transitions and the
            motion curve from one low-resolution decode pass
  psd       scenedetect.detect(path, ContentDetector()) with its default backend (OpenCV)
  decode    PyAV threaded decode of every frame, no conversion: the ceiling for any detector
            that looks at every frame with the decoder's default settings
Times are the best of `--repeats` interleaved runs, as wall-clock seconds and as CPU
seconds of the process (all threads; steadier than wall time on a shared machine).
Agreement is F1 at ±1 frame between our cuts and PySceneDetect's; neither is ground truth,
so both are also scored against boundaries checked by eye on these clips (HAND_CHECKED below;
frames viewed around every cut either detector reported).
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
    "clip19": [(115, 115), (116, 122), (156, 156), (228, 228), (255, 255), (284, 284), (312, 312),
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


def timed(fn, path: str) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process — all threads —, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(path)
    return time.perf_counter() - wall, time.process_time() - cpu, result


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
    methods = {"ours": run_ours, "psd": run_pyscenedetect, "decode": run_decode}
    best: dict[str, list] = {name: [float("inf"), float("inf"), None] for name in methods}
    for _ in range(repeats):  # interleaved, so a burst of load hits all three alike
        for method, fn in methods.items():
            wall, cpu, result = timed(fn, path)
            best[method] = [min(best[method][0], wall), min(best[method][1], cpu), result]
    shots, gradual = best["ours"][2]
    row = {"clip": name, "seconds": seconds, "frames": best["decode"][2]}
    for method in methods:
        row[f"t_{method}"], row[f"cpu_{method}"] = best[method][0], best[method][1]
    return row | {"ours_shots": shots, "ours_gradual": gradual, "psd": best["psd"][2]}


HEADER = (
    f"{'clip':8} {'s':>5} {'ours s':>7} {'×rt':>6} {'psd s':>7} {'×rt':>6} {'decode s':>8} "
    f"{'×rt':>6} {'ours/psd':>8} {'cuts o/g/p':>11} {'F1±1':>5} {'F1 all':>6}"
)


def line(label: str, seconds: float, times: tuple, counts: tuple, f1: tuple) -> str:
    """One table row: times = (ours, psd, decode) seconds; counts = (shots, gradual, psd)."""
    t_ours, t_psd, t_decode = times
    speeds = " ".join(f"{t:7.3f} {seconds / t:6.1f}" for t in (t_ours, t_psd))
    return (
        f"{label:8} {seconds:5.1f} {speeds} {t_decode:8.3f} {seconds / t_decode:6.1f} "
        f"{t_psd / t_ours:7.2f}× {counts[0]:>4}/{counts[1]}/{counts[2]:<4}  "
        f"{f1[0]:5.2f} {f1[1]:6.2f}"
    )


def print_table(rows: list[dict]) -> None:
    print(HEADER + "\n" + "-" * len(HEADER))
    sums = {"seconds": 0.0, "t_ours": 0.0, "t_psd": 0.0, "t_decode": 0.0}
    shots = gradual = psd = matched = matched_all = 0
    for r in rows:
        ours_all = r["ours_shots"] + r["ours_gradual"]
        m, f1 = agreement(r["ours_shots"], r["psd"])
        m_all, f1_all = agreement(ours_all, r["psd"])
        counts = (len(r["ours_shots"]), len(r["ours_gradual"]), len(r["psd"]))
        times = (r["t_ours"], r["t_psd"], r["t_decode"])
        print(line(r["clip"], r["seconds"], times, counts, (f1, f1_all)))
        for key in sums:
            sums[key] += r[key]
        shots, gradual, psd = shots + counts[0], gradual + counts[1], psd + counts[2]
        matched, matched_all = matched + m, matched_all + m_all
    f1 = 2 * matched / (shots + psd)
    f1_all = 2 * matched_all / (shots + gradual + psd)
    times = (sums["t_ours"], sums["t_psd"], sums["t_decode"])
    print("-" * len(HEADER))
    print(line("total", sums["seconds"], times, (shots, gradual, psd), (f1, f1_all)))
    cpu = {m: sum(r[f"cpu_{m}"] for r in rows) for m in ("ours", "psd", "decode")}
    print(
        f"CPU seconds: ours {cpu['ours']:.2f}, PySceneDetect {cpu['psd']:.2f}, decode "
        f"{cpu['decode']:.2f}; PySceneDetect / ours = {cpu['psd'] / cpu['ours']:.2f}×, "
        f"ours / decode = {cpu['ours'] / cpu['decode']:.2f}×"
    )
    print(
        f"\nours takes {sums['t_ours'] / sums['t_decode']:.2f}× the pure-decode time. cuts o/g/p:"
        " our hard cuts / our gradual transitions / PySceneDetect's cuts. F1±1: our hard cuts"
        " vs PySceneDetect's; F1 all: with our gradual transitions counted as cuts."
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
    parser.add_argument("--repeats", type=int, default=5, help="best of N timings per method")
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
