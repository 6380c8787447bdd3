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
  mood      a `mood sombre` cue with a `mood driving` marker mid-clip: where the music changes
            (the largest jump of a 1 s spectral-centroid curve) against the marker's nearest
            downbeat in the delivered audio (madmom's downbeat-free beats, bar = 4 beats from
            the cue start as composed).
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
