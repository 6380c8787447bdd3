"""The editor's controls, judged on delivered audio by judges that are not the product's.

    .venv/bin/python bench/controls_bench.py [--clips DIR] [--only vad,preview,...] [--json FILE]

Sections (each prints a table; `--only` picks some):
  vad       silero-vad (shipped) beside webrtcvad (the light alternative) on the speech fixture
            alone and under a music bed (each shared clip's own music at +12/+6/0 dB SNR), and on
            the shared clips' music alone (false alarms): frame F1 at 10 ms, share of non-speech
            marked speech, and seconds per minute of audio.
  intensity `gvmgen score CLIP --engine arranger --intensity 2` vs `--intensity 8` on every
            shared clip: librosa onset density and spectral centroid of the delivered track
            (8 should be higher on both, on every clip), pyloudnorm integrated loudness of each.
  marker    an `intensity 2` → `intensity 8` marker mid-clip: pyloudnorm short-term loudness
            (3 s) before and after the marker's nearest downbeat (target: a step ≥ 3 LU), and
            the cue's integrated loudness (target: on the -16 LUFS target).
  tempo     `--tempo 96` with the arranger: median tempo by librosa's default tracker and by
            madmom (RNN + DBN) on the delivered track (target 96 ± 2 BPM by both).
  mood      a `mood sombre` cue with a `mood driving` marker at 7.3 s, against the same cue
            without it, judged twice against madmom's downbeat nearest the marker: where the
            delivered waveforms part (and the arranger's render before the warp, as composed),
            and where they first sound different beat by beat (bench/heard_change.py: per-beat
            log-mel and chroma at matching madmom beats, thresholds calibrated on the same
            render restretched by ±1.5-2 % and checked against a whole other mood).
  duck      a timeline of a shared clip with the speech fixture on A1 at 3 s: the ducked WAV
            against the clean one, gain per 10 ms: median under speech, outside speech, and the
            steepest gain step against the attack's (depth / 150 ms).
  preview   `--preview` on a 2-minute timeline of the shared clips (8 × 15 s): render time as ×
            real time, beside PyAV decoding the same media (every frame, no encode).

Configuration of every figure is printed with it (threads, `uptime` load); the machine is
shared, so read the ratios of one run.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "controls"))

SHARED = ROOT.parent.parent / "shared" / "media" / "real"
SECTIONS = ("vad", "intensity", "marker", "tempo", "mood", "duck", "preview")
FRAME = 0.01


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


# ---- vad ---------------------------------------------------------------------------------


def _webrtc(x16: np.ndarray, mode: int = 3) -> list[tuple[float, float]]:
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    pcm = (np.clip(x16, -1, 1) * 32767).astype("<i2")
    step, out = 480, []
    for i in range(0, len(pcm) - step, step):
        if vad.is_speech(pcm[i : i + step].tobytes(), 16000):
            out.append((i / 16000, (i + step) / 16000))
    return out


def _frames(regions, n: int) -> np.ndarray:
    mask = np.zeros(n, bool)
    for start, end in regions:
        mask[int(start / FRAME) : int(end / FRAME)] = True
    return mask


def _f1(pred, truth, n: int) -> tuple[float, float]:
    p, t = _frames(pred, n), _frames(truth, n)
    tp = (p & t).sum()
    precision, recall = tp / max(p.sum(), 1), tp / max(t.sum(), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return float(f1), float(p[~t].mean())


def bench_vad(clips: list[Path]) -> dict:
    from controls_fixtures import SPEECH_REGIONS, read_speech

    from gvmgen.media.audio import load_audio
    from gvmgen.media.dialogue import find_speech

    speech, rate = read_speech()
    speech = speech[0]
    n = len(speech) // int(FRAME * rate)
    find_speech(speech[None], rate)  # load the model once, outside the timing
    rows = {"silero": {}, "webrtc": {}}
    seconds = {"silero": 0.0, "webrtc": 0.0}
    audio_seconds = 0.0
    voiced = np.abs(speech) > 1e-3
    level = np.sqrt(np.mean(speech[voiced] ** 2))
    for snr in (None, 12, 6, 0):
        scores = {"silero": [], "webrtc": []}
        for clip in clips if snr is not None else clips[:1]:
            mix = speech.copy()
            if snr is not None:
                bed, _ = load_audio(clip, rate, 1)
                bed = np.resize(bed[0], len(speech))
                mix = speech + bed * (level / np.sqrt(np.mean(bed**2))) * 10 ** (-snr / 20)
            began = time.perf_counter()
            found = [r.as_tuple() for r in find_speech(mix[None], rate)]
            seconds["silero"] += time.perf_counter() - began
            began = time.perf_counter()
            light = _webrtc(mix)
            seconds["webrtc"] += time.perf_counter() - began
            audio_seconds += len(mix) / rate
            scores["silero"].append(_f1(found, SPEECH_REGIONS, n))
            scores["webrtc"].append(_f1(light, SPEECH_REGIONS, n))
        name = "clean" if snr is None else f"music bed, SNR {snr:+d} dB"
        for vad in rows:
            f1s, fars = zip(*scores[vad], strict=True)
            rows[vad][name] = {"f1": round(min(f1s), 3), "false_alarm": round(max(fars), 3)}
    alarms = {"silero": [], "webrtc": []}
    for clip in clips:
        music, _ = load_audio(clip, 16000, 1)
        length = music.shape[1] / 16000
        alarms["silero"].append(sum(r.end - r.start for r in find_speech(music, 16000)) / length)
        alarms["webrtc"].append(sum(e - s for s, e in _webrtc(music[0])) / length)
    for vad in rows:
        rows[vad]["music only: share marked speech (worst clip)"] = round(max(alarms[vad]), 3)
        rows[vad]["seconds per minute of audio"] = round(60 * seconds[vad] / audio_seconds, 3)
    print(f"\n## vad (worst over {len(clips)} clips; torch threads {_threads()}, load {load()})")
    for vad, row in rows.items():
        print(f"  {vad:7s} {json.dumps(row)}")
    return rows


def _threads() -> int:
    import torch

    return torch.get_num_threads()


# ---- preview -------------------------------------------------------------------------------


def _two_minute_timeline(clips: list[Path], folder: Path) -> tuple[Path, float]:
    """The shared clips end to end (first 15 s of each, at 24 fps timeline rate)."""
    import opentimelineio as otio

    from gvmgen.media.video import probe

    rate = 24.0
    track = otio.schema.Track(name="V1")
    seconds = 0.0
    for clip in clips:
        info = probe(clip)
        frames = int(min(15.0, info.duration - 0.1) * rate)
        source = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
        )
        ref = otio.schema.ExternalReference(target_url=str(clip))
        track.append(otio.schema.Clip(name=clip.stem, media_reference=ref, source_range=source))
        seconds += frames / rate
    timeline = otio.schema.Timeline(name="two minutes")
    timeline.tracks.append(track)
    path = folder / "two_minutes.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path, seconds


def _decode_all(clips: list[Path]) -> float:
    """PyAV decoding every frame of the same media (threaded), the baseline."""
    import av

    began = time.perf_counter()
    for clip in clips:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                pass
    return time.perf_counter() - began


def bench_preview(clips: list[Path]) -> dict:
    from gvmgen.media.preview import render_timeline_preview
    from gvmgen.timeline import read_edit

    with tempfile.TemporaryDirectory() as tmp:
        path, seconds = _two_minute_timeline(clips, Path(tmp))
        edit = read_edit(path)
        music = np.zeros((2, round(seconds * 48_000)), np.float32)
        decode = _decode_all(clips)
        began = time.perf_counter()
        render_timeline_preview(edit, music, 48_000, Path(tmp) / "preview.mp4")
        render = time.perf_counter() - began
    row = {
        "timeline_seconds": round(seconds, 1),
        "preview_x_realtime": round(seconds / render, 2),
        "pyav_decode_x_realtime": round(seconds / decode, 2),
        "preview_over_decode": round(render / decode, 2),
    }
    print(f"\n## preview ({len(clips)} clips, libx264 veryfast crf 23, load {load()})")
    print(f"  {json.dumps(row)}")
    return row


# ---- the product's controls (gvmgen score) -------------------------------------------------


def score(
    input_path: Path, out: Path, *flags: str, timeout: float = 900
) -> dict:  # pragma: no cover - bench
    """`gvmgen score INPUT --out OUT FLAGS --json`: the product as a user runs it."""
    command = [sys.executable, "-m", "gvmgen.cli", "score", str(input_path), "--out", str(out)]
    done = subprocess.run(
        [*command, *flags, "--json"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command + list(flags))}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def _track(result: dict) -> tuple[np.ndarray, int]:
    """The placed take's delivered track (its cue WAVs end to end) and whether it is ducked."""
    import soundfile as sf

    parts = [sf.read(c["wav"], dtype="float32", always_2d=True)[0].T for c in result["cues"]]
    return np.concatenate(parts, axis=1), 48_000


def _clean_track(result: dict) -> np.ndarray:
    import soundfile as sf

    parts = [
        sf.read(c.get("clean_wav") or c["wav"], dtype="float32", always_2d=True)[0].T
        for c in result["cues"]
    ]
    return np.concatenate(parts, axis=1)


def _mono22(audio: np.ndarray, rate: int) -> np.ndarray:
    from gvmgen.media.audio import resample

    return resample(audio.mean(axis=0, keepdims=True), rate, 22_050)[0]


def _onsets_centroid(audio: np.ndarray, rate: int) -> tuple[float, float]:
    import librosa

    mono = _mono22(audio, rate)
    onsets = librosa.onset.onset_detect(y=mono, sr=22_050, units="time")
    centroid = float(np.mean(librosa.feature.spectral_centroid(y=mono, sr=22_050)))
    return len(onsets) / (len(mono) / 22_050), centroid


def _lufs(audio: np.ndarray, rate: int) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(rate).integrated_loudness(audio.T.astype(np.float64)))


def _timeline(clip: Path, folder: Path, markers=(), speech_at: float | None = None) -> Path:
    """A one-clip OTIO timeline of `clip` at 24 fps (its first 15 s), with markers
    `[(seconds, name)]` and, optionally, the speech fixture on A1 from `speech_at` seconds."""
    import opentimelineio as otio
    from controls_fixtures import SPEECH_WAV

    from gvmgen.media.video import probe

    rate = 24.0
    frames = int(min(15.0, probe(clip).duration - 0.1) * rate)

    def rt(value):
        return otio.opentime.RationalTime(value, rate)

    timeline = otio.schema.Timeline(name=clip.stem)
    video = otio.schema.Track(name="V1")
    video.append(
        otio.schema.Clip(
            name=clip.stem,
            media_reference=otio.schema.ExternalReference(target_url=str(clip)),
            source_range=otio.opentime.TimeRange(rt(0), rt(frames)),
        )
    )
    timeline.tracks.append(video)
    if speech_at is not None:
        audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        lead = int(speech_at * rate)
        audio.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), rt(lead))))
        audio.append(
            otio.schema.Clip(
                name="dialogue",
                media_reference=otio.schema.ExternalReference(target_url=str(SPEECH_WAV)),
                source_range=otio.opentime.TimeRange(rt(0), rt(min(250, frames - lead))),
            )
        )
        timeline.tracks.append(audio)
    for seconds, name in markers:
        marked = otio.opentime.TimeRange(rt(round(seconds * rate)), rt(1))
        timeline.tracks.markers.append(otio.schema.Marker(name=name, marked_range=marked))
    path = folder / f"{clip.stem}-{len(list(folder.iterdir()))}.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def bench_intensity(clips: list[Path]) -> dict:
    rows, right = {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            row = {}
            for level in (2, 8):
                out = Path(tmp) / f"{clip.stem}-{level}"
                result = score(clip, out, "--engine", "arranger", "--intensity", str(level))
                audio, rate = _track(result)
                onsets, centroid = _onsets_centroid(audio, rate)
                row[level] = {
                    "onsets_per_s": round(onsets, 2),
                    "centroid_hz": round(centroid),
                    "lufs": round(_lufs(audio, rate), 2),
                }
            ok = (
                row[8]["onsets_per_s"] > row[2]["onsets_per_s"]
                and row[8]["centroid_hz"] > row[2]["centroid_hz"]
            )
            right += ok
            rows[clip.stem] = {**{str(k): v for k, v in row.items()}, "right_direction": ok}
    print(f"\n## intensity 2 vs 8, arranger (librosa onsets and centroid; load {load()})")
    for name, row in rows.items():
        print(f"  {name:8s} {json.dumps(row)}")
    print(f"  right direction on both: {right}/{len(clips)} clips")
    return {"clips": rows, "right_direction": f"{right}/{len(clips)}"}


def _short_term(audio: np.ndarray, rate: int, start: float) -> float:
    first = max(0, round(start * rate))
    return _lufs(audio[:, first : first + 3 * rate], rate)


def bench_marker(clips: list[Path]) -> dict:
    """An `intensity 2` start and an `intensity 8` marker at 7.3 s on each clip."""
    from judges import madmom_beats

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            path = _timeline(clip, Path(tmp), markers=[(7.3, "intensity 8")])
            out = Path(tmp) / f"{clip.stem}-marker"
            result = score(path, out, "--engine", "arranger", "--intensity", "2")
            audio, rate = _track(result)
            beats = madmom_beats(audio, rate)
            # the change happens at the downbeat nearest 7.3 s: judge 3 s either side of the
            # beat madmom hears nearest the marker
            at = float(beats[np.argmin(np.abs(beats - 7.3))]) if len(beats) else 7.3
            before, after = _short_term(audio, rate, at - 3.2), _short_term(audio, rate, at + 0.2)
            cue_lufs = [c["loudness_lufs"] for c in result["cues"] if not c["silent"]]
            rows[clip.stem] = {
                "short_term_before": round(before, 2),
                "short_term_after": round(after, 2),
                "step_lu": round(after - before, 2),
                "integrated": round(_lufs(audio, rate), 2),
                "cues_report_lufs": cue_lufs,
            }
    steps = [r["step_lu"] for r in rows.values()]
    print(f"\n## intensity marker 2 -> 8 at 7.3 s (pyloudnorm, 3 s windows; load {load()})")
    for name, row in rows.items():
        print(f"  {name:8s} {json.dumps(row)}")
    print(f"  smallest step {min(steps):.2f} LU, median {np.median(steps):.2f} LU (target >= 3)")
    return {"clips": rows, "smallest_step_lu": min(steps)}


def bench_tempo(clips: list[Path]) -> dict:
    from judges import librosa_beats, madmom_beats

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            out = Path(tmp) / f"{clip.stem}-96"
            result = score(clip, out, "--engine", "arranger", "--tempo", "96")
            audio, rate = _track(result)
            tempos = {}
            for judge, beats in (
                ("librosa", librosa_beats(audio, rate)),
                ("madmom", madmom_beats(audio, rate)),
            ):
                tempos[judge] = round(60.0 / float(np.median(np.diff(beats))), 2)
            tempos["report"] = [c["tempo"] for c in result["cues"] if not c["silent"]]
            tempos["within_2"] = all(abs(tempos[j] - 96) <= 2 for j in ("librosa", "madmom"))
            rows[clip.stem] = tempos
    ok = sum(r["within_2"] for r in rows.values())
    print(f"\n## --tempo 96, arranger (median inter-beat interval; load {load()})")
    for name, row in rows.items():
        print(f"  {name:8s} {json.dumps(row)}")
    print(f"  96 +/- 2 BPM by both trackers: {ok}/{len(clips)} clips")
    return {"clips": rows, "within_2": f"{ok}/{len(clips)}"}


def _downbeats(audio: np.ndarray, rate: int) -> np.ndarray:
    """madmom's downbeats (RNN + DBN, 4/4): bench only, its models are CC BY-NC-SA."""
    from judges import _import_madmom, _signal

    _import_madmom()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    activations = RNNDownBeatProcessor()(_signal(audio, rate))
    found = DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=100)(activations)
    return found[found[:, 1] == 1, 0] if len(found) else np.zeros(0)


def _divergence(a: np.ndarray, b: np.ndarray, rate: int) -> float:
    """Where two renders of one cue part: the first 50 ms frame from which their difference
    stays above a tenth of the music for half a second (b scaled to a on their first 2 s: the
    mix's peak and the levelling set one gain over each whole cue)."""
    n = int(0.05 * rate)
    length = min(a.shape[1], b.shape[1]) // n * n
    a, b = a[:, :length].mean(axis=0), b[:, :length].mean(axis=0)
    head = slice(0, 2 * rate)
    b = b * float(np.dot(a[head], b[head]) / max(np.dot(b[head], b[head]), 1e-12))
    frames = length // n
    diff = np.sqrt(((a - b) ** 2).reshape(frames, n).mean(axis=1))
    level = np.sqrt((a**2).reshape(frames, n).mean(axis=1)) + 1e-9
    apart = diff > 0.1 * level
    run = 10  # frames: 0.5 s
    for i in range(frames - run):
        if apart[i : i + run].all():
            return i * n / rate
    return float("nan")


def _renders(clip: Path, folder: Path) -> dict:
    """The delivered tracks of `--mood sombre` with the `mood driving` marker at 7.3 s
    ("marked"), without it ("plain"), and `--mood driving` without it ("driving")."""
    marked = _timeline(clip, folder, markers=[(7.3, "mood driving")])
    plain = _timeline(clip, folder)
    tracks = {}
    for name, path, mood in (
        ("marked", marked, "sombre"),
        ("plain", plain, "sombre"),
        ("driving", plain, "driving"),
    ):
        out = folder / f"{clip.stem}-{name}"
        result = score(path, out, "--engine", "arranger", "--mood", mood, "--no-duck")
        tracks[name] = _track(result)[0]
        if name == "marked":
            tracks["tempo"] = result["cues"][0]["tempo"]
    return tracks


def _heard(tracks: dict) -> dict:
    """Beat-synchronous distances (bench/heard_change.py) from the plain render to the marked
    one, to a whole other mood, and to the plain render itself restretched twice (identical
    music: ±1.5 % over 2.5 s pieces at −0.7 dB, and ±2 % over 3 s pieces at +0.5 dB)."""
    from heard_change import beat_distances, restretched
    from judges import madmom_beats

    plain, rate = tracks["plain"], 48_000
    beats = madmom_beats(plain, rate)
    return {
        "marker": beat_distances(plain, tracks["marked"], rate, beats),
        "mood": beat_distances(plain, tracks["driving"], rate, beats),
        "restretch_a": beat_distances(plain, restretched(plain, rate), rate, beats),
        "restretch_b": beat_distances(
            plain, restretched(plain, rate, (0.98, 1.02), 3.0, 0.5), rate, beats
        ),
        "period": float(np.median(np.diff(beats))),
    }


def bench_mood(clips: list[Path]) -> dict:
    """`--mood sombre` with and without a `mood driving` marker at 7.3 s: where the two
    delivered tracks part (waveform judge) and where they start to sound different (heard
    judge), against the downbeat madmom hears nearest the marker."""
    rows, heard = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            tracks = _renders(clip, Path(tmp))
            audio, other = tracks["marked"], tracks["plain"]
            parted = _divergence(audio, other, 48_000)
            downbeats = _downbeats(audio, 48_000)
            nearest = float(downbeats[np.argmin(np.abs(downbeats - 7.3))]) if len(downbeats) else 0
            period = 60.0 / max(tracks["tempo"], 1.0)
            composed, composed_downbeats = _composed_parting(clip)
            composed_downbeat = float(
                composed_downbeats[np.argmin(np.abs(composed_downbeats - 7.3))]
            )
            heard[clip.stem] = _heard(tracks)
            rows[clip.stem] = {
                "tracks_part_s": round(parted, 2),
                "downbeat_nearest_marker_s": round(nearest, 2),
                "off_by_beats": round(abs(parted - nearest) / period, 2),
                "composed_part_s": round(composed, 2),
                "composed_downbeat_s": round(composed_downbeat, 2),
                # madmom assumes 4-beat bars; the arranger's bars follow the cuts (2-4 beats)
                "madmom_downbeats_s": [round(float(t), 2) for t in downbeats],
                "composed_downbeats_s": [round(float(t), 2) for t in composed_downbeats],
            }
    print(f"\n## mood marker sombre -> driving at 7.3 s (where the tracks part; load {load()})")
    for name, row in rows.items():
        print(f"  {name:8s} {json.dumps(row)}")
    within = sum(r["off_by_beats"] <= 0.5 for r in rows.values())
    composed = sum(
        abs(r["composed_part_s"] - r["composed_downbeat_s"]) <= 0.05 for r in rows.values()
    )
    print(f"  parted within half a beat of the downbeat: {within}/{len(clips)} clips")
    print(
        f"  as composed (the arranger's render before the warp to the cuts), parted on the "
        f"composed downbeat nearest the marker (±50 ms): {composed}/{len(clips)} clips"
    )
    return {
        "clips": rows,
        "within_half_a_beat": f"{within}/{len(clips)}",
        "composed_at_downbeat": f"{composed}/{len(clips)}",
        "heard": _heard_judge(heard, rows),
    }


def _heard_judge(heard: dict, rows: dict) -> dict:
    """Thresholds from the first restretch (identical music), checked on the second (must read
    no change) and on a whole other mood (must read change from the first beat); then the
    first beat of the marked render that sounds different, against the downbeats."""
    from heard_change import MATCH, changed, first_change, thresholds

    limits = thresholds([h["restretch_a"] for h in heard.values()])
    out = {}
    for name, h in heard.items():
        start, end = first_change(h["marker"], limits)
        mood = changed(h["mood"], limits)
        downbeat = rows[name]["downbeat_nearest_marker_s"]
        composed = rows[name]["composed_downbeat_s"]
        out[name] = {
            "changes_from_beat_s": [round(start, 2), round(end, 2)],
            "downbeat_nearest_marker_s": downbeat,
            "off_by_beats": round((start - downbeat) / h["period"], 2),
            "at_downbeat": bool(start - MATCH <= downbeat < end),
            "at_composed_downbeat": bool(start - MATCH <= composed < end),
            "largest_before_change": _largest_before(h["marker"], start),
            "restretch_b_beats_changed": int(changed(h["restretch_b"], limits).sum()),
            "restretch_b_largest": _largest_before(h["restretch_b"], np.inf),
            "other_mood_first_change_s": round(first_change(h["mood"], limits)[0], 2),
            "other_mood_share_changed": round(float(mood.mean()), 2),
        }
    at = sum(r["at_downbeat"] for r in out.values())
    at_composed = sum(r["at_composed_downbeat"] for r in out.values())
    calm = sum(r["restretch_b_beats_changed"] == 0 for r in out.values())
    print(
        f"\n## heard judge: per-beat log-mel ({limits['mel_db']:.2f} dB) and chroma "
        f"({limits['chroma']:.4f}) thresholds = 2 x the largest distance over restretch A "
        f"(identical music, ±1.5 % per 2.5 s piece); load {load()}"
    )
    for name, row in out.items():
        print(f"  {name:8s} {json.dumps(row)}")
    print(f"  restretch B (±2 % per 3 s, identical music) reads no change: {calm}/{len(out)}")
    print(f"  first changed beat holds madmom's downbeat nearest the marker: {at}/{len(out)}")
    print(f"  ... holds the composed downbeat nearest the marker: {at_composed}/{len(out)}")
    return {
        "thresholds": {k: round(v, 4) for k, v in limits.items()},
        "clips": out,
        "restretch_b_no_change": f"{calm}/{len(out)}",
        "at_downbeat": f"{at}/{len(out)}",
        "at_composed_downbeat": f"{at_composed}/{len(out)}",
    }


def _largest_before(distances: dict, until: float) -> dict:
    """The largest per-beat distances on beats that start before `until` s."""
    before = distances["beats"] < until - 1e-9
    if not before.any():
        return {"mel_db": None, "chroma": None}
    return {
        "mel_db": round(float(distances["mel_db"][before].max()), 2),
        "chroma": round(float(distances["chroma"][before].max()), 4),
    }


def _composed_parting(clip: Path) -> tuple[float, np.ndarray]:
    """Where the arranger's own render of the clip (before the pipeline warps it to the cuts)
    with the `mood driving` marker parts from the one without, and its composed downbeats: the
    composition alone, without the aligner's stretch of each piece between two cuts (a piece
    across the marker is stretched by the beats heard after it)."""
    from dataclasses import replace

    from gvmgen.analysis import analyze_edit, load_edit
    from gvmgen.conditioning import cue_conditioning
    from gvmgen.controls import ControlChange, Controls, CueControls
    from gvmgen.engines.arranger import ArrangerEngine

    analysis = analyze_edit(load_edit(str(clip)), clip, "video")
    cue = cue_conditioning(analysis, 0.0, analysis.duration)
    sombre = Controls(mood="sombre")
    change = ControlChange(7.3, "mood", "driving", "mood driving")
    engine = ArrangerEngine(48000)
    audio, score = engine.generate_with_score(
        replace(cue, controls=CueControls(sombre, (change,))), 0
    )
    alone = engine.generate(replace(cue, controls=CueControls(sombre)), 0)
    return _divergence(audio, alone, 48000), np.asarray(score.downbeat_times, dtype=np.float64)


def gain_curve(ducked: np.ndarray, clean: np.ndarray, rate: int) -> np.ndarray:
    """The gain (dB) between the two copies every 10 ms: the median of their sample ratio where
    the clean music is clearly above the 24-bit floor (an RMS ratio would smear a transient's
    place inside a frame into a false step of up to twice the true one)."""
    import warnings

    n = int(FRAME * rate)
    frames = min(ducked.shape[1], clean.shape[1]) // n
    d = ducked[:, : frames * n].reshape(2, frames, n).transpose(1, 0, 2).reshape(frames, -1)
    c = clean[:, : frames * n].reshape(2, frames, n).transpose(1, 0, 2).reshape(frames, -1)
    loud = np.abs(c) > 1e-3
    ratio = np.where(loud, d / np.where(loud, c, 1.0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gain = np.nanmedian(ratio, axis=1)
    known = np.isfinite(gain)
    gain = np.interp(np.arange(frames), np.flatnonzero(known), gain[known])
    return 20 * np.log10(np.clip(gain, 1e-6, None))


def bench_duck(clips: list[Path]) -> dict:
    """The speech fixture on A1 from 3 s: the placed (ducked) track against the clean one."""
    from controls_fixtures import SPEECH_REGIONS

    from gvmgen.align.ducking import ATTACK

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips[:4]:
            path = _timeline(clip, Path(tmp), speech_at=3.0)
            out = Path(tmp) / f"{clip.stem}-duck"
            result = score(path, out, "--engine", "arranger")
            ducked, rate = _track(result)
            gain = gain_curve(ducked, _clean_track(result), rate)
            count = len(gain)
            times = np.arange(count) * FRAME
            under = np.zeros(count, bool)
            far = np.ones(count, bool)
            for start, end in SPEECH_REGIONS:
                under |= (times >= start + 3.0) & (times < end + 3.0)
                far &= (times < start + 2.0) | (times > end + 4.0)
            steepest = float(np.abs(np.diff(gain)).max())
            rows[clip.stem] = {
                "regions_found": result.get("dialogue"),
                "median_gain_under_speech_db": round(float(np.median(gain[under])), 2),
                "max_gain_away_from_speech_db": round(float(np.abs(gain[far]).max()), 2),
                "steepest_step_db_per_10ms": round(steepest, 3),
                "attack_limit_db_per_10ms": round(10.0 * FRAME / ATTACK, 3),
            }
    print(f"\n## ducking -10 dB under the speech fixture (gain per 10 ms; load {load()})")
    for name, row in rows.items():
        print(f"  {name:8s} {json.dumps(row)}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=SHARED)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clips = sorted(Path(p) for p in glob.glob(str(args.clips / "*.mp4")))
    if not clips:
        print(f"no clips in {args.clips}", file=sys.stderr)
        return 2
    print(f"controls bench: {len(clips)} clips, {os.cpu_count()} cores, load {load()}")
    results = {}
    for name in args.only.split(","):
        results[name] = globals()[f"bench_{name}"](clips)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
