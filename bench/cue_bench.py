"""Cues that sound composed (issue 19): endings, segues, takes, dynamics, stems, timbre, speed.

    .venv/bin/python bench/cue_bench.py [--baseline REV] [--parts clips,batch,takes,timbre,
        gvmgen-endings,speed] [--clips DIR]

Everything is judged on delivered audio (WAVs from `gvmgen score`, or the engine's output),
beside what today's code (`--baseline REV`, exported with `git archive` and run in its own
process) or GVMGen's own music (the shared clips' audio) gives on the same pictures:

- clips: `gvmgen score CLIP --engine arranger` on the eight shared clips: at the outer end the
  music is 40 dB below the cue's level by the out frame; with `--tail 2`, an onset within one
  frame of the out frame; sync judged by librosa's and madmom's beats (bench/align_bench.py);
- batch: a generated 10-minute timeline (cue markers, two gaps, black, rapid cuts) through
  `--mode batch`: a button onset within one frame of each boundary between two cues, clicks,
  short-term (3 s) loudness either side of each join, whether the beat grid runs on or changes
  only at the join's downbeat, no cue under 4 s, no WAV for a rest, and a range over one
  marker section planning the same cues as the batch; loudness range per cue (before/after);
- takes: 3 takes on each clip: tempo spread, chroma and timbre (MFCC) distance (before/after);
- timbre: spectral flatness and its spread, centroid spread, onset variety, loudness range of
  GVMGen's music, today's arranger and the new one on the same clips; spectrograms into
  docs/bench/cue-spectrograms.png; stems' residual against the mix;
- gvmgen-endings: GVMGen's own music ended at 12 s by a release after its last downbeat or by a
  fade (what the pipeline does to music it cannot re-compose), measured both ways;
- speed: the arranger on a 2-minute cue, new and baseline interleaved in one run (× real time),
  with the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("CUE_BENCH_ROOT", Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import music_features as mf  # noqa: E402

CLIPS = "/work/shared/media/real"
RATE = 25  # the generated timeline's frame rate
FRAME = 1 / RATE
SPECTROGRAMS = Path(__file__).resolve().parents[1] / "docs" / "bench" / "cue-spectrograms.png"


# --- helpers on delivered audio ----------------------------------------------------------------


def onsets(audio: np.ndarray, rate: int, rise_db: float = 6.0) -> np.ndarray:
    """Attack times (s): 5 ms hops whose energy is `rise_db` over the 30 ms before, within
    40 dB of the loudest hop (the first hop of each rise)."""
    hop = int(0.005 * rate)
    n = audio.shape[1] // hop
    energy = (audio[:, : n * hop].astype(np.float64) ** 2).mean(axis=0).reshape(n, hop)
    db = 10 * np.log10(energy.mean(axis=1) + 1e-12)
    padded = np.concatenate([np.full(6, db[0]), db])
    before = np.lib.stride_tricks.sliding_window_view(padded, 6)[:n].mean(axis=1)
    rising = np.flatnonzero((db - before >= rise_db) & (db > db.max() - 40))
    first = rising[np.diff(np.concatenate([[-10], rising])) > 4]
    return first * hop / rate


def level_db(audio: np.ndarray, rate: int, start: float, stop: float) -> float:
    part = audio[:, max(0, int(start * rate)) : int(stop * rate)]
    return 10 * np.log10(np.mean(part.astype(np.float64) ** 2) + 1e-20)


def loud_level_db(audio: np.ndarray, rate: int) -> float:
    """The cue's level: mean power of its louder half of 400 ms blocks, dB."""
    block = int(0.4 * rate)
    n = audio.shape[1] // block
    if n == 0:
        return level_db(audio, rate, 0, audio.shape[1] / rate)
    power = (audio[:, : n * block].astype(np.float64) ** 2).mean(axis=0).reshape(n, block)
    values = np.sort(power.mean(axis=1))[n // 2 :]
    return 10 * np.log10(values.mean() + 1e-20)


def score(args: list[str]) -> tuple[int, dict | None]:
    from gvmgen.cli import main as gvmgen_main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = gvmgen_main(["score", *args])
    out = Path(args[args.index("--out") + 1])
    report = json.loads((out / "report.json").read_text()) if code == 0 else None
    return code, report


def load(path: str) -> tuple[np.ndarray, int]:
    from gvmgen.media.audio import load_audio

    return load_audio(path)


# --- the shared clips through gvmgen score ------------------------------------------------------


def part_clips(paths: list[str]) -> dict:
    decayed, tail_onsets, rows = [], [], []
    for path in paths:
        with tempfile.TemporaryDirectory() as folder:
            _, report = score([path, "--engine", "arranger", "--out", f"{folder}/a"])
            (cue,) = report["cues"]
            audio, rate = load(cue["wav"])
            end = audio.shape[1] / rate
            drop = loud_level_db(audio, rate) - level_db(audio, rate, end - 0.05, end)
            decayed.append(drop)
            _, tailed = score([path, "--engine", "arranger", "--tail", "2", "--out", f"{folder}/t"])
            (cue_t,) = tailed["cues"]
            audio_t, _ = load(cue_t["wav"])
            out_frame = cue_t["duration"]
            near = np.abs(onsets(audio_t, rate) - out_frame)
            tail_onsets.append(float(near.min()) if len(near) else np.inf)
            rows.append(
                f"| {Path(path).stem} | {drop:.1f} dB "
                f"| {audio_t.shape[1] / rate - out_frame:.2f} s "
                f"| {1000 * tail_onsets[-1]:.0f} ms |"
            )
    print("\n### Endings at the outer end (8 shared clips, arranger, `--ending button`)\n")
    print(
        "| clip | level 50 ms before the out frame, below the cue's | --tail 2: WAV past out "
        "| --tail 2: nearest onset to the out frame |"
    )
    print("|---|---|---|---|")
    print("\n".join(rows))
    ok = np.mean(np.array(decayed) >= 40)
    hit = np.mean(np.array(tail_onsets) <= FRAME)
    print(
        f"\ndecayed ≥ 40 dB by the out frame: {ok:.0%} of cues (min {min(decayed):.1f} dB); "
        f"--tail: onset within ±1 frame (40 ms) of the out frame: {hit:.0%}"
    )
    return {"decayed_40db": ok, "min_drop_db": min(decayed), "tail_onset_hit": hit}


def part_sync(paths: list[str]) -> None:
    import align_bench

    align_bench.ATTACK_BIAS_MS = align_bench.attack_bias()
    align_bench.run_arranger(paths)


# --- the generated 10-minute timeline ------------------------------------------------------------

MARKERS = ((0.2, "Cue A"), (0.45, "cue B"), (0.62, "CUE C"), (0.85, "cue D"))
GAPS = ((0.30, 20.0), (0.74, 5.0))  # (where, seconds): rests
RAPID = (0.5, 0.56)  # a stretch of rapid cuts (every 8–14 frames)


def make_timeline(folder: Path) -> Path:
    """10 minutes at 25 fps: ~90 edit points, a run of rapid cuts, two gaps, 4 cue markers."""
    import opentimelineio as otio

    from gvmgen.media.synth import make_test_clip

    rng = random.Random(19)
    sources = [
        make_test_clip(
            folder / f"s{i}.mp4",
            rate=RATE,
            duration=120.0,
            cut_frames=list(range(83 + 41 * i, 3000, 260 + 23 * i)),
            size=(96, 54),
            brightness=0.25 + 0.2 * i,
        )
        for i in range(3)
    ]
    total = 10 * 60 * RATE
    edits = set(rng.sample(range(2 * RATE, total - 2 * RATE), 80))
    frame = int(RAPID[0] * total)
    while frame < RAPID[1] * total:
        edits.add(frame)
        frame += rng.randrange(8, 15)
    gaps = [(int(f * total), int(f * total + s * RATE)) for f, s in GAPS]
    edits = sorted(e for e in edits if not any(a - RATE <= e <= b + RATE for a, b in gaps))
    bounds = sorted({0, total, *edits, *[x for g in gaps for x in g]})
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        if any(a == g[0] for g in gaps):
            track.append(otio.schema.Gap(duration=rt(b - a, RATE)))
            continue
        source = sources[i % len(sources)]
        start = rng.randrange(0, 3000 - (b - a)) if b - a < 3000 else 0
        ref = otio.schema.ExternalReference(
            str(source), available_range=tr(rt(0, RATE), rt(3000, RATE))
        )
        track.append(
            otio.schema.Clip(
                name=f"shot {i}",
                media_reference=ref,
                source_range=tr(rt(start, RATE), rt(min(b - a, 3000), RATE)),
            )
        )
    timeline = otio.schema.Timeline("cue bench", global_start_time=rt(3600 * RATE, RATE))
    timeline.tracks.append(track)
    for fraction, name in MARKERS:
        mark = tr(rt(round(fraction * total), RATE), rt(1, RATE))
        timeline.tracks.markers.append(otio.schema.Marker(name=name, marked_range=mark))
    target = folder / "timeline.otio"
    otio.adapters.write_to_file(timeline, str(target))
    return target


def part_batch(folder: Path, timeline: Path) -> dict:
    from gvmgen.align import detect_clicks

    started = time.perf_counter()
    _, report = score(
        [str(timeline), "--mode", "batch", "--engine", "arranger", "--out", str(folder / "b")]
    )
    seconds = time.perf_counter() - started
    cues = report["cues"]
    audio = [load(c["wav"])[0] if c.get("wav") else None for c in cues]
    rate = 48000
    rests = [c for c in cues if c.get("silent")]
    rest_wavs = sum(1 for c in rests if c.get("wav"))
    length = max(round((c["start"] + c["duration"] + c.get("ring", 0.0)) * rate) for c in cues)
    track = np.zeros((2, length), np.float32)  # each WAV at its start: rings run into rests
    for cue, wav in zip(cues, audio, strict=True):
        if wav is not None:
            first = round(cue["start"] * rate)
            track[:, first : first + wav.shape[1]] += wav
    short = [c for c in cues if not c.get("silent") and c["duration"] < 4.0]
    joins, rows = [], []
    for prev, cue in itertools.pairwise(cues):
        if prev.get("silent") or cue.get("silent"):
            continue
        b = cue["start"]
        window = track[:, int((b - 4) * rate) : int((b + 4) * rate)]
        near = np.abs(onsets(window, rate) - 4.0)
        onset = float(near.min()) if len(near) else np.inf
        clicks = detect_clicks(track[:, int((b - 0.5) * rate) : int((b + 0.5) * rate)], rate)
        before = mf.short_term_loudness(track[:, int((b - 3) * rate) : int(b * rate)], rate)[1]
        after = mf.short_term_loudness(track[:, int(b * rate) : int((b + 3) * rate)], rate)[1]
        step = abs(float(after[-1] - before[-1])) if len(after) and len(before) else np.nan
        grid = beat_continuity(window, rate)
        joins.append((onset, clicks, step, grid))
        rows.append(
            f"| {prev['name']} → {cue['name']} | {b:.2f} | {1000 * onset:.0f} ms | {clicks} "
            f"| {step:.1f} LU | {grid} |"
        )
    lra = [
        (c["name"], c["duration"], mf.loudness_range(a, rate))
        for c, a in zip(cues, audio, strict=True)
        if a is not None and not c.get("silent") and c["duration"] >= 30
    ]
    print(f"\n### Batch: generated 10-minute timeline ({len(cues)} cues, {seconds:.0f} s)\n")
    print(
        "| join | at s | button onset from the boundary | clicks | 3 s loudness step | beat grid |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    on_frame = np.mean([j[0] <= FRAME for j in joins]) if joins else float("nan")
    print(
        f"\nbutton onset within ±1 frame of the boundary: {on_frame:.0%} of {len(joins)} joins; "
        f"clicks {sum(j[1] for j in joins)}; loudness step median "
        f"{np.nanmedian([j[2] for j in joins]):.1f} LU, max {np.nanmax([j[2] for j in joins]):.1f}"
        f" (every join is at a cue marker: the ≤ 3 LU rule exempts them); beat grid continuous "
        f"or changing at the join: {np.mean([j[3] != 'broken' for j in joins]):.0%}"
    )
    print(f"cues under 4 s: {len(short)}; rests {len(rests)}, of them with a WAV: {rest_wavs}")
    print(
        "loudness range per cue ≥ 30 s: "
        + ", ".join(f"{n} {d:.0f} s {v:.1f} LU" for n, d, v in lra)
    )
    return {"cues": cues, "lra": lra, "joins": joins, "seconds": seconds}


def beat_continuity(window: np.ndarray, rate: int) -> str:
    """librosa's beats over ±4 s of a join (at 4.0 s): 'continuous' when the beat period is the
    same (±6 %) on both sides, 'at the join' when it changes and a beat sits within 70 ms of the
    join, else 'broken'."""
    from judges import librosa_beats

    beats = librosa_beats(window, rate)
    before, after = beats[beats < 4.0], beats[beats >= 4.0]
    if len(before) < 3 or len(after) < 3:
        return "too few beats"
    p1, p2 = np.median(np.diff(before)), np.median(np.diff(after))
    if abs(np.log(p1 / p2)) <= np.log(1.06):
        return "continuous"
    return "at the join" if np.min(np.abs(beats - 4.0)) <= 0.07 else "broken"


def part_same_plan(folder: Path, timeline: Path, batch_cues: list[dict]) -> bool:
    """A range over the section between two markers plans the cues the batch planned there."""
    named = [c for c in batch_cues if c["name"].lower().startswith("cue b")]
    first = named[0]
    following = batch_cues[batch_cues.index(first) + 1 :]
    end = next((c for c in following if c["name"].lower().startswith("cue")), batch_cues[-1])
    start_f, end_f = round(first["start"] * RATE), round(end["start"] * RATE)
    _, report = score(
        [
            str(timeline),
            "--range",
            f"f{start_f}-f{end_f}",
            "--engine",
            "arranger",
            "--out",
            str(folder / "r"),
        ]
    )
    batch = [
        (round(c["start"] * RATE), round(c["duration"] * RATE), bool(c.get("silent")))
        for c in batch_cues
        if start_f <= round(c["start"] * RATE) < end_f
    ]
    ranged = [
        (round(c["start"] * RATE) + start_f, round(c["duration"] * RATE), bool(c.get("silent")))
        for c in report["cues"]
    ]
    same = batch == ranged
    print(f"\nbatch and range plan the same cues over 'cue B' … : {same} ({len(batch)} cue(s))")
    return same


# --- engine-level parts, run in a process per code version ---------------------------------------


def worker(task: str, clips: list[str]) -> dict:
    """What one version of the arranger makes on the shared clips (run with that version's tree
    on sys.path)."""
    from gvmgen.engines.arranger import ArrangerEngine

    engine = ArrangerEngine(48000)
    if task == "speed":
        from arranger_bench import synthetic_cue

        cue = synthetic_cue(2.0, seed=3)
        engine.generate(synthetic_cue(0.1), 0)  # warm-up
        started = time.perf_counter()
        engine.generate(cue, 1)
        return {"x_realtime": cue.duration / (time.perf_counter() - started)}
    out = {}
    for path in clips:
        cue = clip_conditioning(path)
        if task == "timbre":
            audio = engine.generate(cue, 0)
            out[Path(path).stem] = {**mf.timbre_features(audio, 48000), "mel": mel(audio, 48000)}
        elif task == "takes":
            takes = [engine.generate(cue, seed) for seed in range(3)]
            out[Path(path).stem] = take_distances(takes, 48000)
    return out


def clip_conditioning(path: str):
    from gvmgen.analysis import analyze_edit, load_edit
    from gvmgen.conditioning import cue_conditioning

    edit = load_edit(path)
    analysis = analyze_edit(edit, Path(path), "video")
    return cue_conditioning(analysis, 0.0, analysis.duration)


def mel(audio: np.ndarray, rate: int) -> list:
    import librosa

    spectrum = librosa.feature.melspectrogram(y=mf.mono(audio, rate), sr=mf.FEATURE_RATE, n_mels=96)
    return librosa.power_to_db(spectrum, ref=np.max).tolist()


def take_distances(takes: list[np.ndarray], rate: int) -> dict:
    tempos = [mf.tempo_of(t, rate) for t in takes]
    pairs = list(itertools.combinations(range(len(takes)), 2))
    chroma = [mf.chroma_and_timbre(t, rate) for t in takes]
    return {
        "tempos": tempos,
        "tempo_apart": min(abs(np.log(tempos[a] / tempos[b])) for a, b in pairs),
        "chroma_distance": float(
            np.mean([1 - np.dot(chroma[a][0], chroma[b][0]) for a, b in pairs])
        ),
        "timbre_distance": float(
            np.mean([np.linalg.norm(chroma[a][1] - chroma[b][1]) for a, b in pairs])
        ),
    }


def in_tree(root: str, task: str, clips: list[str]) -> dict:
    env = {**os.environ, "CUE_BENCH_ROOT": root, "PYTHONPATH": root}
    command = [sys.executable, __file__, "--worker", task, "--clips-list", *clips]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def exported(rev: str) -> str:
    folder = tempfile.mkdtemp(prefix=f"cue-bench-{rev}-")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    return folder


# --- timbre, takes, GVMGen endings, speed ---------------------------------------------------------

TIMBRE_KEYS = (
    "flatness",
    "flatness_spread",
    "centroid_hz",
    "centroid_spread_oct",
    "onset_strength_cv",
    "ioi_cv",
    "onsets_per_s",
    "lra",
)


def part_timbre(clips: list[str], baseline: str | None) -> None:
    gvmgen = {}
    for path in clips:
        audio, rate = load(path)
        gvmgen[Path(path).stem] = {**mf.timbre_features(audio, rate), "mel": mel(audio, rate)}
    rows = {
        "GVMGen (the clips' own music)": gvmgen,
        "arranger (this code)": in_tree(str(ROOT), "timbre", clips),
    }
    if baseline:
        rows[f"arranger ({baseline})"] = in_tree(exported(baseline), "timbre", clips)
    print("\n### Timbre beside GVMGen's music (8 shared clips, mean ± sd over clips)\n")
    print("| music | " + " | ".join(TIMBRE_KEYS) + " |")
    print("|---|" + "---|" * len(TIMBRE_KEYS))
    for name, per_clip in rows.items():
        cells = [
            f"{np.mean([c[k] for c in per_clip.values()]):.3g} ± "
            f"{np.std([c[k] for c in per_clip.values()]):.2g}"
            for k in TIMBRE_KEYS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    first = Path(clips[0]).stem
    draw_spectrograms({name: np.array(per_clip[first]["mel"]) for name, per_clip in rows.items()})
    print(f"\nspectrograms of {first}: {SPECTROGRAMS.relative_to(SPECTROGRAMS.parents[2])}")


def draw_spectrograms(mels: dict[str, np.ndarray]) -> None:
    from PIL import Image, ImageDraw

    panels = []
    for name, spectrum in mels.items():
        values = np.clip((spectrum + 80.0) / 80.0, 0, 1)[::-1]  # low frequencies at the bottom
        rgb = np.stack([values**0.7, values**1.5, 0.35 * values + 0.15], axis=-1)
        image = Image.fromarray((255 * rgb).astype(np.uint8)).resize((640, 192))
        label = Image.new("RGB", (640, 20), (20, 20, 24))
        ImageDraw.Draw(label).text((6, 4), name, fill=(230, 230, 230))
        panels += [label, image]
    sheet = Image.new("RGB", (640, sum(p.height for p in panels)))
    y = 0
    for panel in panels:
        sheet.paste(panel, (0, y))
        y += panel.height
    SPECTROGRAMS.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SPECTROGRAMS)


def part_takes(clips: list[str], baseline: str | None) -> None:
    rows = {"this code": in_tree(str(ROOT), "takes", clips)}
    if baseline:
        rows[baseline] = in_tree(exported(baseline), "takes", clips)
    print("\n### Takes: 3 per clip (seeds 0, 1, 2), arranger\n")
    print(
        "| code | smallest tempo gap between takes (median over clips) "
        "| clips with all takes ≥ 8 % apart | chroma distance (1 − cos) "
        "| timbre distance (MFCC) |"
    )
    print("|---|---|---|---|---|")
    for name, per_clip in rows.items():
        apart = [c["tempo_apart"] for c in per_clip.values()]
        print(
            f"| {name} | {100 * (np.exp(np.median(apart)) - 1):.1f} % | "
            f"{np.mean([a >= np.log(1.08) - 0.005 for a in apart]):.0%} | "
            f"{np.mean([c['chroma_distance'] for c in per_clip.values()]):.3f} | "
            f"{np.mean([c['timbre_distance'] for c in per_clip.values()]):.1f} |"
        )


def part_gvmgen_endings(clips: list[str], out: float = 12.0) -> None:
    """The clips' own GVMGen music ended at `out` both ways the pipeline could."""
    from dataclasses import replace

    import gvmgen.rendering as rendering
    from gvmgen.align.beats import track_beats
    from gvmgen.engines.base import Ending

    rows = {"release": [], "fade": []}
    for path in clips:
        audio, rate = load(path)
        audio = audio[:, : int(out * rate)]
        beats = track_beats(audio, rate)
        for way in rows:
            rendering.GVMGEN_ENDING = way
            ended = rendering.ended(audio, rate, Ending("button", out, 0.0), beats)
            level = loud_level_db(audio, rate)
            drop = level - level_db(ended, rate, out - 0.05, out)
            sounding = np.flatnonzero(np.abs(ended).max(axis=0) > 10 ** ((level - 60) / 20))
            silent = out - (sounding[-1] + 1) / rate if len(sounding) else out
            rows[way].append((drop, silent, ending_length(audio, ended, rate)))
    rendering.GVMGEN_ENDING = "release"
    print(f"\n### GVMGen music ended at {out:g} s (the clips' own music), both ways\n")
    print(
        "| ending | decayed 40 dB by the out frame | silence before the out frame (median) "
        "| music under its own level before the out frame (median) |"
    )
    print("|---|---|---|---|")
    for way, values in rows.items():
        v = np.array(values)
        print(
            f"| {way} | {np.mean(v[:, 0] >= 40):.0%} | {np.median(v[:, 1]):.2f} s "
            f"| {np.nanmedian(v[:, 2]):.2f} s |"
        )
    del replace


def ending_length(audio: np.ndarray, ended: np.ndarray, rate: int) -> float:
    """Seconds before the end where the ended music first falls 1 dB under the music itself
    (50 ms blocks): how much of the music the ending takes."""
    block = int(0.05 * rate)
    n = audio.shape[1] // block
    power = [
        (x[:, : n * block].astype(np.float64) ** 2).mean(axis=0).reshape(n, block).mean(axis=1)
        for x in (audio, ended)
    ]
    under = np.flatnonzero(power[1] < power[0] * 10 ** (-1 / 10))
    return (n - under[0]) * block / rate if len(under) else 0.0


def part_speed(baseline: str | None, rounds: int = 3) -> None:
    load_before = os.getloadavg()[0]
    trees = {"this code": str(ROOT)}
    if baseline:
        trees[baseline] = exported(baseline)
    speeds = {name: [] for name in trees}
    for _ in range(rounds):  # interleaved: both see the same load
        for name, root in trees.items():
            speeds[name].append(in_tree(root, "speed", [])["x_realtime"])
    print(
        f"\n### Arranger speed, 2-minute cue, 48 kHz (load {load_before:.1f} → "
        f"{os.getloadavg()[0]:.1f}, {rounds} interleaved rounds)\n"
    )
    for name, values in speeds.items():
        each = ", ".join(f"{v:.0f}" for v in values)
        print(f"- {name}: median {np.median(values):.0f}× real time ({each})")
    if baseline:
        ratio = np.median(speeds["this code"]) / np.median(speeds[baseline])
        print(f"- ratio this code / {baseline}: {ratio:.2f}")


def stems_residual() -> None:
    from arranger_bench import synthetic_cue

    from gvmgen.engines.arranger import ArrangerEngine

    engine = ArrangerEngine(48000)
    mix, score_ = engine.generate_with_score(synthetic_cue(1.0, seed=5), 0)
    stems = engine.stems(score_, 60.0)
    residual = mix - sum(stems.values())
    db = 10 * np.log10(np.mean(residual**2) / np.mean(mix**2))
    print(f"\nstems (drums, bass, harmony, melody) summed against the mix, 60 s cue: {db:.0f} dB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default=CLIPS)
    parser.add_argument("--baseline", help="git revision of today's code to compare with")
    parser.add_argument("--parts", default="clips,batch,takes,timbre,gvmgen-endings,speed,sync")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--clips-list", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.clips_list)))
        return 0
    clips = sorted(glob.glob(f"{args.clips}/*.mp4"))
    parts = set(args.parts.split(","))
    print(f"cue bench: {len(clips)} clips, baseline {args.baseline}, load {os.getloadavg()[0]:.1f}")
    if "clips" in parts:
        part_clips(clips)
    if "batch" in parts:
        with tempfile.TemporaryDirectory() as folder:
            timeline = make_timeline(Path(folder))
            batch = part_batch(Path(folder), timeline)
            part_same_plan(Path(folder), timeline, batch["cues"])
    if "takes" in parts:
        part_takes(clips, args.baseline)
    if "timbre" in parts:
        part_timbre(clips, args.baseline)
        stems_residual()
    if "gvmgen-endings" in parts:
        part_gvmgen_endings(clips)
    if "speed" in parts:
        part_speed(args.baseline)
    if "sync" in parts:
        part_sync(clips)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
