"""An MP4 preview: the scored picture with the music muxed in, for a quick look and listen.

The video is re-encoded (fast H.264) rather than stream-copied so that the preview starts on
the scored range's first frame, not on the keyframe before it.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from gvmgen.atomic import atomic_path
from gvmgen.errors import MediaError

AUDIO_CHUNK = 1024  # AAC frame size


def mux_preview(
    video_path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    target: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
) -> Path:
    """Write `target` (MP4: H.264 + AAC) with the picture of `[start, start + duration)`."""
    import av

    with atomic_path(target) as tmp:
        try:
            with av.open(str(video_path)) as source, av.open(str(tmp), "w", format="mp4") as out:
                _copy_picture(source, out, start, duration, _add_audio(out, sample_rate), audio)
        except av.FFmpegError as error:
            raise MediaError(f"cannot write preview {str(target)!r}: {error}") from error
    return Path(target)


def _add_audio(out, sample_rate: int):
    stream = out.add_stream("aac", rate=sample_rate)
    stream.layout = "stereo"
    return stream


def _copy_picture(source, out, start: float, duration: float | None, audio_stream, audio) -> None:
    in_stream = source.streams.video[0]
    in_stream.thread_type = "AUTO"
    rate = in_stream.average_rate or Fraction(25)
    video = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
    video.width = in_stream.codec_context.width // 2 * 2
    video.height = in_stream.codec_context.height // 2 * 2
    video.pix_fmt = "yuv420p"
    end = math.inf if duration is None else start + duration
    if start > 0:
        source.seek(int(start / in_stream.time_base), stream=in_stream, backward=True)
    index = 0
    for frame in source.decode(in_stream):
        t = frame.time if frame.time is not None else 0.0
        if t < start - 1e-6:
            continue
        if t >= end - 1e-6:
            break
        picture = frame.reformat(width=video.width, height=video.height, format="yuv420p")
        picture.pts, picture.time_base = index, Fraction(1) / rate
        out.mux(video.encode(picture))
        index += 1
    out.mux(video.encode(None))
    _write_audio(out, audio_stream, audio)


def _write_audio(out, stream, audio: np.ndarray) -> None:
    import av

    stereo = np.ascontiguousarray(np.clip(audio[:2], -1, 1), dtype=np.float32)
    if stereo.shape[0] == 1:
        stereo = np.repeat(stereo, 2, axis=0)
    for first in range(0, stereo.shape[1], AUDIO_CHUNK):
        chunk = stereo[:, first : first + AUDIO_CHUNK]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = stream.rate, first
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
