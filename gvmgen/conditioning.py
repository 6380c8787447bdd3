"""What the picture says about one cue: frames at 1 fps, cut times and motion.

Frames are sampled per visible segment, by timestamp, at the instants `cue_start + k / fps` of
the scored range, and come out in CLIP's geometry exactly as the official GVMGen code makes it
(bicubic resize of the full-size picture's short side to 336, torchvision's centre crop:
`media.video.clip_geometry`), so every engine gets one stack `[N, 336, 336, 3]` whatever the
sources' sizes.

Frame *selection* differs from the official code on purpose. It keeps every `int(fps)`-th
decoded frame (`i % int(29.97) == 0`: every 29th at 29.97 fps, one each 0.968 s, drifting
~0.94 s behind the picture by the 30th frame) and starts at the file's first frame; we take the
frame on screen at each whole second of the scored range, by timestamp, at any frame rate and
from any start, so frame k is the picture k seconds into the cue.
"""

from __future__ import annotations

import math

import numpy as np

from gvmgen.analysis import Analysis
from gvmgen.engines.base import CueConditioning

FRAME_SIZE = 336  # CLIP ViT-L/14@336; GVMGen's frames, and plenty for the arranger's mood
HIT_KINDS = ("edit", "shot")  # gradual transitions colour the music but are not hit points
EDGE_FRAMES = 2  # a cut this close to a cue's edge belongs to the boundary


def cue_conditioning(
    analysis: Analysis,
    start: float,
    duration: float,
    fps: float = 1.0,
    prompt_audio: np.ndarray | None = None,
) -> CueConditioning:
    """The conditioning of the cue `[start, start + duration)` (seconds from the range start)."""
    times = start + np.arange(max(1, math.ceil(duration * fps - 1e-9))) / fps
    frames = _frames_at(analysis, times)
    cuts = cue_cut_times(analysis, start, duration)
    inside = (analysis.motion_times >= start) & (analysis.motion_times < start + duration)
    return CueConditioning(
        duration=duration,
        frames=frames,
        frame_times=times - start,
        cuts=cuts,
        motion=analysis.motion[inside],
        motion_times=analysis.motion_times[inside] - start,
        prompt_audio=prompt_audio,
    )


def cue_cut_times(analysis: Analysis, start: float, duration: float) -> np.ndarray:
    """Times of the hard cuts inside the cue, seconds from the cue start.

    A cut within EDGE_FRAMES of the cue's start or end is that cue boundary itself (the next
    cue enters on its own downbeat there), so it is not a hit target inside the cue.
    """
    edge = EDGE_FRAMES / analysis.rate
    times = [c.time - start for c in analysis.cuts if c.kind in HIT_KINDS]
    return np.array([t for t in times if edge < t < duration - edge], dtype=np.float64)


def _frames_at(analysis: Analysis, times: np.ndarray) -> np.ndarray:
    """One frame per instant; black where no media is visible (a gap, or media missing)."""
    out = np.zeros((len(times), FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
    for segment in analysis.edit.segments:
        if segment.media_path is None:
            continue
        first = segment.record_range.start_time.to_seconds()
        last = first + segment.record_range.duration.to_seconds()
        index = np.flatnonzero((times >= first) & (times < last))
        if len(index):
            out[index] = _segment_frames(segment, times[index] - first)[: len(index)]
    return out


def _segment_frames(segment, offsets: np.ndarray) -> np.ndarray:
    from gvmgen.media.video import sample_frames

    step = float(offsets[1] - offsets[0]) if len(offsets) > 1 else 1.0
    sampled = sample_frames(
        segment.media_path,
        start=segment.file_offset + float(offsets[0]),
        duration=float(offsets[-1] - offsets[0]) + step / 2,
        fps=1.0 / step,
        clip_size=FRAME_SIZE,
    )
    frames = sampled.frames if len(sampled.frames) else None
    if frames is None or len(frames) < len(offsets):  # media shorter than the timeline says
        pad = np.zeros((len(offsets), FRAME_SIZE, FRAME_SIZE, 3), np.uint8)
        if frames is not None:
            pad[: len(frames)] = frames
        frames = pad
    return frames
