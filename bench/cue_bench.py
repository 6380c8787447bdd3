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
import atexit
import contextlib
import glob
import io
import itertools
import json
import os
import random
import shutil
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


def part_sync(paths: list[str], baselines: list[str], variants: list[str]) -> dict:
    """The arranger through `gvmgen score` on the shared clips, each cue judged on its report's
    cuts by bench/align_bench.py's judges, calibrated for their own lag in this run; this code,
    its `variants` (SYNC_VARIANTS) and each of `baselines` side by side."""
    import align_bench

    align_bench.ATTACK_BIAS_MS = align_bench.attack_bias()
    align_bench.calibrate_judges()
    trees = {"this code": (str(ROOT), "")}
    trees.update({f"this code, {v}": (str(ROOT), v) for v in variants})
    trees.update({rev: (exported(rev), "") for rev in baselines})
    tallies = {}
    for name, (root, variant) in trees.items():
        tally = align_bench.Tally()
        started = time.perf_counter()
        cues = in_tree(root, "sync", paths, variant=variant)
        for cue in cues:
            audio, rate = load(cue["wav"])
            tally.music += audio.shape[1] / rate
            certain = np.array([c is not False for c in cue["certain"]], bool)
            tally.add_judged(cue["cuts"], cue["own"], audio, rate, certain=certain)
        tally.seconds = time.perf_counter() - started
        tallies[name] = tally
        for wav in {c["wav"] for c in cues}:  # the worker's folder, now judged
            folder = next((p for p in Path(wav).parents if p.name.startswith("cue-bench-sy")), None)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    align_bench.print_table(tallies, "Arranger music through `gvmgen score` (8 shared clips)")
    return tallies


SYNC_VARIANTS = {  # name → what the worker changes for an experiment (`--sync-variants`)
    "as-is": "the aligner replaced by the music as composed (no warp at all)",
    "as-is-leadN": "as composed, every attack N ms before its cut (the music N ms earlier)",
    "splices": "the aligner allowed to splice the arranger's music (as before a410272)",
}


def sync_worker(clips: list[str], variant: str) -> list[dict]:
    """`gvmgen score CLIP --engine arranger` on each clip (kept in a folder that outlives this
    process, for the parent to judge): every cue's WAV, its cuts and the report's own flags."""
    _sync_variant(variant)
    folder = tempfile.mkdtemp(prefix="cue-bench-sync-")
    cues = []
    for path in clips:
        out = Path(folder) / Path(path).stem
        code, report = score([path, "--engine", "arranger", "--out", str(out)])
        if code != 0:
            continue
        for cue in report["cues"]:
            if not cue.get("wav"):
                continue
            cues.append(
                {
                    "clip": Path(path).stem,
                    "wav": cue["wav"],
                    "cuts": [c["time"] for c in cue["cuts"]],
                    "own": [c["hit"] for c in cue["cuts"]],
                    "certain": [c.get("certain") for c in cue["cuts"]],
                }
            )
    return cues


def _sync_variant(variant: str) -> None:
    import gvmgen.rendering as rendering

    if variant == "splices":
        original = rendering.aligned

        def spliced(*args, **kwargs):
            return original(*args, **{**kwargs, "splices": True})

        rendering.aligned = spliced
    elif variant.startswith("as-is"):
        from gvmgen.align import aligner
        from gvmgen.align.plan import plan_alignment

        lead = float(variant.removeprefix("as-is").removeprefix("-lead") or 0) / 1000

        def as_is(made, sample_rate, cuts, max_stretch, fps, progress, **kwargs):
            duration = kwargs.get("duration") or made.audio.shape[1] / sample_rate
            shift = round(lead * sample_rate)  # the music a few ms earlier: attacks lead cuts
            audio = np.pad(made.audio[:, shift:], ((0, 0), (0, shift)))
            made = made._replace(audio=audio)
            plan = plan_alignment(
                made.beats, np.zeros(0), duration, source_duration=made.audio.shape[1] / sample_rate
            )
            plan = aligner.replace(plan, cuts=np.sort(np.asarray(cuts, float)))
            return aligner._render_and_measure(made.audio, sample_rate, plan, made.beats, fps)

        rendering.aligned = as_is


# --- the generated 10-minute timeline ------------------------------------------------------------

GAPS = ((0.30, 20.0), (0.74, 5.0))  # (where, seconds): rests
RAPID = (0.5, 0.56)  # a stretch of rapid cuts (every 8–14 frames)
MARKER_GAP = (6.0, 22.0)  # s between consecutive cue or tempo markers
TEMPI = (84, 120, 96, 132, 72, 108)  # a tempo marker's values, in turn
LONG_CUES = ((0.62, 0.72), (0.86, 0.95))  # no marker starts a cue here: cues ≥ 30 s (LRA)
INTENSITY_MARKERS = ((0.13, "intensity 3"), (0.43, "intensity 8"), (0.9, "intensity 5"))


def make_timeline(folder: Path) -> tuple[Path, list[dict]]:
    """10 minutes at 25 fps: ~90 random edit points, a run of rapid cuts, two gaps, and dozens
    of markers that start cues — `cue …` markers and, every fourth, a `tempo …` marker — placed
    on a cut, a few frames from one, or away from any; three intensity markers mid-cue.
    Returns the timeline and the markers that start cues ({frame, name, kind, place})."""
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
    gaps = [(int(f * total), int(f * total + s * RATE)) for f, s in GAPS]
    edits = set(rng.sample(range(2 * RATE, total - 2 * RATE), 80))
    frame = int(RAPID[0] * total)
    while frame < RAPID[1] * total:
        edits.add(frame)
        frame += rng.randrange(8, 15)
    markers = _cue_markers(rng, total, gaps, edits)
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
    named = [(m["frame"], m["name"]) for m in markers]
    named += [(round(f * total), name) for f, name in INTENSITY_MARKERS]
    for frame, name in named:
        mark = tr(rt(frame, RATE), rt(1, RATE))
        timeline.tracks.markers.append(otio.schema.Marker(name=name, marked_range=mark))
    target = folder / "timeline.otio"
    otio.adapters.write_to_file(timeline, str(target))
    return target, markers


def _cue_markers(rng: random.Random, total: int, gaps, edits: set[int]) -> list[dict]:
    """Markers that start cues, every `MARKER_GAP` apart (none within 4 s of a gap): a third on
    a cut, a third 1–8 frames before or after one, a third at least a second from any cut (the
    edits are changed to make it so)."""
    markers, frame, count = [], 8 * RATE, 0
    while frame < total - 8 * RATE:
        near_gap = any(a - 4 * RATE <= frame <= b + 4 * RATE for a, b in gaps)
        in_long = any(a * total <= frame <= b * total for a, b in LONG_CUES)
        if not near_gap and not in_long:
            place = ("on a cut", "near a cut", "away from cuts")[count % 3]
            if place == "on a cut":
                edits.add(frame)
            elif place == "near a cut":
                edits.add(frame + rng.choice((-1, 1)) * rng.randrange(1, 9))
            else:
                edits.difference_update(range(frame - RATE, frame + RATE + 1))
            tempo = count % 4 == 3
            name = f"tempo {TEMPI[(count // 4) % len(TEMPI)]}" if tempo else f"cue {count + 1}"
            kind = "tempo" if tempo else "cue"
            markers.append({"frame": frame, "name": name, "kind": kind, "place": place})
            count += 1
        frame += round(rng.uniform(*MARKER_GAP) * RATE)
    return markers


# --- the judge of an ending's attack: librosa's onset detector, calibrated ---------------------

ONSET_DELTA = 0.07  # librosa's default peak-picking threshold over the normalised envelope
ONSET_WINDOW = 4.0  # s either side of a boundary the detector reads (its envelope normalised there)
ONSET_LAG_S = 0.0  # the detector's own lag on known attacks; set by `calibrate_onset_judge`


def librosa_onsets(audio: np.ndarray, rate: int) -> np.ndarray:
    """Onset times (s) by `librosa.onset.onset_detect` with its defaults (22.05 kHz mono, hop
    512, spectral-flux envelope normalised over the audio given, `delta` = ONSET_DELTA),
    less the detector's own lag (`ONSET_LAG_S`)."""
    import librosa

    y = mf.mono(audio, rate)
    found = librosa.onset.onset_detect(y=y, sr=mf.FEATURE_RATE, units="time", delta=ONSET_DELTA)
    return np.asarray(found, np.float64) - ONSET_LAG_S


def attack_at(audio: np.ndarray, rate: int, boundary: float) -> float:
    """Seconds from `boundary` to the nearest onset the judge hears within `ONSET_WINDOW` of it
    (inf when none): the detector reads only that window, as a listener around the join."""
    first = max(0, int((boundary - ONSET_WINDOW) * rate))
    window = audio[:, first : int((boundary + ONSET_WINDOW) * rate)]
    found = librosa_onsets(window, rate) + first / rate
    return float(np.min(np.abs(found - boundary))) if len(found) else np.inf


def synthetic_join(
    bpm_out: float,
    bpm_in: float,
    accent_db: float | None,
    shift: float,
    breath: bool,
    rate: int = 44100,
) -> tuple[np.ndarray, float]:
    """An 8 s join with a known boundary (4 s + `shift`), from the bench tests' band music
    (`make_band_music`: kick, snare, hats on the eighths, bass, chords, every attack known).

    No attack of either band lies within a quarter of a beat of the boundary: the outgoing band
    rings out from it (from half a beat before it when `breath`, its next downbeat being the
    boundary) and the incoming one fades in over a beat from it. A button (`accent_db`: kick,
    snare and a chord stab, that many dB from the outgoing band's kick) is then the only
    attack on the boundary; without one (a blind crossfade) whatever the judge finds there,
    it invented."""
    sys.path.insert(0, str(ROOT / "tests" / "align"))
    from align_music import _add, _chord, _kick, _snare, make_band_music

    boundary, n = 4.0 + shift, int(8.0 * rate)
    beat_out, beat_in = 60.0 / bpm_out, 60.0 / bpm_in
    # after a breath the band's next downbeat would be the boundary; otherwise none of its
    # attacks is within a quarter of a beat of it: the button is the only attack there
    phase = 0.0 if breath and accent_db is not None else beat_out / 4
    out = _placed(
        make_band_music(bpm_out, 8.0, rate).mean(axis=0), boundary + phase, beat_out, n, rate
    )
    stop = boundary - (beat_out / 2 if breath and accent_db is not None else 0.0)
    first = int(stop * rate)
    out[first:] *= np.exp(-np.arange(n - first) / (0.15 * rate))
    incoming = _placed(
        make_band_music(bpm_in, 8.0, rate, seed=5).mean(axis=0),
        boundary + beat_in / 4,
        beat_in,
        n,
        rate,
    )
    rise = np.clip((np.arange(n) / rate - boundary) / beat_in, 0, 1)
    mix = out + np.sin(0.5 * np.pi * rise) * incoming
    if accent_db is not None:
        accent = np.zeros(n)
        _add(accent, _kick(rate, 1.0), boundary, rate)
        _add(accent, _snare(rate, np.random.default_rng(3)), boundary, rate)
        _add(accent, 0.25 * _chord(rate, (220.0, 277.2, 329.6), 0.5), boundary, rate)
        kick = float(np.abs(out).max())  # the outgoing band's loudest moment: its kick
        mix += accent * 10 ** (accent_db / 20) * kick / float(np.abs(accent).max())
    return np.stack([mix, mix]).astype(np.float32), boundary


def _placed(music: np.ndarray, beat_at: float, period: float, n: int, rate: int) -> np.ndarray:
    """`music` (beats from 0.25 s every `period`) moved so one of its beats falls at `beat_at`,
    `[n]`, silence where it does not reach."""
    lead = (beat_at - 0.25) % period - period  # a whole number of beats before `beat_at`
    start = int(round(lead * rate))
    out = np.zeros(n)
    source = music[-start:] if start < 0 else music
    offset = max(start, 0)
    count = min(len(source), n - offset)
    out[offset : offset + count] = source[:count]
    return out


def calibrate_onset_judge(shifts_ms=(0, 5, 10, 15, 20)) -> dict:
    """The judge on synthetic joins whose attacks are known: its lag (median onset − attack on
    buttons), its recall within ±1 frame (40 ms) after the lag, by the button's level against
    the music it ends, and how often it finds an attack within ±1 frame of a join that has
    none (two bands crossfading, no beat near the boundary). Sets `ONSET_LAG_S`."""
    global ONSET_LAG_S
    ONSET_LAG_S = 0.0
    found: dict[str, list[float]] = {}
    pairs = ((84.0, 120.0), (112.0, 96.0), (138.0, 72.0))
    for bpm_out, bpm_in in pairs:
        for shift in shifts_ms:
            for level in (None, -24.0, -18.0, -12.0, -6.0, 0.0):
                for breath in (True, False) if level is not None else (False,):
                    audio, boundary = synthetic_join(bpm_out, bpm_in, level, shift / 1000, breath)
                    key = "none" if level is None else f"{level:+.0f} dB"
                    if level is not None:
                        key += ", after a breath" if breath else ", no breath"
                    first = max(0, int((boundary - ONSET_WINDOW) * 44100))
                    window = audio[:, first : int((boundary + ONSET_WINDOW) * 44100)]
                    onsets = librosa_onsets(window, 44100) + first / 44100
                    near = onsets[np.abs(onsets - boundary) <= 0.1] - boundary
                    found.setdefault(key, []).append(
                        float(near[np.argmin(np.abs(near))]) if len(near) else np.inf
                    )
    buttons = [x for k, v in found.items() if not k.startswith("none") for x in v]
    ONSET_LAG_S = float(np.median([x for x in buttons if np.isfinite(x)]))
    print(
        "\n### The attack judge on synthetic joins (librosa onset_detect, delta "
        f"{ONSET_DELTA}, ±{ONSET_WINDOW:g} s windows; 3 tempo pairs × 5 sub-hop shifts)\n"
    )
    print(f"lag (median onset − known attack on buttons): {1000 * ONSET_LAG_S:+.1f} ms\n")
    print("| button against the music it ends | found within ±1 frame (40 ms), after the lag |")
    print("|---|---|")
    rates = {}
    for key, values in found.items():
        hit = np.mean(np.abs(np.array(values) - ONSET_LAG_S) <= FRAME)
        rates[key] = float(hit)
        print(f"| {key} | {hit:.0%} ({len(values)}) |")
    return {"lag_s": ONSET_LAG_S, "rates": rates}


def part_batch(folder: Path, timeline: Path, markers: list[dict]) -> dict:
    from gvmgen.align import detect_clicks

    started = time.perf_counter()
    _, report = score(
        [str(timeline), "--mode", "batch", "--engine", "arranger", "--out", str(folder / "b")]
    )
    seconds = time.perf_counter() - started
    cues = report["cues"]
    audio, track = delivered_track(cues)
    rate = 48000
    rests = [c for c in cues if c.get("silent")]
    rest_wavs = sum(1 for c in rests if c.get("wav"))
    short = [c for c in cues if not c.get("silent") and c["duration"] < 4.0]
    by_frame = {m["frame"]: m for m in markers}
    intensity = [round(f * 10 * 60 * RATE) for f, _ in INTENSITY_MARKERS]
    joins = []
    for prev, cue in itertools.pairwise(cues):
        if prev.get("silent"):
            continue  # an entrance after a rest: no ending there
        b = cue["start"]
        frame = round(b * RATE)
        marker = by_frame.get(frame, {"kind": "rest" if cue.get("silent") else "?", "place": ""})
        row = {
            "from": prev["name"],
            "to": cue["name"],
            "at": b,
            "kind": marker["kind"],
            "place": marker["place"],
            "exempt": marker["kind"] == "cue" or any(abs(frame - f) <= 1 for f in intensity),
            "judge": attack_at(track, rate, b),
            "own": _energy_attack(track, rate, b),
        }
        if not cue.get("silent"):
            row["clicks"] = detect_clicks(
                track[:, int((b - 0.5) * rate) : int((b + 0.5) * rate)], rate
            )
            row["step"] = loudness_step(track, rate, b)
            row["grid"] = beat_continuity(track[:, int((b - 4) * rate) : int((b + 4) * rate)], rate)
        joins.append(row)
    lra = [
        (c["name"], c["duration"], mf.loudness_range(a, rate))
        for c, a in zip(cues, audio, strict=True)
        if a is not None and not c.get("silent") and c["duration"] >= 30
    ]
    print_batch(cues, joins, seconds)
    print(f"cues under 4 s: {len(short)}; rests {len(rests)}, of them with a WAV: {rest_wavs}")
    print(
        "loudness range per cue ≥ 30 s: "
        + ", ".join(f"{n} {d:.0f} s {v:.1f} LU" for n, d, v in lra)
    )
    return {"cues": cues, "lra": lra, "joins": joins, "seconds": seconds}


def delivered_track(cues: list[dict]) -> tuple[list, np.ndarray]:
    """(each cue's WAV or None for a rest, the take's track: each WAV at its start, so rings
    run into rests), 48 kHz."""
    audio = [load(c["wav"])[0] if c.get("wav") else None for c in cues]
    rate = 48000
    length = max(round((c["start"] + c["duration"] + c.get("ring", 0.0)) * rate) for c in cues)
    track = np.zeros((2, length), np.float32)
    for cue, wav in zip(cues, audio, strict=True):
        if wav is not None:
            first = round(cue["start"] * rate)
            track[:, first : first + wav.shape[1]] += wav
    return audio, track


def part_segues_unlevelled(folder: Path, timeline: Path, joins: list[dict]) -> None:
    """The same batch with the segue levelling off (`rendering.segues_in_level` as a no-op, as
    before it): the loudness step at each join where no change was asked, beside the levelled."""
    import gvmgen.rendering as rendering

    kept = rendering.segues_in_level
    rendering.segues_in_level = lambda plan, rendered: rendered
    try:
        args = [str(timeline), "--mode", "batch", "--engine", "arranger"]
        _, report = score([*args, "--out", str(folder / "unlevelled")])
    finally:
        rendering.segues_in_level = kept
    _, track = delivered_track(report["cues"])
    rows = [(j, loudness_step(track, 48000, j["at"])) for j in joins if "step" in j]
    rows = [(j, before) for j, before in rows if not j["exempt"]]
    print("\n### Segues where no change was asked: levelled vs not (same batch, same run)\n")
    print("| join | at s | 3 s loudness step, not levelled | levelled (delivered) |")
    print("|---|---|---|---|")
    for j, before in rows:
        print(f"| {j['from']} → {j['to']} | {j['at']:.2f} | {before:.1f} LU | {j['step']:.1f} LU |")
    before = np.array([b for _, b in rows])
    after = np.array([j["step"] for j, _ in rows])
    print(
        f"\nnot levelled: median {np.median(before):.1f} LU, max {before.max():.1f}, ≤ 3 LU on "
        f"{np.mean(before <= 3):.0%}; levelled: median {np.median(after):.1f} LU, max "
        f"{after.max():.1f}, ≤ 3 LU on {np.mean(after <= 3):.0%} ({len(rows)} joins)"
    )


def _energy_attack(track: np.ndarray, rate: int, boundary: float) -> float:
    """The bench's first detector (an energy rise of 6 dB in 5 ms over the 30 ms before),
    shown beside the judge: seconds from `boundary` to its nearest attack."""
    window = track[:, int((boundary - 4) * rate) : int((boundary + 4) * rate)]
    near = np.abs(onsets(window, rate) - 4.0)
    return float(near.min()) if len(near) else np.inf


def loudness_step(track: np.ndarray, rate: int, boundary: float) -> float:
    """|short-term (3 s) loudness just after `boundary` − just before it|, LU (pyloudnorm's
    K-weighting)."""
    before = mf.short_term_loudness(
        track[:, int((boundary - 3) * rate) : int(boundary * rate)], rate
    )[1]
    after = mf.short_term_loudness(
        track[:, int(boundary * rate) : int((boundary + 3) * rate)], rate
    )[1]
    return abs(float(after[-1] - before[-1])) if len(after) and len(before) else float("nan")


def print_batch(cues: list[dict], joins: list[dict], seconds: float) -> None:
    print(f"\n### Batch: generated 10-minute timeline ({len(cues)} cues, {seconds:.0f} s)\n")
    print(
        "| join | at s | starts the next cue | the marker | button: judge's attack from "
        "the boundary | energy-rise detector | clicks | 3 s loudness step | beat grid |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for j in joins:
        print(
            f"| {j['from']} → {j['to']} | {j['at']:.2f} | {j['kind']} | {j['place']} "
            f"| {1000 * j['judge']:.0f} ms | {1000 * j['own']:.0f} ms | {j.get('clicks', '')} "
            f"| {j.get('step', float('nan')):.1f} LU | {j.get('grid', '')} |"
        )
    music = [j for j in joins if "step" in j]
    on = np.array([j["judge"] <= FRAME for j in joins])
    own = np.array([j["own"] <= FRAME for j in joins])
    into_music = np.array([j in music for j in joins])
    print(
        f"\nbutton on the boundary (judge: an onset within ±1 frame, {1000 * FRAME:.0f} ms, "
        f"after its lag): {on.mean():.1%} of {len(joins)} in-batch endings "
        f"({on[into_music].sum()}/{into_music.sum()} into the next cue, "
        f"{on[~into_music].sum()}/{(~into_music).sum()} into a rest); the energy-rise "
        f"detector: {own.mean():.1%}"
    )
    for label, pick in (
        ("not exempt (tempo markers)", lambda j: not j["exempt"]),
        ("exempt (cue or intensity marker)", lambda j: j["exempt"]),
    ):
        steps = np.array([j["step"] for j in music if pick(j)])
        if len(steps):
            print(
                f"loudness step, {label}: {len(steps)} joins, median {np.median(steps):.1f} LU, "
                f"max {steps.max():.1f}, ≤ 3 LU on {np.mean(steps <= 3.0):.0%}"
            )
    print(
        f"clicks {sum(j['clicks'] for j in music)}; beat grid continuous or changing at the "
        f"join: {np.mean([j['grid'] != 'broken' for j in music]):.0%} of {len(music)}"
    )


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


def part_same_plan(folder: Path, timeline: Path, batch_cues: list[dict], markers: list[dict]):
    """A range over the section between two markers plans the cues the batch planned there."""
    first, following = markers[5], markers[6]
    start_f, end_f = first["frame"], following["frame"]
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
    print(
        f"\nbatch and range plan the same cues over {first['name']!r} … {following['name']!r}: "
        f"{same} ({len(batch)} cue(s))"
    )
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


def in_tree(root: str, task: str, clips: list[str], variant: str = ""):
    env = {**os.environ, "CUE_BENCH_ROOT": root, "PYTHONPATH": root}
    command = [sys.executable, __file__, "--worker", task, "--clips-list", *clips]
    command += ["--variant", variant] if variant else []
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def exported(rev: str) -> str:
    """`rev`'s tree in a temporary folder (removed when the bench exits)."""
    folder = tempfile.mkdtemp(prefix=f"cue-bench-{rev}-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
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


def part_speed(baselines: list[str], rounds: int = 3) -> None:
    load_before = os.getloadavg()[0]
    trees = {"this code": str(ROOT)}
    trees.update({rev: exported(rev) for rev in baselines})
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
    for rev in baselines:
        ratio = np.median(speeds["this code"]) / np.median(speeds[rev])
        print(f"- ratio this code / {rev}: {ratio:.2f}")


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
    parser.add_argument(
        "--baseline",
        default="",
        help="git revision(s) of earlier code to compare with, comma-separated (speed and sync "
        "run every one; takes and timbre the first)",
    )
    parser.add_argument("--parts", default="clips,batch,takes,timbre,gvmgen-endings,speed,sync")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--clips-list", nargs="*", default=[], help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sync-variants",
        default="",
        help=f"experiments beside this code in the sync part: {', '.join(SYNC_VARIANTS)}",
    )
    args = parser.parse_args()
    if args.worker == "sync":
        print(json.dumps(sync_worker(args.clips_list, args.variant)))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.clips_list)))
        return 0
    clips = sorted(glob.glob(f"{args.clips}/*.mp4"))
    parts = set(args.parts.split(","))
    baselines = [rev for rev in args.baseline.split(",") if rev]
    print(f"cue bench: {len(clips)} clips, baseline {args.baseline}, load {os.getloadavg()[0]:.1f}")
    if "clips" in parts:
        part_clips(clips)
    if "batch" in parts:
        with tempfile.TemporaryDirectory() as folder:
            timeline, markers = make_timeline(Path(folder))
            calibrate_onset_judge()
            batch = part_batch(Path(folder), timeline, markers)
            part_segues_unlevelled(Path(folder), timeline, batch["joins"])
            part_same_plan(Path(folder), timeline, batch["cues"], markers)
    if "takes" in parts:
        part_takes(clips, baselines[0] if baselines else None)
    if "timbre" in parts:
        part_timbre(clips, baselines[0] if baselines else None)
        stems_residual()
    if "gvmgen-endings" in parts:
        part_gvmgen_endings(clips)
    if "speed" in parts:
        part_speed(baselines)
    if "sync" in parts:
        part_sync(clips, baselines, [v for v in args.sync_variants.split(",") if v])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
