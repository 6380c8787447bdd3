"""Shot changes inside a clip — hard cuts and gradual transitions — merged with edit points.

One decode pass at low resolution feeds everything (`frame_differences`): each decoded frame's
planes are point-sampled into a small YUV thumbnail straight from the decoder's buffers (no
full-size RGB conversion, no swscale), and compared with the frames before it. The detector then
works on those per-frame numbers only:

- **hard cuts** — a frame whose content change stands out against the local median of its
  neighbours (like PySceneDetect's AdaptiveDetector, so dark low-contrast cuts are found and
  camera shake is not), which is not a flash or an object passing the lens (the picture before
  it does not come back within a few frames); cuts may be as close as `MIN_CUT_GAP` frames;
  duplicated frames from pulldown (zero change) are left out of the local median.
- **gradual transitions** (dissolves, fades) — a window whose end frames differ strongly, whose
  middle frame is close to the mix of its ends, with no single frame carrying the change, and
  which stands out against the windows just before and after it (a pan does not).
- the per-frame **motion** curve (mean absolute luma difference) comes out of the same pass.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from gvmgen.errors import InputError, MediaError
from gvmgen.media.video import decode_from, open_video, stream_duration, stream_rate
from gvmgen.progress import ProgressFn, check_cancel, report

KINDS = ("edit", "shot", "gradual")
THUMB_WIDTH = 96  # pixels across the luma thumbnail; cuts are whole-picture changes
DUPLICATE_LEVEL = 0.3  # mean |Δ| (0–255) under which a frame is a repeat (pulldown, freeze)
MIN_CUT_GAP = 3  # frames: rapid cutting is kept, not merged into one scene
LOOK_BACK = 6  # frames after a candidate cut in which the old picture may come back (flash)
FLASH_FRAMES = 3  # a flash (or an object passing the lens) lasts up to this many frames
FLAT_SPREAD = 0.5  # luma standard deviation (0–255) under which a picture has no structure
GRADUAL_WINDOWS = (6, 12, 24, 48)  # frames spanned when looking for dissolves and fades
EARLY_END_FRAMES = 3  # a decode ending this many frames before the container's duration is short


@dataclass(frozen=True)
class Cut:
    """A boundary between two shots.

    Attributes:
        time: seconds from the start of the analysed input or range (first frame of the new
            shot; for a gradual transition, its middle).
        frame: the same instant as a frame index at the input's rate, from the range start.
        kind: "edit" (an edit point of the timeline), "shot" (a hard cut inside a clip) or
            "gradual" (a dissolve or fade inside a clip).
        score: the detector's strength of evidence (content change, 0–255 scale); 0 for edits.
    """

    time: float
    frame: int
    kind: str
    score: float = 0.0


@dataclass(frozen=True)
class ShotAnalysis:
    """What `detect_shots` found in a clip or range.

    Attributes:
        rate: the input's frame rate.
        duration: seconds analysed.
        cuts: kinds "shot" and "gradual", sorted by time.
        motion_times: float64 `[N]` seconds from the range start, one per analysed frame.
        motion: float32 `[N]` in [0, 1]: mean absolute luma difference to the previous frame
            (divided by 255); it spikes at cuts.
        brightness: float32 `[N]` mean luma of each frame (0–255): black is under ~20.
    """

    rate: Fraction
    duration: float
    cuts: list[Cut]
    motion_times: np.ndarray
    motion: np.ndarray
    brightness: np.ndarray | None = None


@dataclass
class FrameDifferences:
    """Per-frame numbers from one low-resolution decode pass (arrays `[N]`, float32).

    - `change[i]`: frame i vs frame i-1 (0 for the first), 0–255 scale, the mean of the Y, U
      and V mean absolute differences; `motion[i]` is its luma part alone; `brightness[i]`
      is frame i's mean luma (0–255).
    - `colours[i]`: colour-histogram distance (0–1) of frame i to frame i-1.
    - `structure[i]`: 1 − correlation of the luma of frames i and i-1.
    - `returns[i]`: the smallest difference between frame i-1 and the `LOOK_BACK` frames after
      frame i (large when the picture really changed, small after a flash); `back[i]`: the
      smallest difference between frame i and frames i-2 … i-1-`FLASH_FRAMES` (small when
      frame i ends a flash). +inf where those frames do not exist.
    - for each window W in `GRADUAL_WINDOWS`: `span[W][i]` compares frame i with frame i-W,
      `mix_error[W][i]` frame i-W/2 with the average of the two (NaN for i < W).
    """

    rate: Fraction
    times: np.ndarray
    change: np.ndarray
    motion: np.ndarray
    brightness: np.ndarray
    colours: np.ndarray
    structure: np.ndarray
    returns: np.ndarray
    back: np.ndarray
    span: dict[int, np.ndarray] = field(default_factory=dict)
    mix_error: dict[int, np.ndarray] = field(default_factory=dict)


# --- the decode pass ----------------------------------------------------------------------


CANCEL_EVERY_FRAMES = 8  # a cancel is seen within this many decoded frames (well under 1 s)


def frame_differences(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
) -> FrameDifferences:
    """Decode `path` once over `[start, start + duration)` at low resolution and measure.

    `progress` hears every `BLOCK` frames; a set `cancel` (threading.Event) stops the decode
    within `CANCEL_EVERY_FRAMES` frames with `Cancelled`.
    """
    _check_range(start, duration)
    container, stream = open_video(path)
    with container:
        _decode_fast(stream)
        rate = stream_rate(stream)
        end = np.inf if duration is None else start + duration
        media_end = stream_duration(container, stream)
        span = (end if np.isfinite(end) else media_end) - start
        thumbs = _thumbnails(container, stream, start, end)
        blocks = _measure(_watched(thumbs, span, progress, cancel))
        report(progress, 1.0, "cuts: decoded")
    last = start + float(blocks[-1]["time"][-1]) if blocks else None
    _check_decoded_to_the_end(path, last, start, end, media_end, rate)
    if not blocks:
        raise MediaError(f"no frames in {str(path)!r} between {start:.3f} s and {end:.3f} s")
    return _collect(rate, blocks)


def _check_decoded_to_the_end(
    path, last: float | None, start: float, end: float, media_end: float, rate: Fraction
) -> None:
    """Refuse a decode that stopped early: frames up to `last` s (None: none from `start` on)
    when the range runs to `end` and the container says the video lasts `media_end` s (0: it
    does not say). A file cut short after its index was written (a faststart MP4 copied
    halfway) decodes without any error."""
    if media_end <= 0 or (last is None and start >= media_end):
        return
    expected = min(end, media_end)
    decoded = start if last is None else last + 1.0 / float(rate)
    if expected - decoded > EARLY_END_FRAMES / float(rate):
        raise MediaError(
            f"{str(path)!r} is truncated or damaged: frames decode only up to {decoded:.2f} s "
            f"of the {media_end:.2f} s its index promises; copy or export the file again"
        )


def _check_range(start: float, duration: float | None) -> None:
    if start < 0:
        raise InputError(f"start={start} s must not be negative")
    if duration is not None and duration <= 0:
        raise InputError(f"duration={duration} s must be positive")


def _decode_fast(stream) -> None:
    """Skip the in-loop deblocking filter: ~15 % faster H.264, invisible at thumbnail size."""
    stream.codec_context.options = {"skip_loop_filter": "all"}


def _thumbnails(container, stream, start: float, end: float) -> Iterator[tuple[float, np.ndarray]]:
    """`(seconds from start, thumbnail [3, h, w] uint8 YUV)` for frames in `[start, end)`."""
    half = 0.5 / float(stream_rate(stream))
    sampler = None
    for time, frame in decode_from(container, stream, start):
        if time < start - half:
            continue
        if time >= end - half:
            return
        sampler = sampler or _ThumbnailSampler(frame)
        yield time - start, sampler(frame)


def _watched(thumbs: Iterator, span: float, progress, cancel) -> Iterator:
    """`thumbs`, checking `cancel` every few frames and reporting every `BLOCK` (the decode of
    a long video is the longest step without news otherwise)."""
    for count, (time, thumb) in enumerate(thumbs):
        if count % CANCEL_EVERY_FRAMES == 0:
            check_cancel(cancel)
        if count % BLOCK == 0 and count and span > 0:
            report(progress, min(time / span, 0.99), f"cuts: decoded {time:.0f} of {span:.0f} s")
        yield time, thumb


class _ThumbnailSampler:
    """Point-samples a decoded frame's Y, U, V planes on one grid, straight from its buffers.

    8-bit planar YUV (what H.264/HEVC/ProRes decoders give) is read without conversion; any
    other pixel format goes through swscale to yuv444p at thumbnail size first.
    """

    PLANAR = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"})

    def __init__(self, frame):
        self.step = max(2, 2 * round(frame.width / THUMB_WIDTH / 2))
        self.coded = (frame.width, frame.height)
        self.size = (max(1, frame.width // self.step), max(1, frame.height // self.step))

    def __call__(self, frame) -> np.ndarray:
        """uint8 `[3, h, w]`; the same shape for every frame, even if the stream resizes."""
        if frame.format.name not in self.PLANAR or (frame.width, frame.height) != self.coded:
            small = frame.reformat(*self.size, format="yuv444p", interpolation="AREA")
            return np.stack([self._plane(p, 1, 1) for p in small.planes])
        luma = frame.planes[0]
        width, height = self.size
        planes = []
        for plane in frame.planes[:3]:
            sub_y = max(1, round(luma.height / plane.height))
            sub_x = max(1, round(luma.width / plane.width))
            sampled = self._plane(plane, self.step // sub_y, self.step // sub_x)
            planes.append(sampled[:height, :width])
        return np.stack(planes)

    @staticmethod
    def _plane(plane, step_y: int, step_x: int) -> np.ndarray:
        pixels = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return pixels[step_y // 2 :: step_y, step_x // 2 : plane.width : step_x]


BLOCK = 64  # frames measured together: numpy works on whole blocks, not frame by frame
CONTEXT = max(max(GRADUAL_WINDOWS), LOOK_BACK + 1)  # earlier frames a block looks back on


def _measure(thumbs: Iterator[tuple[float, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """Per-block measurements (see `FrameDifferences`) over all thumbnails, in order."""
    blocks, history, last_histogram = [], None, None
    for chunk in _chunks(thumbs, BLOCK):
        times = np.array([time for time, _ in chunk], np.float64)
        pixels = np.stack([thumb for _, thumb in chunk])  # [B, 3, h, w] uint8
        histograms = colour_histograms(pixels)
        frames = pixels.astype(np.float32)
        full = frames if history is None else np.concatenate([history, frames])
        block = _measure_block(full, len(frames))
        before = histograms[:1] if last_histogram is None else last_histogram[None]
        previous = np.concatenate([before, histograms[:-1]])  # the first frame: itself, so 0
        block["colours"] = 0.5 * np.abs(histograms - previous).sum(axis=1)
        block["time"] = times
        blocks.append(block)
        history, last_histogram = full[-CONTEXT:], histograms[-1]
    return blocks


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _measure_block(full: np.ndarray, count: int) -> dict[str, np.ndarray]:
    """Measurements for the last `count` frames of `full [K + count, 3, h, w]`, whose first K
    frames are earlier context. A frame without the earlier frame a measurement needs gets
    0 (change), +inf (distance to earlier frames) or NaN (gradual windows)."""
    first = len(full) - count
    coarse = full[:, :, ::4, ::4]  # slow, whole-picture comparisons need few pixels
    block = {
        "change": np.zeros(count, np.float32),
        "motion": np.zeros(count, np.float32),
        "brightness": full[first:, 0].mean(axis=(1, 2)).astype(np.float32),
        "structure": np.zeros(count, np.float32),
    }
    lo = max(first, 1)  # frames that have a previous frame
    if lo < len(full):
        per_channel = np.abs(full[lo:] - full[lo - 1 : -1]).mean(axis=(2, 3))  # [n, 3]
        block["change"][lo - first :] = per_channel.mean(axis=1)
        block["motion"][lo - first :] = per_channel[:, 0]
        block["structure"][lo - first :] = structure_changes(full[lo:, 0], full[lo - 1 : -1, 0])
    for k in range(2, LOOK_BACK + 2):
        block[("back", k)] = _distance_back(coarse, first, k)
    for window in GRADUAL_WINDOWS:
        block[("span", window)], block[("mix", window)] = _window_measures(coarse, first, window)
    return block


def _distance_back(coarse: np.ndarray, first: int, k: int) -> np.ndarray:
    """Mean |frame i − frame i−k| for the block's frames (+inf where i−k is not there)."""
    out = np.full(len(coarse) - first, np.inf, np.float32)
    lo = max(first, k)
    if lo < len(coarse):
        out[lo - first :] = np.abs(coarse[lo:] - coarse[lo - k : len(coarse) - k]).mean(
            axis=(1, 2, 3)
        )
    return out


def _window_measures(coarse: np.ndarray, first: int, window: int):
    """Span (frame i vs frame i−W) and mix error (frame i−W/2 vs the mean of the two)."""
    span = np.full(len(coarse) - first, np.nan, np.float32)
    mix = np.full(len(coarse) - first, np.nan, np.float32)
    lo = max(first, window)
    if lo < len(coarse):
        now, then = coarse[lo:], coarse[lo - window : len(coarse) - window]
        middle = coarse[lo - window // 2 : len(coarse) - window // 2]
        span[lo - first :] = np.abs(now - then).mean(axis=(1, 2, 3))
        mix[lo - first :] = np.abs(middle - (now + then) / 2).mean(axis=(1, 2, 3))
    return span, mix


def colour_histograms(pixels: np.ndarray) -> np.ndarray:
    """Joint Y/U/V histograms `[B, 8 * 4 * 4]` of uint8 thumbnails `[B, 3, h, w]`, each summing
    to 1: motion barely moves them, a change of scene does."""
    bins = ((pixels[:, 0] >> 5) << 4) | ((pixels[:, 1] >> 6) << 2) | (pixels[:, 2] >> 6)
    offsets = (np.arange(len(pixels)) * 128)[:, None]
    flat = bins.reshape(len(pixels), -1).astype(np.int64) + offsets
    counts = np.bincount(flat.ravel(), minlength=128 * len(pixels)).reshape(len(pixels), 128)
    return counts / counts.sum(axis=1, keepdims=True)


def structure_changes(luma: np.ndarray, before: np.ndarray) -> np.ndarray:
    """1 − correlation of luma thumbnails `[n, h, w]` with those before, in [0, 2]: blind to
    a change of brightness or contrast (a light flickering), not to a new picture. A flat
    picture (a white flash frame) has no structure, so anything next to one counts as fully
    changed (and two flat pictures as unchanged)."""
    a = luma - luma.mean(axis=(1, 2), keepdims=True)
    b = before - before.mean(axis=(1, 2), keepdims=True)
    spread_a, spread_b = np.sqrt((a * a).mean(axis=(1, 2))), np.sqrt((b * b).mean(axis=(1, 2)))
    flat_a, flat_b = spread_a < FLAT_SPREAD, spread_b < FLAT_SPREAD
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1.0 - (a * b).mean(axis=(1, 2)) / (spread_a * spread_b)
    out = np.where(flat_a | flat_b, 1.0, out)
    return np.where(flat_a & flat_b, 0.0, out).astype(np.float32)


def _collect(rate: Fraction, blocks: list[dict]) -> FrameDifferences:
    def column(key) -> np.ndarray:
        return np.concatenate([block[key] for block in blocks])

    back = np.stack([column(("back", k)) for k in range(2, LOOK_BACK + 2)], axis=1)  # [N, K]
    return FrameDifferences(
        rate=rate,
        times=column("time"),
        change=column("change"),
        motion=column("motion"),
        brightness=column("brightness"),
        colours=column("colours").astype(np.float32),
        structure=column("structure"),
        returns=_returns(back),
        back=back[:, :FLASH_FRAMES].min(axis=1),
        span={w: column(("span", w)) for w in GRADUAL_WINDOWS},
        mix_error={w: column(("mix", w)) for w in GRADUAL_WINDOWS},
    )


def _returns(back: np.ndarray) -> np.ndarray:
    """For each frame i, the smallest distance between frame i−1 and frames i+1 … i+LOOK_BACK:
    `back[j, k-2]` is |frame j − frame j−k|, so frame i+m vs i−1 is `back[i+m, m-1]`."""
    n = len(back)
    out = np.full(n, np.inf, np.float32)
    for m in range(1, min(LOOK_BACK, n - 1) + 1):  # a short range has fewer frames ahead
        out[: n - m] = np.minimum(out[: n - m], back[m:, m - 1])
    return out


# --- hard cuts ----------------------------------------------------------------------------

MIN_CHANGE = 4.0  # change (0–255) below which nothing is a cut, however calm the shot
CUT_RATIO = 2.0  # change / (local median + 1) for a cut
COLOUR_RATIO = 2.0  # colour-histogram distance / (its local median + 0.05) for a cut
MIN_COLOURS = 0.12  # histogram distance (0–1) below which the colours did not change
STRUCTURE_RATIO = 3.0  # (1 − correlation) / (its local median + 0.02) for a cut
STRONG_RATIO = 5.0  # change / (local median + 1) that is a cut whatever the structure says
LOCAL_FRAMES = 8  # neighbours on each side for the local median
FLASH_FRACTION = 0.4  # the old picture came back if it got this close (× the change)
TRANSITION_FRAMES = 6  # cuts this close, with the picture changing all the way, are one cut
TRANSITION_FRACTION = 0.3  # "changing all the way": every change in between ≥ this × the cuts


def hard_cuts(diff: FrameDifferences) -> list[int]:
    """Frame indices (into `diff`) where a new shot starts with a hard cut."""
    moving = diff.change > DUPLICATE_LEVEL
    change, colours = diff.change, diff.colours
    stands_out = change >= CUT_RATIO * (_local_median(change, moving) + 1.0)
    recoloured = (colours >= MIN_COLOURS) & (
        colours >= COLOUR_RATIO * (_local_median(colours, moving) + 0.05)
    )
    structure = diff.structure
    restructured = structure >= STRUCTURE_RATIO * (_local_median(structure, moving) + 0.02)
    # a flash: the picture before it comes back after it (or this frame brings it back)
    near = np.minimum(FLASH_FRACTION * change, 2.0 * _local_median(change, moving) + 2.0)
    came_back = (diff.returns < near) | (diff.back < near)
    stands_far_out = change >= STRONG_RATIO * (_local_median(change, moving) + 1.0)
    new_picture = recoloured & ((stands_out & restructured) | stands_far_out)
    candidates = np.flatnonzero(new_picture & ~came_back & (change >= MIN_CHANGE))
    return [chain[0] for chain in _transition_chains(candidates, change)]


def _transition_chains(candidates: np.ndarray, change: np.ndarray) -> list[list[int]]:
    """Group candidate cuts that belong to one transition: closer than `MIN_CUT_GAP`, or within
    `TRANSITION_FRAMES` with the picture changing on every frame between (a flash to white and
    back, a whip). Rapid cutting keeps a steady picture between its cuts and stays apart."""
    chains: list[list[int]] = []
    for index in map(int, candidates):
        if chains and _same_transition(chains[-1][-1], index, change):
            chains[-1].append(index)
        else:
            chains.append([index])
    return chains


def _same_transition(first: int, second: int, change: np.ndarray) -> bool:
    gap = second - first
    if gap < MIN_CUT_GAP:
        return True
    if gap > TRANSITION_FRAMES:
        return False
    floor = TRANSITION_FRACTION * min(change[first], change[second])
    return bool(change[first + 1 : second].min() >= floor)


def _local_median(values: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Median of `values` over the `LOCAL_FRAMES` frames on each side of each frame, leaving
    out the frame itself and frames that repeat the one before (`moving` False)."""
    values = np.where(moving, values, np.nan).astype(np.float64)
    values[0] = np.nan  # the first frame has nothing to compare with
    padded = np.pad(values, LOCAL_FRAMES, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * LOCAL_FRAMES + 1).copy()
    windows[:, LOCAL_FRAMES] = np.nan  # not the frame itself
    empty = np.isnan(windows).all(axis=1)
    windows[empty, 0] = 0.0
    return np.nanmedian(windows, axis=1).astype(np.float32)


# --- gradual transitions ------------------------------------------------------------------

GRADUAL_MIN_SPAN = 12.0  # change (0–255) between a transition's two ends, at least
MIX_FRACTION = 0.35  # middle frame within this × span of the ends' average: a mix of the two
STEP_FRACTION = 0.5  # no single frame may carry more than this × the span (else a cut)
GRADUAL_RATIO = 2.0  # span / the spans of the windows just before and after (not a pan)
TIGHT_FRACTION = 0.8  # the transition's extent: the smallest window with this × the best span


@dataclass(frozen=True)
class Transition:
    """A gradual transition between frames `first` and `last` (indices into the analysis)."""

    first: int
    last: int
    span: float

    @property
    def middle(self) -> int:
        return (self.first + self.last + 1) // 2


def gradual_transitions(diff: FrameDifferences, hard: list[int] = ()) -> list[Transition]:
    """Dissolves and fades: one `Transition` per group of overlapping qualifying windows.

    `hard` (the hard cuts) keeps a cut next to a transition from hiding it: a neighbouring
    window that holds a cut is not used as the transition's surroundings.
    """
    cut_count = np.cumsum(np.isin(np.arange(len(diff.change)), hard))
    candidates = [
        t for window in GRADUAL_WINDOWS for t in _gradual_windows(diff, window, cut_count)
    ]
    groups: list[list[Transition]] = []
    for candidate in sorted(candidates, key=lambda t: t.first):
        if groups and candidate.first <= max(t.last for t in groups[-1]):
            groups[-1].append(candidate)
        else:
            groups.append([candidate])
    return [_tightest(group) for group in groups]


def _gradual_windows(diff: FrameDifferences, window: int, cut_count: np.ndarray) -> list:
    """Windows of `window` frames (ending at frame i) that look like a mix of two pictures."""
    span, mix = diff.span[window], diff.mix_error[window]
    n = len(span)
    if n <= window:
        return []
    steps = np.lib.stride_tricks.sliding_window_view(diff.change, window)  # frames (i-W, i]
    largest_step = np.full(n, np.inf, np.float32)
    largest_step[window:] = steps[1:].max(axis=1)
    with np.errstate(invalid="ignore"):
        ok = (
            (span >= GRADUAL_MIN_SPAN)
            & (mix <= MIX_FRACTION * span)
            & (largest_step <= STEP_FRACTION * span)
            & (span >= GRADUAL_RATIO * _surroundings(span, window, cut_count))
            & ~_touches_cut(n, window, cut_count)
        )
    return [Transition(int(i) - window, int(i), float(span[i])) for i in np.flatnonzero(ok)]


def _touches_cut(n: int, window: int, cut_count: np.ndarray) -> np.ndarray:
    """For each window end i: is a hard cut among frames i-W … i (a window that starts on a
    cut measures the new shot's motion, not a transition)?"""
    end = np.arange(n)
    start = np.clip(end - window - 1, -1, n - 1)
    before = np.where(start >= 0, cut_count[np.maximum(start, 0)], 0)
    return cut_count[end] > before


def _surroundings(span: np.ndarray, window: int, cut_count: np.ndarray) -> np.ndarray:
    """For each window end i, the larger span of the windows just before and just after it,
    leaving out a side that holds a hard cut; if no side is clean, the smaller side; +inf
    where neither side exists (too near both ends to tell a transition from motion)."""
    n = len(span)
    before, after = np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32)
    before[window:] = span[:-window]
    after[:-window] = span[window:]
    cuts_until = np.concatenate([[0], cut_count])  # cuts among frames [0, k): cuts_until[k]
    index = np.arange(n)

    def has_cut(lo, hi):  # a hard cut among frames (lo, hi], clipped to the clip
        lo, hi = np.clip(lo + 1, 0, n), np.clip(hi + 1, 0, n)
        return cuts_until[hi] > cuts_until[lo]

    clean_before = np.where(has_cut(index - 2 * window, index - window), np.nan, before)
    clean_after = np.where(has_cut(index, index + window), np.nan, after)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN sides are expected
        clean = np.fmax(clean_before, clean_after)
        out = np.where(np.isnan(clean), np.fmin(before, after), clean)
    return np.nan_to_num(out, nan=np.inf)


def _tightest(group: list[Transition]) -> Transition:
    """The shortest window that still spans most of the change: the transition's extent."""
    best = max(t.span for t in group)
    strong = [t for t in group if t.span >= TIGHT_FRACTION * best]
    shortest = min(t.last - t.first for t in strong)
    tight = [t for t in strong if t.last - t.first == shortest]
    return max(tight, key=lambda t: t.span)


# --- the analysis -------------------------------------------------------------------------


def detect_shots(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
) -> ShotAnalysis:
    """Hard cuts, gradual transitions and the motion curve of a clip (or a range of it), from
    one low-resolution decode pass. A hard cut inside a gradual transition is not reported.
    `progress` and `cancel` as in `frame_differences`."""
    diff = frame_differences(path, start, duration, progress, cancel)
    hard = hard_cuts(diff)
    transitions = gradual_transitions(diff, hard)
    inside = {i for t in transitions for i in range(t.first, t.last + 1)}
    cuts = [_cut(diff, i, "shot", float(diff.change[i])) for i in hard if i not in inside]
    cuts += [_cut(diff, t.middle, "gradual", t.span) for t in transitions]
    return ShotAnalysis(
        rate=diff.rate,
        duration=_analysed_duration(diff, duration),
        cuts=sorted(cuts, key=lambda c: c.time),
        motion_times=diff.times,
        motion=motion_energy(diff.motion),
        brightness=diff.brightness,
    )


def motion_energy(mean_abs_luma: np.ndarray) -> np.ndarray:
    """Mean absolute luma differences (0–255) → float32 energy in [0, 1] (the motion curve)."""
    return np.clip(np.asarray(mean_abs_luma, np.float32) / 255.0, 0.0, 1.0)


def _cut(diff: FrameDifferences, index: int, kind: str, score: float) -> Cut:
    time = float(diff.times[index])
    return Cut(time=time, frame=int(round(time * diff.rate)), kind=kind, score=round(score, 3))


def _analysed_duration(diff: FrameDifferences, duration: float | None) -> float:
    covered = float(diff.times[-1]) + 1.0 / float(diff.rate)
    return covered if duration is None else min(duration, covered)


def merge_cuts(edit_points: list[Cut], shots: list[Cut], tolerance_frames: int = 1) -> list[Cut]:
    """Edit points and in-clip shot changes as one list sorted by time.

    A shot change within `tolerance_frames` of an edit point is that edit point: the edit is
    kept with its own kind ("edit", or "gradual" for a dissolve's middle, which is no hit
    point), the detection dropped. Both lists count frames from the same origin.
    """
    edit_frames = np.array([c.frame for c in edit_points], np.int64)
    kept = [
        shot
        for shot in shots
        if not len(edit_frames) or np.abs(edit_frames - shot.frame).min() > tolerance_frames
    ]
    return sorted([*edit_points, *kept], key=lambda c: (c.time, c.kind == "shot"))
