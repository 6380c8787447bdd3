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


# --- a timeline's preview: the scored range flattened, as the NLE's viewer would play it ---

PREVIEW_HEIGHT = 720  # a preview, not a master: at most 720 lines (speed), width by aspect
OFFLINE_TITLE = "MEDIA OFFLINE"


def render_timeline_preview(
    edit,
    audio: np.ndarray,
    sample_rate: int,
    target: str | os.PathLike,
) -> Path:
    """Write `target` (MP4: H.264 + AAC): `edit`'s range (a `gvmgen.timeline.Edit`) flattened
    — the top-most visible clip at every frame, at the timeline's rate, from the range start —
    with `audio` `[2, N]` (the mix: the range's own sound and the music). A clip whose media
    is missing or unreadable shows black with a burnt-in "MEDIA OFFLINE" title, as NLEs do; a
    gap shows black."""
    import av

    from gvmgen.timeline.ranges import rate_fraction

    rate = rate_fraction(edit.rate)
    total = int(edit.duration.value)
    width, height = _preview_size(edit.segments)
    with atomic_path(target) as tmp:
        try:
            with av.open(str(tmp), "w", format="mp4") as out:
                audio_stream = _add_audio(out, sample_rate)
                video = out.add_stream(
                    "libx264", rate=rate, options={"preset": "veryfast", "crf": "23"}
                )
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                frames = _timeline_frames(edit, total, rate, width, height)
                for index, picture in enumerate(frames):
                    picture.pts, picture.time_base = index, 1 / rate
                    out.mux(video.encode(picture))
                out.mux(video.encode(None))
                _write_audio(out, audio_stream, audio)
        except av.FFmpegError as error:
            raise MediaError(f"cannot write preview {str(target)!r}: {error}") from error
    return Path(target)


def _preview_size(segments) -> tuple[int, int]:
    """The first readable clip's picture, at most PREVIEW_HEIGHT lines, even sizes."""
    from gvmgen.media.video import probe

    for segment in segments:
        if segment.media_path is None:
            continue
        try:
            info = probe(segment.media_path)
        except MediaError:
            continue
        width, height = info.width, info.height
        if height > PREVIEW_HEIGHT:
            width, height = round(width * PREVIEW_HEIGHT / height), PREVIEW_HEIGHT
        return width // 2 * 2, height // 2 * 2
    return 1280, 720


def _timeline_frames(edit, total: int, rate: Fraction, width: int, height: int):
    """One `av.VideoFrame` per timeline frame of the range, in order."""
    black = _still(np.zeros((height, width, 3), np.uint8))
    offline = None
    at = 0
    for segment in edit.segments:
        first = int(segment.record_range.start_time.value)
        count = int(segment.record_range.duration.value)
        for _ in range(at, first):  # a gap before this clip
            yield black
        pictures = _segment_frames(segment, count, rate, width, height)
        if pictures is None:
            offline = offline or _still(_offline_card(width, height))
            pictures = (offline for _ in range(count))
        yield from pictures
        at = first + count
    for _ in range(at, total):
        yield black


def _segment_frames(segment, count: int, rate: Fraction, width: int, height: int):
    """The segment's `count` frames, each the source frame showing at that instant (held when
    the source is slower, skipped when faster); None when its media cannot be read."""
    from gvmgen.media.video import decode_from, open_video

    if segment.media_path is None:
        return None
    try:
        container, stream = open_video(segment.media_path)
    except MediaError:
        return None
    source_seconds = segment.source_range.duration.to_seconds()
    speed = source_seconds / max(count / float(rate), 1e-9)
    start = segment.file_offset

    def frames():
        with container:
            decoded = decode_from(container, stream, start)
            shown = None
            upcoming = next(decoded, None)
            for index in range(count):
                instant = start + speed * index / float(rate) + 1e-6
                while upcoming is not None and upcoming[0] <= instant:
                    shown, upcoming = upcoming[1], next(decoded, None)
                if shown is None and upcoming is not None:  # the media starts late
                    shown = upcoming[1]
                if shown is None:
                    yield _still(np.zeros((height, width, 3), np.uint8))
                    continue
                yield shown.reformat(width=width, height=height, format="yuv420p")

    return frames()


def _still(rgb: np.ndarray):
    import av

    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def _offline_card(width: int, height: int) -> np.ndarray:
    """Black with the title in red, centred, as Resolve and Premiere show missing media."""
    from PIL import Image, ImageDraw, ImageFont

    card = Image.new("RGB", (width, height), (0, 0, 0))
    draw = ImageDraw.Draw(card)
    size = max(12, height // 12)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        font = ImageFont.load_default()
    box = draw.textbbox((0, 0), OFFLINE_TITLE, font=font)
    x = (width - (box[2] - box[0])) // 2
    y = (height - (box[3] - box[1])) // 2
    draw.rectangle((0, y - size, width, y + 2 * size), fill=(90, 0, 0))
    draw.text((x, y), OFFLINE_TITLE, fill=(255, 255, 255), font=font)
    return np.asarray(card)
