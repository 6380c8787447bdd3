"""Synthetic test clips: shots with hard cuts and dissolves at known frames, pans, frame counters.

Used by tests across the project and by `gvmgen demo`, so nothing here reads a file: every
picture is drawn with numpy from the frame index, and every clip is written atomically with
PyAV (libx264 or mpeg4; AAC when an audio track is given).

Frames are `[H, W, 3]` uint8 RGB. A clip of `kind="counter"` draws its own frame index as a
binary pattern of blocks; `read_counter` decodes it back, so tests can check which frame a
reader returned.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from gvmgen.atomic import atomic_path
from gvmgen.errors import InputError

KINDS = ("shots", "pan", "counter")
COUNTER_GRID = (4, 4)  # rows, columns of blocks: 16 bits, frames 0…65535
GOLDEN = 0.618033988749895  # hue step that keeps successive shots far apart on the wheel


def make_test_clip(
    path: str | os.PathLike,
    *,
    rate: Fraction | int | float = Fraction(25),
    duration: float = 6.0,
    cut_frames: Sequence[int] = (),
    size: tuple[int, int] = (160, 90),
    kind: str = "shots",
    audio: np.ndarray | None = None,
    audio_rate: int = 48000,
    codec: str = "libx264",
    dissolves: Sequence[tuple[int, int]] = (),
    rotation: int = 0,
    start_time: float = 0.0,
    flashes: Sequence[int] = (),
    hold_every: int = 0,
    brightness: float = 1.0,
    faststart: bool = False,
) -> Path:
    """Encode a synthetic clip and return its path.

    Args:
        rate: frame rate, e.g. `Fraction(24000, 1001)`.
        duration: seconds; the clip has `round(duration * rate)` frames.
        cut_frames: frame indices where a new shot starts with a hard cut (`kind="shots"`).
        size: `(width, height)` of the stored picture; an odd size is stored as yuv444p with
            libx264 (4:2:0 needs even sizes) and as yuv420p with mpeg4.
        kind: "shots" (distinct scenes with gentle motion inside each), "pan" (one slow
            continuous pan over a textured image, no cut) or "counter" (frame index as blocks).
        audio: optional `[channels, samples]` float32 in [-1, 1], muxed as AAC.
        dissolves: `(start_frame, length)` pairs: the next shot fades in over `length` frames
            starting at `start_frame`, and is fully on screen at `start_frame + length`.
        rotation: display rotation metadata in degrees counter-clockwise (0, 90, 180, 270).
        start_time: presentation time of the first frame in seconds (a container offset),
            rounded to a whole frame.
        flashes: frames washed out towards white (a photographer's flash) inside a shot.
        hold_every: if N > 0, every N-th frame repeats the one before, like the duplicated
            frames of 24 → 30 fps pulldown.
        brightness: scales every picture (0.2 gives a dark, low-contrast clip).
        faststart: put the MP4 index (moov) before the media data, as web and camera exports
            do; a file cut short then still opens, with an index promising frames it lacks.
    """
    if kind not in KINDS:
        raise InputError(f"unknown test clip kind {kind!r}; expected one of {KINDS}")
    rate = Fraction(rate).limit_denominator(100_000)
    n_frames = int(round(duration * rate))
    frames = _frame_source(kind, n_frames, size, cut_frames, dissolves)
    frames = _with_effects(frames, set(flashes), hold_every, brightness)
    with atomic_path(path) as tmp:
        _encode(tmp, frames, rate, size, codec, audio, audio_rate, rotation, start_time, faststart)
    return Path(path)


def _frame_source(kind, n_frames, size, cut_frames, dissolves) -> Iterator[np.ndarray]:
    width, height = size
    if kind == "pan":
        texture = _texture(width * 3, height, seed=7)
        return (pan_frame(texture, j, width) for j in range(n_frames))
    if kind == "counter":
        return (counter_frame(j, width, height) for j in range(n_frames))
    return (shots_frame(j, width, height, cut_frames, dissolves) for j in range(n_frames))


def _with_effects(frames, flashes: set[int], hold_every: int, brightness: float):
    previous = None
    for index, picture in enumerate(frames):
        if hold_every > 0 and index % hold_every == hold_every - 1 and previous is not None:
            picture = previous
        previous = picture
        if index in flashes:
            picture = (picture * 0.25 + 190).astype(np.uint8)
        if brightness != 1.0:
            picture = np.clip(picture * brightness, 0, 255).astype(np.uint8)
        yield picture


# --- pictures -----------------------------------------------------------------------------


def scene_frame(scene: int, frame: int, width: int, height: int) -> np.ndarray:
    """Scene number `scene` at frame `frame`: its own colours, stripes and a drifting disc."""
    rng = np.random.default_rng(scene)
    hue = (scene * GOLDEN) % 1.0
    light = 0.35 + 0.4 * ((scene * 0.37) % 1.0)
    back = np.array(colorsys.hls_to_rgb(hue, light, 0.75)) * 255
    fore = np.array(colorsys.hls_to_rgb((hue + 0.5) % 1.0, 1.0 - light, 0.8)) * 255
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(6, 24)
    phase = frame * 0.15  # stripes drift slowly: the shot is not a still
    along = (x * np.cos(angle) + y * np.sin(angle)) / period
    stripes = 0.5 + 0.5 * np.sin(along * 2 * np.pi + phase)
    picture = back * (0.75 + 0.25 * stripes)[..., None]
    cx = (width * (0.3 + 0.4 * rng.uniform()) + 0.4 * frame) % width
    cy = height * (0.3 + 0.4 * rng.uniform())
    disc = (x - cx) ** 2 + (y - cy) ** 2 < (0.2 * height) ** 2
    picture[disc] = fore
    return np.clip(picture, 0, 255).astype(np.uint8)


def shots_frame(
    frame: int,
    width: int,
    height: int,
    cut_frames: Sequence[int] = (),
    dissolves: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Frame `frame` of a "shots" clip: hard cuts at `cut_frames`, blends over `dissolves`."""
    scene = sum(c <= frame for c in cut_frames) + sum(s + n <= frame for s, n in dissolves)
    for start, length in dissolves:
        if start <= frame < start + length:
            alpha = (frame - start + 1) / (length + 1)
            old = scene_frame(scene, frame, width, height).astype(np.float32)
            new = scene_frame(scene + 1, frame, width, height).astype(np.float32)
            return np.round(old * (1 - alpha) + new * alpha).astype(np.uint8)
    return scene_frame(scene, frame, width, height)


def _texture(width: int, height: int, seed: int) -> np.ndarray:
    """A smooth random colour texture with some edges: something a pan visibly moves over."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.zeros((height, width, 3), np.float32)
    for _ in range(12):
        fx, fy = rng.uniform(0.01, 0.08, size=2)
        weights = rng.uniform(0, 1, size=3)
        wave = np.sin(x * fx * 2 * np.pi + rng.uniform(0, 6)) * np.cos(y * fy * 2 * np.pi)
        picture += wave[..., None] * weights
    picture = (picture - picture.min()) / (np.ptp(picture) + 1e-6) * 200 + 28
    return picture.astype(np.uint8)


def pan_frame(texture: np.ndarray, frame: int, width: int) -> np.ndarray:
    """A window of `texture` that moves one pixel to the right per frame (wrapping around)."""
    start = frame % (texture.shape[1] - width)
    return np.ascontiguousarray(texture[:, start : start + width])


def counter_frame(frame: int, width: int, height: int) -> np.ndarray:
    """The frame index as a `COUNTER_GRID` of black/white blocks (bit 0 top-left, row-major)."""
    rows, cols = COUNTER_GRID
    bits = (frame >> np.arange(rows * cols)) & 1
    blocks = (bits.reshape(rows, cols) * 255).astype(np.uint8)
    y = np.arange(height) * rows // height
    x = np.arange(width) * cols // width
    return np.repeat(blocks[y][:, x][..., None], 3, axis=2)


def read_counter(picture: np.ndarray) -> int:
    """Decode the frame index drawn by `counter_frame` from an `[H, W, 3]` picture (any size)."""
    rows, cols = COUNTER_GRID
    height, width = picture.shape[:2]
    value = 0
    for bit in range(rows * cols):
        r, c = divmod(bit, cols)
        # sample the middle of each block, away from edges blurred by compression
        cell = picture[
            (4 * r + 1) * height // (4 * rows) : (4 * r + 3) * height // (4 * rows),
            (4 * c + 1) * width // (4 * cols) : (4 * c + 3) * width // (4 * cols),
        ]
        value |= int(cell.mean() > 127) << bit
    return value


# --- encoding -----------------------------------------------------------------------------


def _encode(
    path, frames, rate, size, codec, audio, audio_rate, rotation, start_time, faststart=False
) -> None:
    import av

    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        video = _add_video_stream(container, codec, rate, size, rotation)
        sound = None if audio is None else _add_audio_stream(container, audio, audio_rate)
        offset = int(round(start_time * rate))
        for index, picture in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = offset + index
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            _encode_audio(container, sound, audio, audio_rate)


def _add_video_stream(container, codec: str, rate: Fraction, size, rotation: int):
    video = container.add_stream(codec, rate=rate)
    video.width, video.height = size
    odd = size[0] % 2 or size[1] % 2
    video.pix_fmt = "yuv444p" if odd and codec == "libx264" else "yuv420p"
    video.time_base = 1 / rate
    if codec == "libx264":
        video.options = {"preset": "veryfast", "crf": "16"}
    if rotation % 360:
        video.set_display_rotation(rotation % 360)
    return video


def _add_audio_stream(container, audio: np.ndarray, audio_rate: int):
    layout = "mono" if np.atleast_2d(audio).shape[0] == 1 else "stereo"
    return container.add_stream("aac", rate=audio_rate, layout=layout)


def _encode_audio(container, stream, audio: np.ndarray, audio_rate: int) -> None:
    import av

    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))[:2]
    layout = "mono" if audio.shape[0] == 1 else "stereo"
    chunk = stream.codec_context.frame_size or 1024
    for first in range(0, audio.shape[1], chunk):
        block = np.ascontiguousarray(audio[:, first : first + chunk])
        frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = audio_rate
        frame.pts = first
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
