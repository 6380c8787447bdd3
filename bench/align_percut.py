"""Cut by cut: why a judge misses a cut the metre ceiling says some plan could reach.

    .venv/bin/python bench/align_percut.py [--only clip2,clip5] [--knobs ATTACK_LEAD=0.004]
        [--calibrate] [--arranger]

For each shared clip's own music aligned to its hand-checked cuts (as `bench/align_bench.py`
does), one row per judged cut: spaced or not, inside the metre ceiling or not, whether the plan
anchored a beat on it (and which source beat), the report's own verdict (offset, certain), each
calibrated judge's offset on the delivered audio, and — for an anchored cut — where madmom hears
the beat of the *source* music that the plan aimed (our source beat minus madmom's nearest: a
phase disagreement on the source shows up as the same error in the output). The last column
names the cause. Judges' beats are cached under $TMPDIR/align_percut (keyed by the audio's hash)
so that repeated runs of a planner change cost only the alignment.

`--arranger` does the same for `gvmgen score CLIP --engine arranger`'s delivered cues, on the
cuts each report lists, with the report's hit and certain flags.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import align_bench as ab  # sets sys.path for gvmgen too
import judges

from gvmgen.align import align_to_cuts, track_beats
from gvmgen.media.audio import load_audio

CACHE = Path(tempfile.gettempdir()) / "align_percut"
LAGS_2026_12_07 = {"librosa": 27.6, "madmom": 1.7}  # ms, align_bench's calibration that day


def cached_beats(judge: str, audio: np.ndarray, rate: int) -> np.ndarray:
    """A judge's beats of `audio`, from the cache when the same samples were judged before."""
    digest = hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()
    path = CACHE / f"{judge}-{rate}-{digest[:20]}.npy"
    if path.exists():
        return np.load(path)
    tracker = {"librosa": judges.librosa_beats, "madmom": judges.madmom_beats}[judge]
    beats = tracker(audio, rate)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, beats)
    return beats


def judged_offsets(audio, rate, cuts) -> dict[str, np.ndarray]:
    """Each calibrated judge's signed offset (ms) at each cut: its nearest beat − (cut + lag)."""
    found = {}
    for judge in ("librosa", "madmom"):
        beats = cached_beats(judge, audio, rate)
        lag = ab.LAG_MS[judge] / 1000
        found[judge] = judges.nearest_offsets(beats, np.asarray(cuts) + lag) * 1000
    return found


def run_clip(path: str, rows: list[dict], options: dict) -> None:
    audio, rate = load_audio(path)
    times, priorities, judged, fps = ab.bench_cuts(path, "hand")
    cuts = times[judged]
    source_mm = cached_beats("madmom", audio, rate)
    period = float(np.median(np.diff(source_mm)))
    reachable = ab.ceiling_mask(cuts, period)
    before = track_beats(audio, rate)
    with ab.plan_knobs(options):
        result = align_to_cuts(audio, rate, times, fps=fps, priorities=priorities)
    anchors = {a.cut_index: a for a in result.plan.anchors}
    heard = judged_offsets(result.audio, rate, cuts)
    spaced = ab.spaced_mask(cuts)
    index_of = np.flatnonzero(judged)
    for k, cut in enumerate(cuts):
        i = int(index_of[k])
        row = result.metrics.per_cut[i]
        anchor = anchors.get(i)
        source_disagree = None
        if anchor is not None:
            lag = ab.LAG_MS["madmom"] / 1000
            source_disagree = (
                float(judges.nearest_offsets(source_mm, np.array([anchor.source + lag]))[0]) * -1000
            )
        rows.append(
            dict(
                clip=Path(path).stem,
                cut=float(cut),
                spaced=bool(spaced[k]),
                reachable=bool(reachable[k]),
                anchored=anchor is not None,
                source=None if anchor is None else anchor.source,
                target_ms=None if anchor is None else (anchor.target - cut) * 1000,
                report=row["hit"],
                report_ms=row["offset_ms"],
                certain=row.get("certain", True),
                madmom_ms=float(heard["madmom"][k]),
                librosa_ms=float(heard["librosa"][k]),
                ours_vs_madmom_src_ms=source_disagree,
                reason=row.get("reason", ""),
                period=before.period,
            )
        )


def cause(row: dict) -> str:
    """Our best reading of why a reachable cut is missed by a judge."""
    mm, lb = abs(row["madmom_ms"]) <= 50, abs(row["librosa_ms"]) <= 50
    if mm and lb:
        return ""
    if not row["anchored"]:
        return "not aimed: " + (row["reason"] or "")[:70]
    disagree = row["ours_vs_madmom_src_ms"]
    if disagree is not None and abs(disagree) > 40 and not mm:
        return f"aimed our beat; madmom hears the source beat {-disagree:+.0f} ms from ours"
    if row["report_ms"] is not None and abs(row["report_ms"]) > 50:
        return "aimed, but the delivered beat moved (render/splice)"
    return "aimed and delivered; judge's own reading"


def mark(ms: float) -> str:
    """A judge's offset, crossed where it is outside ±50 ms."""
    return f"{ms:+.0f}" + ("" if abs(ms) <= 50 else " ✗")


def print_rows(rows: list[dict]) -> None:
    print(
        "| clip | cut s | spaced | reach | aimed (target − cut ms) | report ms (certain) | "
        "madmom ms | librosa ms | ours − madmom on source ms | cause |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        aimed = f"yes ({r['target_ms']:+.0f})" if r["anchored"] else "no"
        report = "—" if r["report_ms"] is None else f"{r['report_ms']:+.0f}"
        report += "" if r["certain"] else " ?"
        src = "" if r["ours_vs_madmom_src_ms"] is None else f"{r['ours_vs_madmom_src_ms']:+.0f}"
        print(
            f"| {r['clip']} | {r['cut']:.2f} | {'S' if r['spaced'] else ''} | "
            f"{'R' if r['reachable'] else ''} | {aimed} | {report} | {mark(r['madmom_ms'])} | "
            f"{mark(r['librosa_ms'])} | {src} | {cause(r) if r['reachable'] else ''} |"
        )


def summary(rows: list[dict]) -> None:
    def share(mask, judge) -> str:
        hits = [abs(r[f"{judge}_ms"]) <= 50 for r, m in zip(rows, mask, strict=True) if m]
        return f"{sum(hits)}/{len(hits)}"

    every = [True] * len(rows)
    spaced = [r["spaced"] for r in rows]
    reach = sum(r["reachable"] for r in rows)
    report = sum(r["report"] for r in rows)
    print(
        f"\nall: madmom {share(every, 'madmom')}, librosa {share(every, 'librosa')}, "
        f"report {report}/{len(rows)}; ceiling {reach}; spaced: madmom {share(spaced, 'madmom')}, "
        f"librosa {share(spaced, 'librosa')}"
    )
    sure = [r for r in rows if r["certain"]]
    agree = sum(r["report"] == (abs(r["madmom_ms"]) <= 50) for r in sure)
    unsure = len(rows) - len(sure)
    print(f"report agrees with madmom on {agree}/{len(sure)} certain; {unsure} unsure")


def run_arranger(paths: list[str], rows: list[dict]) -> None:
    from gvmgen.cli import main as gvmgen_main

    for path in paths:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "score"
            with contextlib.redirect_stdout(io.StringIO()):
                code = gvmgen_main(["score", path, "--engine", "arranger", "--out", str(out)])
            if code != 0:
                print(f"{path}: exit {code}")
                continue
            report = json.loads((out / "report.json").read_text())
            for cue in report["cues"]:
                audio, rate = load_audio(cue["wav"])
                cuts = np.array([c["time"] for c in cue["cuts"]])
                heard = judged_offsets(audio, rate, cuts)
                spaced = ab.spaced_mask(cuts)
                for k, c in enumerate(cue["cuts"]):
                    rows.append(
                        dict(
                            clip=Path(path).stem,
                            cut=float(c["time"]),
                            spaced=bool(spaced[k]),
                            reachable=bool(c.get("reachable", True)),
                            anchored=True,
                            source=None,
                            target_ms=0.0,
                            report=c["hit"],
                            report_ms=c.get("offset_ms"),
                            certain=c.get("certain", True) is not False,
                            madmom_ms=float(heard["madmom"][k]),
                            librosa_ms=float(heard["librosa"][k]),
                            ours_vs_madmom_src_ms=None,
                            reason=c.get("reason", ""),
                            period=0.0,
                        )
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=ab.CLIPS)
    parser.add_argument("--only")
    parser.add_argument("--knobs", default="", help="NAME=VALUE,… (gvmgen.align.plan knobs)")
    parser.add_argument("--calibrate", action="store_true", help="measure the judges' lags")
    parser.add_argument("--arranger", action="store_true")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    paths = sorted(glob.glob(f"{args.clips}/*.mp4"))
    if args.only:
        wanted = {f"{n.strip()}.mp4" for n in args.only.split(",")}
        paths = [p for p in paths if Path(p).name in wanted]
    if args.calibrate:
        ab.calibrate_judges()
    else:
        ab.LAG_MS.update(LAGS_2026_12_07)
    knobs = {}
    for item in filter(None, args.knobs.split(",")):
        name, value = item.split("=")
        knobs[name] = float(value)
    rows: list[dict] = []
    if args.arranger:
        run_arranger(paths, rows)
    else:
        for path in paths:
            run_clip(path, rows, knobs)
            print(f"{Path(path).stem} done", file=sys.stderr, flush=True)
    print_rows(rows)
    summary(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
