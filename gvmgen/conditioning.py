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
from dataclasses import dataclass

import numpy as np

from gvmgen.align.priorities import KIND_PRIORITY, Priority
from gvmgen.analysis import Analysis
from gvmgen.engines.base import CueConditioning

FRAME_SIZE = 336  # CLIP ViT-L/14@336; GVMGen's frames, and plenty for the arranger's mood
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
    """Times of the hit targets inside the cue, seconds from the cue start: the hard cuts and
    the editor's `hit` markers (`cue_sync_points` less the dissolves), in time order.

    A cut within EDGE_FRAMES of the cue's start or end is that cue boundary itself (the next
    cue enters on its own downbeat there), so it is not a hit target inside the cue.
    """
    points = cue_sync_points(analysis, start, duration)
    return np.array([p.time for p in points if p.priority.counted], dtype=np.float64)


@dataclass(frozen=True)
class SyncPoint:
    """A moment of the cue the music should land a beat on, ranked (`Priority`).

    :ivar time: seconds from the cue start.
    :ivar kind: the cut's kind ("edit", "shot", "gradual"), or "marker" for a `hit` marker
        that is on no cut.
    :ivar label: a must-hit marker's words after "hit" ("logo" for "hit: logo").
    """

    time: float
    kind: str
    priority: Priority
    label: str = ""


def cue_sync_points(analysis: Analysis, start: float, duration: float) -> tuple[SyncPoint, ...]:
    """Every sync point inside the cue, in time order: each cut with the rank of its kind, a
    cut under a `hit` marker (within a frame) raised to must-hit, and a `hit` marker on no cut
    a must-hit of its own. Points within EDGE_FRAMES of the cue's edges are its boundaries."""
    from gvmgen.timeline.markers import read_conventions

    edge, frame = EDGE_FRAMES / analysis.rate, 1.0 / analysis.rate
    markers = getattr(analysis.edit, "markers", ()) if analysis.edit is not None else ()
    hits = [(h.seconds, h.label) for h in read_conventions(list(markers)).must_hits]
    points, used = [], set()
    for cut in analysis.cuts:
        under = [i for i, (t, _) in enumerate(hits) if abs(t - cut.time) <= frame + 1e-9]
        used.update(under)
        priority = Priority.MUST_HIT if under else KIND_PRIORITY.get(cut.kind, Priority.SHOT)
        label = hits[under[0]][1] if under else ""
        points.append(SyncPoint(cut.time - start, cut.kind, priority, label))
    points += [
        SyncPoint(t - start, "marker", Priority.MUST_HIT, label)
        for i, (t, label) in enumerate(hits)
        if i not in used
    ]
    inside = [p for p in points if edge < p.time < duration - edge]
    return tuple(sorted(inside, key=lambda p: (p.time, p.priority)))


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
