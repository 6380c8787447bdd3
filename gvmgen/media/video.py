"""Video in: probe a file, sample frames by presentation timestamp, prepare them for CLIP.

Times are float seconds from the first frame of the video stream (a container's start_time
offset is subtracted), as everywhere in the media layer. Frames are uint8 RGB `[H, W, 3]` in
display orientation: rotation metadata (the display matrix) is applied.

Sampling picks, for each instant `t_k = start + k / fps`, the frame on screen at `t_k` by its
timestamp, never by counting frames: counting every `int(fps)`-th frame drifts 3–4 % at 29.97 or
23.976 fps, timestamps do not drift at all and also work for variable frame rate.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from gvmgen.errors import InputError, MediaError

CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
TIE = 1e-9  # seconds: a frame exactly half-way between two instants goes to the earlier one
SEEK_MARGIN = 0.5  # seconds before `start` to seek to, so the keyframe found is before it


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds. Geometry is the display geometry (after rotation)."""

    path: Path
    width: int
    height: int
    rate: Fraction  # average frame rate, e.g. Fraction(30000, 1001)
    duration: float  # seconds
    start_time: float  # seconds: the container's presentation time of the first frame
    frame_count: int | None  # from the container; None when it does not say
    rotation: int  # display rotation, degrees counter-clockwise: 0, 90, 180 or 270
    has_audio: bool


@dataclass(frozen=True)
class SampledFrames:
    """Frames sampled at a fixed rate.

    Attributes:
        times: float64 `[N]`, seconds from the requested `start`: the timestamp of each
            returned frame (within half a frame of the requested instant `k / fps`).
        frames: uint8 `[N, H, W, 3]` RGB in display orientation.
    """

    times: np.ndarray
    frames: np.ndarray


# --- opening ------------------------------------------------------------------------------


def open_video(path: str | os.PathLike):
    """Open `path` with PyAV and return `(container, video stream)`; MediaError if we cannot.

    The caller closes the container. The stream decodes with frame and slice threads.
    """
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(f"video file not found: {str(path)!r}")
    if not path.is_file():
        raise MediaError(f"{str(path)!r} is not a file")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise MediaError(f"{str(path)!r} is not a readable media file ({error})") from error
    if not container.streams.video:
        what = "audio only" if container.streams.audio else "no video or audio"
        container.close()
        raise MediaError(f"{str(path)!r} has no video track ({what})")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def stream_origin(stream) -> int:
    """The pts of time zero: the stream's start_time (0 when unknown)."""
    return stream.start_time if stream.start_time is not None else 0


def frame_seconds(frame, stream, origin: int) -> float | None:
    """Presentation time of a decoded frame in seconds from the stream's start."""
    if frame.pts is None:
        return None
    return float((frame.pts - origin) * stream.time_base)


def stream_rate(stream) -> Fraction:
    """Average frame rate; falls back to the guessed or nominal rate, then 25."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return Fraction(25)


# --- probe --------------------------------------------------------------------------------


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video file's geometry, rate, duration and rotation (decodes one frame)."""
    import av

    container, stream = open_video(path)
    with container:
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as error:
            raise MediaError(f"cannot decode video in {str(path)!r} ({error})") from error
        if first is None:
            raise MediaError(f"{str(path)!r} has a video track with no frames")
        rotation = frame_rotation(first)
        width, height = display_size(stream.codec_context, rotation)
        return VideoInfo(
            path=Path(path),
            width=width,
            height=height,
            rate=stream_rate(stream),
            duration=stream_duration(container, stream),
            start_time=float(stream_origin(stream) * stream.time_base),
            frame_count=stream.frames or None,
            rotation=rotation,
            has_audio=bool(container.streams.audio),
        )


def stream_duration(container, stream) -> float:
    """Seconds the container says the video lasts (its index; 0 when it does not say)."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        start = container.start_time or 0
        return max(0.0, (container.duration - start) / 1_000_000)
    return 0.0


def frame_rotation(frame) -> int:
    """Display rotation of a decoded frame, degrees counter-clockwise, in {0, 90, 180, 270}."""
    degrees = getattr(frame, "rotation", 0) or 0
    return int(round(degrees / 90.0)) % 4 * 90


def display_size(codec_context, rotation: int) -> tuple[int, int]:
    """`(width, height)` on screen: the sample aspect ratio applied, then the rotation."""
    width, height = codec_context.width, codec_context.height
    aspect = codec_context.sample_aspect_ratio
    if aspect and aspect != 1:
        width = int(round(width * aspect))
    return (height, width) if rotation in (90, 270) else (width, height)


def rotate_to_display(picture: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate a stored `[H, W, C]` picture counter-clockwise by `rotation` degrees."""
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(picture, k=turns)) if turns else picture


# --- sampling -----------------------------------------------------------------------------


def sample_frames(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    fps: float = 1.0,
    short_side: int | None = None,
    clip_size: int | None = None,
) -> SampledFrames:
    """Frames on screen at `start + k / fps` for k = 0, 1, … while inside the range.

    Seeks to the keyframe before `start` instead of decoding from the top. Each instant gets
    the frame whose timestamp is nearest, i.e. the last one at or before `t_k` plus half a
    frame. `short_side` scales frames (display short side, aspect kept) with swscale while
    converting to RGB — far cheaper than resizing full-size arrays afterwards. `clip_size`
    instead gives each frame in CLIP's official geometry (`clip_geometry`: bicubic from the
    full-size picture, torchvision's centre crop), `[clip_size, clip_size, 3]`, as GVMGen saw
    its frames in training; it is converted as it is decoded, so full-size pictures are never
    held.

    Returns:
        `SampledFrames` with `times [N]` (seconds from `start`) and `frames [N, H, W, 3]`.
    """
    _check_range(start, duration, fps)
    container, stream = open_video(path)
    times, frames, convert = [], [], None
    with container:
        # convert as we go: holding decoded frames would hold full-size pictures in memory
        for time, frame in _pick_frames(container, stream, start, duration, fps):
            convert = convert or _converter(stream, frame, short_side, clip_size)
            times.append(time - start)
            frames.append(convert(frame))
    if not frames:
        raise MediaError(f"no frames in {str(path)!r} from {start:.3f} s on")
    return SampledFrames(times=np.array(times, np.float64), frames=np.stack(frames))


def _check_range(start: float, duration: float | None, fps: float) -> None:
    if fps <= 0:
        raise InputError(f"sampling rate fps={fps} must be positive")
    if start < 0:
        raise InputError(f"start={start} s must not be negative")
    if duration is not None and duration <= 0:
        raise InputError(f"duration={duration} s must be positive")


def _pick_frames(container, stream, start, duration, fps) -> Iterator[tuple[float, object]]:
    """Yield `(time, frame)` for each sample instant, choosing frames by timestamp."""
    half = 0.5 / float(stream_rate(stream))
    end = np.inf if duration is None else start + duration
    k, held = 0, None
    for time, frame in decode_from(container, stream, start - half):
        while held is not None and _settles(start + k / fps, held[0], time, half):
            if start + k / fps >= end:
                return
            yield held
            k += 1
        held = (time, frame)
    # after the last frame: instants within half a frame of it still get it
    while held is not None and start + k / fps < min(end, held[0] + half + TIE):
        yield held
        k += 1


def _settles(instant: float, held: float, arriving: float, half: float) -> bool:
    """Whether the frame held (at `held` s) is the one for `instant`, now that the next frame
    arrives at `arriving` s: the arriving one is more than half a frame late, or (exactly half
    a frame late) no nearer than the held one — a tie goes to the frame on screen."""
    if arriving > instant + half + TIE:
        return True
    return arriving >= instant + half - TIE and instant - held <= arriving - instant + TIE


def decode_from(container, stream, start: float) -> Iterator[tuple[float, object]]:
    """Decoded `(time, frame)` pairs in presentation order from just before `start` on.

    Seeks to the keyframe before `start` (and back to the top when the seek lands late), then
    drops frames more than a frame before `start`.
    """
    step = 1.0 / float(stream_rate(stream))
    frames = _timed_frames(container, stream)
    if start > SEEK_MARGIN and _seek(container, stream, start - SEEK_MARGIN):
        first = next(frames, None)
        if first is not None and first[0] > start:  # a broken index: start over at the top
            _seek(container, stream, 0.0)
            frames = _timed_frames(container, stream)
        elif first is not None:
            frames = itertools.chain([first], frames)
    for time, frame in frames:
        if time >= start - step:
            yield time, frame


def _timed_frames(container, stream) -> Iterator[tuple[float, object]]:
    """`(seconds, frame)` in presentation order; frames without a timestamp get the last one
    plus a frame duration, and a repeated timestamp is dropped."""
    import av

    origin = stream_origin(stream)
    step = 1.0 / float(stream_rate(stream))
    previous = None
    try:
        for frame in container.decode(stream):
            time = frame_seconds(frame, stream, origin)
            if time is None:
                time = 0.0 if previous is None else previous + step
            if previous is not None and time <= previous:
                continue
            previous = time
            yield time, frame
    except av.FFmpegError as error:
        where = f"after {previous:.3f} s" if previous is not None else "at the start"
        raise MediaError(f"cannot decode {container.name!r} {where} ({error})") from error


def _seek(container, stream, time: float) -> bool:
    """Seek to the keyframe at or before `time` seconds; False if the demuxer cannot."""
    import av

    target = stream_origin(stream) + int(max(0.0, time) / stream.time_base)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except av.FFmpegError:
        return False
    return True


def _converter(stream, first_frame, short_side: int | None, clip_size: int | None = None):
    """A function frame → uint8 `[H, W, 3]` RGB at the display size, display orientation
    (scaled to `short_side`, or put in CLIP's geometry at `clip_size`)."""
    if short_side is not None and clip_size is not None:
        raise InputError("give short_side or clip_size, not both")
    if clip_size is not None:
        if clip_size < 1:
            raise InputError(f"clip_size={clip_size} must be at least 1 pixel")
        full_size = _converter(stream, first_frame, None)
        return lambda frame: clip_geometry(full_size(frame), clip_size)
    rotation = frame_rotation(first_frame)
    width, height = display_size(stream.codec_context, rotation)
    if short_side is not None:
        if short_side < 1:
            raise InputError(f"short_side={short_side} must be at least 1 pixel")
        scale = short_side / min(width, height)
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    stored = (height, width) if rotation in (90, 270) else (width, height)

    def convert(frame) -> np.ndarray:
        rgb = frame.reformat(stored[0], stored[1], format="rgb24", interpolation="AREA")
        return rotate_to_display(rgb.to_ndarray(), rotation)

    return convert


# --- CLIP ---------------------------------------------------------------------------------


def clip_preprocess(frames: np.ndarray, size: int = 336) -> np.ndarray:
    """CLIP's image preprocessing on uint8 `[N, H, W, 3]` RGB → float32 `[N, 3, size, size]`.

    The official GVMGen/CLIP transform: `clip_geometry` (bicubic resize of the short side,
    torchvision's centre crop), scale to [0, 1], normalise with CLIP's mean and std.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InputError(f"expected frames [N, H, W, 3], got shape {frames.shape}")
    out = np.empty((len(frames), 3, size, size), np.float32)
    for i, frame in enumerate(frames):
        square = clip_geometry(frame, size).astype(np.float32) / 255.0
        out[i] = ((square - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1)
    return out


def clip_geometry(frame: np.ndarray, size: int = 336) -> np.ndarray:
    """uint8 RGB `[H, W, 3]` → `[size, size, 3]` exactly as the official code's
    `Resize(size, BICUBIC)` + `CenterCrop(size)` on a PIL image (torchvision's arithmetic).

    The short side becomes `size` and the long one `int(size · long / short)`; Pillow's bicubic
    (antialiased when shrinking) resizes; the crop starts at `round((H - size) / 2)`, Python's
    round-half-to-even, where a floor would sit one pixel off on odd margins.
    """
    from PIL import Image

    height, width = frame.shape[:2]
    short, long = min(height, width), max(height, width)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if width <= height else (new_long, size)
    image = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    if (new_w, new_h) != (width, height):
        image = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    top, left = int(round((new_h - size) / 2.0)), int(round((new_w - size) / 2.0))
    return np.asarray(image)[top : top + size, left : left + size]
