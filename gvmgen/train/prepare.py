"""`gvmgen train prepare`: pairs of picture and music → aligned training windows on disk.

Each window takes its frames and its music from the **same** start time (the official scripts
crop audio at a random offset of up to 4.4 s while the frames always start at 0). Frames are
sampled at 1 fps by timestamp (`gvmgen.media.video.sample_frames`); music is decoded at the
codec rate, placed on the video's clock (audio and video stream start times differ in some
files), and encoded to EnCodec codes. With `cache_clip` the frozen CLIP outputs are stored
instead of pixels: they dominate the cost of a training step and never change.

Layout and resume rules: `gvmgen.train.dataset`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gvmgen.errors import GVMGenError, InputError, MediaError
from gvmgen.train import dataset as ds
from gvmgen.train.sources import Pair, Skipped, find_pairs

SILENCE_RMS = 1e-4  # ≈ −80 dBFS: below this a window (or a whole item) counts as silent
CLIP_CHUNK = 32  # frames per CLIP pass when caching


@dataclass
class PrepareOptions:
    window_seconds: float = 30.0
    stride_seconds: float | None = None  # None: windows end to end
    fps: float = 1.0
    cache_clip: bool = False

    def validate(self) -> None:
        if self.window_seconds <= 0 or self.fps <= 0:
            raise InputError(
                f"--window and --fps must be positive, got {self.window_seconds}, {self.fps}"
            )
        if self.stride_seconds is not None and self.stride_seconds <= 0:
            raise InputError(f"--stride must be positive, got {self.stride_seconds}")
        frames = self.window_seconds * self.fps
        if abs(frames - round(frames)) > 1e-6:
            raise InputError(f"--window × --fps must be a whole number of frames, got {frames}")

    @property
    def stride(self) -> float:
        return self.stride_seconds or self.window_seconds

    @property
    def frames_per_window(self) -> int:
        return int(round(self.window_seconds * self.fps))


@dataclass
class PrepareSummary:
    items: int = 0
    prepared: int = 0
    resumed: int = 0  # finished by an earlier run
    windows: int = 0
    silent_windows: int = 0
    skipped: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "items": self.items, "prepared": self.prepared, "resumed": self.resumed,
            "windows": self.windows, "silent_windows": self.silent_windows,
            "skipped": len(self.skipped), "seconds": round(self.seconds, 2),
        }  # fmt: skip


ProgressFn = Callable[[float, str], None]


def prepare(
    src: str | Path,
    out: str | Path,
    model,
    options: PrepareOptions,
    progress: ProgressFn | None = None,
) -> PrepareSummary:
    """Prepare every pair in `src` into `out` with `model`'s frozen EnCodec (and CLIP)."""
    from gvmgen.train.presets import model_fingerprint

    options.validate()
    started = time.monotonic()
    out = Path(out).expanduser()
    pairs, skipped = find_pairs(src)
    meta = _dataset_meta(model, options, str(src), model_fingerprint(model))
    _check_or_write_meta(out, meta)
    done = {row["item"] for row in ds.read_jsonl(out / ds.INDEX_FILE)}
    done |= {row["item"] for row in ds.read_jsonl(out / ds.SKIPPED_FILE)}
    summary = PrepareSummary(items=len(pairs) + len(skipped))
    for entry in skipped:
        _skip(out, entry, summary, done)
    for number, pair in enumerate(pairs):
        _report(progress, number / max(1, len(pairs)), f"prepare: {pair.name}")
        if pair.name in done:
            summary.resumed += 1
            continue
        _prepare_pair(out, pair, model, options, summary, done)
    summary.windows = sum(int(r["windows"]) for r in ds.read_jsonl(out / ds.INDEX_FILE))
    summary.skipped = ds.read_jsonl(out / ds.SKIPPED_FILE)
    summary.seconds = time.monotonic() - started
    ds.write_meta(out, dict(meta, summary=summary.to_dict()))
    _report(progress, 1.0, "prepare: done")
    return summary


def _prepare_pair(out, pair: Pair, model, options, summary, done) -> None:
    try:
        windows, silent = pair_windows(pair, model, options)
    except (GVMGenError, OSError, ValueError) as error:  # bad media, never a bug in here
        _skip(out, Skipped(pair.name, str(pair.video), _reason(error)), summary, done)
        return
    summary.silent_windows += silent
    if not windows:
        _skip(
            out,
            Skipped(pair.name, str(pair.video), "silent: every window is silent"),
            summary,
            done,
        )
        return
    shard = ds.write_shard(out, pair.name, windows)
    ds.append_jsonl(
        out / ds.INDEX_FILE, {"item": pair.name, "shard": shard, "windows": len(windows)}
    )
    summary.prepared += 1


def _reason(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if isinstance(error, GVMGenError) else f"unreadable: {text}"


def _skip(out: Path, entry: Skipped, summary: PrepareSummary, done: set) -> None:
    if entry.name not in done:
        ds.append_jsonl(out / ds.SKIPPED_FILE, entry.to_dict())
        done.add(entry.name)


# How frames were made (`media.video.clip_geometry`); a dataset is never resumed with another.
FRAME_GEOMETRY = "official: bicubic short side, torchvision centre crop"


def _dataset_meta(model, options: PrepareOptions, src: str, fingerprint: dict) -> dict:
    config = model.config
    return {
        "format": ds.FORMAT_NAME,
        "version": 1,
        "source": src,
        "window_seconds": options.window_seconds,
        "stride_seconds": options.stride,
        "fps": options.fps,
        "frames_per_window": options.frames_per_window,
        "sample_rate": config.sample_rate,
        "frame_rate": config.frame_rate,
        "codes_per_window": int(round(options.window_seconds * config.frame_rate)),
        "num_codebooks": config.lm.num_codebooks,
        "card": config.lm.card,
        "image_size": config.vision.image_size,
        "frames": FRAME_GEOMETRY,
        "cache_clip": options.cache_clip,
        "fingerprint": fingerprint,
        "model": config.to_dict(),
    }


def _check_or_write_meta(out: Path, meta: dict) -> None:
    """A resumed preparation must use the same windows and the same frozen models."""
    path = out / ds.DATASET_FILE
    if path.is_file():
        old = ds.read_meta(out)
        keys = ("window_seconds", "stride_seconds", "fps", "frames", "cache_clip", "fingerprint")
        changed = [k for k in keys if old.get(k) != meta[k]]
        if changed:
            raise InputError(
                f"{str(out)!r} holds a dataset prepared with other settings ({', '.join(changed)});"
                " resume with the same options or choose a new --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    ds.write_meta(out, meta)


# --- one pair → windows -------------------------------------------------------------------


def pair_windows(pair: Pair, model, options: PrepareOptions) -> tuple[list[dict], int]:
    """(windows of one pair, how many silent windows were dropped); MediaError when unusable."""
    from gvmgen.media.video import probe

    info = probe(pair.video)
    music, offset = _music_on_video_clock(pair, info, model.config.sample_rate)
    if _rms(music) < SILENCE_RMS:
        raise MediaError("silent: the music has no signal")
    usable = min(info.duration, offset + music.shape[-1] / model.config.sample_rate)
    if usable + 1e-6 < options.window_seconds:
        raise MediaError(
            f"too short: {usable:.2f} s of picture with music < window {options.window_seconds:g} s"
        )
    count = int(math.floor((usable - options.window_seconds) / options.stride + 1e-6)) + 1
    windows, silent = [], 0
    for start in (k * options.stride for k in range(count)):
        audio = _audio_window(
            music, offset, start, options.window_seconds, model.config.sample_rate
        )
        if _rms(audio) < SILENCE_RMS:
            silent += 1
            continue
        windows.append(_window(pair, model, options, start, audio))
    return windows, silent


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def _music_on_video_clock(pair: Pair, info, sample_rate: int) -> tuple[np.ndarray, float]:
    """Mono music `[N]` at `sample_rate` and the video time (s) of its first sample."""
    from gvmgen.media.audio import load_audio

    if pair.music is not None:
        audio, _ = load_audio(pair.music, sample_rate=sample_rate, channels=1)
        return audio[0], 0.0
    if not info.has_audio:
        raise MediaError("no audio: the video has no music track and no music file beside it")
    audio, _ = load_audio(pair.video, sample_rate=sample_rate, channels=1)
    return audio[0], audio_start_offset(pair.video)


def audio_start_offset(path: Path) -> float:
    """Seconds from the first video frame to the first audio sample (stream start times)."""
    import av

    with av.open(str(path)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        v0 = float((video.start_time or 0) * video.time_base)
        a0 = float((audio.start_time or 0) * audio.time_base)
    return a0 - v0


def _audio_window(music: np.ndarray, offset: float, start: float, length: float, rate: int):
    """`length` s of music from video time `start`, zero-padded where the music is absent."""
    first = int(round((start - offset) * rate))
    count = int(round(length * rate))
    out = np.zeros(count, np.float32)
    lo, hi = max(first, 0), min(first + count, len(music))
    if hi > lo:
        out[lo - first : hi - first] = music[lo:hi]
    return out


def _window(pair: Pair, model, options: PrepareOptions, start: float, audio: np.ndarray) -> dict:
    from gvmgen.media.video import clip_preprocess, sample_frames

    size = model.config.vision.image_size
    sampled = sample_frames(pair.video, start, options.window_seconds, options.fps, clip_size=size)
    times, frames = _exact_frames(sampled.times, sampled.frames, options)
    pixels = torch.from_numpy(clip_preprocess(frames, size=size))
    with torch.inference_mode():
        codes = model.encode_audio(torch.from_numpy(audio)[None, None])[0]
    window = {"start": float(start), "codes": codes.to(torch.int16), "frame_times": times}
    if options.cache_clip:
        window["image_tokens"] = _image_tokens(model, pixels)
    else:
        window["pixels"] = pixels.half()
    return window


def _exact_frames(times: np.ndarray, frames: np.ndarray, options: PrepareOptions):
    """Exactly `frames_per_window` frames: the sampler may stop one short at the very end of a
    file; the last frame then stays on screen (as a player would hold it)."""
    want = options.frames_per_window
    times, frames = times[:want], frames[:want]
    while len(frames) < want:
        frames = np.concatenate([frames, frames[-1:]])
        times = np.append(times, len(times) / options.fps)
    return torch.from_numpy(times.astype(np.float32)), frames


@torch.inference_mode()
def _image_tokens(model, pixels: torch.Tensor) -> torch.Tensor:
    chunks = [model.visual.image_tokens(c) for c in pixels.split(CLIP_CHUNK)]
    return torch.cat(chunks).half()


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)
