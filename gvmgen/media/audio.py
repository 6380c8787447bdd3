"""Audio in and out: decode any file's audio to float32, resample with soxr, write WAV atomically.

Arrays are float32 `[channels, samples]` throughout, in [-1, 1].
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gvmgen.atomic import atomic_path
from gvmgen.errors import MediaError

DELIVERY_RATE = 48_000  # Hz; what NLEs expect on an audio track
DELIVERY_SUBTYPE = "PCM_24"


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    channels: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of any file PyAV reads (WAV, MP3, a video's AAC track…).

    Args:
        sample_rate: resample to this rate (soxr, high quality); None keeps the file's rate.
        channels: 1 mixes down, 2 duplicates mono; None keeps the file's layout.
        start, duration: seconds of the file to keep (None: to the end).

    Returns:
        `(audio [channels, samples] float32, sample_rate)`.
    """
    audio, rate = _decode(Path(path))
    first = int(round(start * rate))
    last = None if duration is None else first + int(round(duration * rate))
    audio = audio[:, first:last]
    if sample_rate is not None and sample_rate != rate:
        audio, rate = resample(audio, rate, sample_rate), sample_rate
    return with_channels(audio, channels), rate


def _decode(path: Path) -> tuple[np.ndarray, int]:
    import av

    if not path.is_file():
        raise MediaError(f"audio file not found: {str(path)!r}")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{str(path)!r} has no audio track")
            stream = container.streams.audio[0]
            stream.thread_type = "AUTO"
            resampler = av.AudioResampler(format="fltp")
            chunks = [
                out.to_ndarray()
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            rate = stream.codec_context.sample_rate or stream.rate
    except av.FFmpegError as error:
        raise MediaError(f"cannot decode audio from {str(path)!r}: {error}") from error
    if not chunks:
        raise MediaError(f"{str(path)!r} has an empty audio track")
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False), int(rate)


def resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling `[C, N]` → `[C, ~N * target/rate]` with soxr (VHQ)."""
    import soxr

    if rate == target_rate:
        return audio
    out = soxr.resample(np.ascontiguousarray(audio.T), rate, target_rate, quality="VHQ")
    return np.ascontiguousarray(out.T, dtype=np.float32)


def with_channels(audio: np.ndarray, channels: int | None) -> np.ndarray:
    """Mix down to mono or spread mono to stereo; None leaves the audio as it is."""
    if channels is None or audio.shape[0] == channels:
        return audio
    if channels == 1:
        return audio.mean(axis=0, keepdims=True)
    if audio.shape[0] == 1:
        return np.repeat(audio, channels, axis=0)
    raise MediaError(f"cannot map {audio.shape[0]} channels to {channels}")


def write_wav(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    subtype: str = DELIVERY_SUBTYPE,
) -> Path:
    """Write `[C, N]` float audio as WAV (24-bit by default), atomically; returns the path."""
    import soundfile as sf

    clipped = np.clip(audio, -1.0, 1.0).T
    with atomic_path(path) as tmp:
        sf.write(str(tmp), clipped, sample_rate, subtype=subtype, format="WAV")
    return Path(path)


def write_delivery_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Resample to 48 kHz and write a 24-bit WAV: the file an editor drops on a track."""
    return write_wav(path, resample(audio, sample_rate, DELIVERY_RATE), DELIVERY_RATE)
