"""How well music sits on the cuts, measured on the output itself (beats re-tracked, never taken
from the plan), and a click detector for the joins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.align.beats import BeatGrid, track_beats
from gvmgen.align.plan_types import AlignmentPlan

CLICK_RATIO = 12.0  # a click's 2nd difference towers over its surroundings by this much
CLICK_FLOOR = 2e-3  # ignore spikes below this (≈ −54 dBFS): dither, silence
CLICK_CONTEXT = 0.005  # s either side that define "its surroundings"
CLICK_MERGE = 0.010  # s; spikes closer than this are one click
EDGE_MARGIN = 0.025  # s: a beat this close to the ±50 ms tolerance leaves the verdict open
SOFT_ATTACK = 0.050  # s from attack to onset peak: beyond it, where the beat is felt is open
SILENCE_FLOOR = 1e-5  # ≈ −100 dBFS: below this every channel is digital silence
SILENCE_RUN = 0.050  # s; a silent stretch this long is a hole in the music, not a gap


@dataclass(frozen=True)
class AlignmentMetrics:
    """Hit rates (fractions of cuts with a re-tracked beat within the tolerance), the plan's
    stretch and splices, the length error (s) and clicks found. `per_cut` holds one dict per
    cut: `{"time", "hit", "hit_1frame", "offset_ms", "beat_phase", "reason"?}` (hit = within
    ±50 ms; offset_ms = nearest beat − cut, the nudge that would land a missed cut; beat_phase =
    that distance in beats, 0.5 = the off-beat; only a missed cut has a reason)."""

    hit_rate_1frame: float | None  # None: no cut in the cue, no rate to claim
    hit_rate_50ms: float | None
    hit_rate_100ms: float | None
    max_stretch: float
    mean_stretch: float
    splices: int
    duration_error: float
    clicks: int
    per_cut: list[dict]
    silence: float = 0.0  # seconds of digital silence in runs over SILENCE_RUN

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def measure_alignment(
    audio: np.ndarray,
    sample_rate: int,
    cuts,
    fps: float = 24.0,
    plan: AlignmentPlan | None = None,
    tempo: float | None = None,
) -> AlignmentMetrics:
    """Re-track the beats of `audio` `[C, N]` and score each cut against the nearest beat.

    `tempo` (BPM): the tempo of the music before it was warped (`track_beats`): the re-measure
    keeps its metrical level and follows the warp's tempo steps."""
    beats = track_beats(audio, sample_rate, tempo=tempo or None)
    return metrics_from_beats(audio, sample_rate, beats, cuts, fps, plan)


def metrics_from_beats(audio, sample_rate, beats: BeatGrid, cuts, fps, plan) -> AlignmentMetrics:
    """`measure_alignment` with the output's beats already tracked."""
    cuts = np.sort(np.asarray(cuts, dtype=np.float64).reshape(-1))
    offsets = cut_offsets(beats.times, cuts)
    frame = 1.0 / fps
    per_cut = _per_cut(cuts, offsets, beat_phases(beats.times, cuts), frame, plan)
    for row, sure in zip(per_cut, certain_verdicts(beats, cuts, offsets), strict=True):
        row["certain"] = sure
    duration = audio.shape[1] / sample_rate
    return AlignmentMetrics(
        hit_rate_1frame=hit_rate(offsets, frame),
        hit_rate_50ms=hit_rate(offsets, 0.050),
        hit_rate_100ms=hit_rate(offsets, 0.100),
        max_stretch=plan.max_stretch if plan else 0.0,
        mean_stretch=plan.mean_stretch if plan else 0.0,
        splices=len(plan.splices) if plan else 0,
        duration_error=duration - plan.duration if plan else 0.0,
        clicks=detect_clicks(audio, sample_rate),
        per_cut=per_cut,
        silence=silent_seconds(audio, sample_rate),
    )


def certain_verdicts(beats: BeatGrid, cuts: np.ndarray, offsets: np.ndarray) -> list[bool]:
    """Whether each cut's hit-or-miss verdict is sure `[M]`. Not where the nearest beat sits
    within `EDGE_MARGIN` of the ±50 ms tolerance (trackers place one beat up to ~25 ms apart,
    so another listener may call it either way), nor where that beat's attack is soft (its
    onset peaks over `SOFT_ATTACK` after it: the beat felt lies anywhere in between). Chosen
    on the shared clips against calibrated madmom (bench/align_bench.py)."""
    verdicts = []
    for cut, offset in zip(cuts, offsets, strict=True):
        if not np.isfinite(offset):
            verdicts.append(True)  # no beat anywhere: surely missed
            continue
        near_edge = abs(abs(offset) - 0.050) < EDGE_MARGIN
        soft = False
        if beats.peaks is not None and len(beats.peaks) == len(beats.times):
            i = int(np.argmin(np.abs(beats.times - (cut + offset))))
            soft = beats.peaks[i] - beats.times[i] > SOFT_ATTACK
        verdicts.append(not (near_edge or soft))
    return verdicts


def cut_offsets(beat_times: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Signed seconds from each cut `[M]` to its nearest beat (+inf when there are no beats)."""
    if len(beat_times) == 0:
        return np.full(len(cuts), np.inf)
    index = np.clip(np.searchsorted(beat_times, cuts), 1, max(len(beat_times) - 1, 1))
    left = beat_times[index - 1]
    right = beat_times[np.minimum(index, len(beat_times) - 1)]
    nearest = np.where(np.abs(cuts - left) <= np.abs(right - cuts), left, right)
    return nearest - cuts


def beat_phases(beat_times: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """|offset to the nearest beat| / the beat interval around each cut `[M]` (0 on a beat,
    0.5 on the off-beat; nan with fewer than two beats)."""
    if len(beat_times) < 2:
        return np.full(len(cuts), np.nan)
    index = np.clip(np.searchsorted(beat_times, cuts), 1, len(beat_times) - 1)
    period = beat_times[index] - beat_times[index - 1]
    return np.minimum(np.abs(cut_offsets(beat_times, cuts)) / period, 0.5)


def hit_rate(offsets: np.ndarray, tolerance: float) -> float | None:
    """Fraction of cuts with a beat within ±tolerance s (None when there are no cuts: "no
    cuts in range", not "100 % hit")."""
    if len(offsets) == 0:
        return None
    return float(np.mean(np.abs(offsets) <= tolerance + 1e-9))


def _per_cut(cuts, offsets, phases, frame: float, plan: AlignmentPlan | None) -> list[dict]:
    left = _unhit_by_index(cuts, plan)
    reasons = {i: u.reason for i, u in left.items()}
    rows = []
    for index, (time, offset, phase) in enumerate(zip(cuts, offsets, phases, strict=True)):
        finite = bool(np.isfinite(offset))
        row = {
            "time": float(time),
            "hit": bool(abs(offset) <= 0.050 + 1e-9),
            "hit_1frame": bool(abs(offset) <= frame + 1e-9),
            "offset_ms": round(float(offset) * 1000, 1) if finite else None,
            "beat_phase": round(float(phase), 2) if np.isfinite(phase) else None,
        }
        if not row["hit"]:
            row["reason"] = reasons.get(index) or _measured_miss(offset)
            if index in left and left[index].alternative:
                row["alternative"] = left[index].alternative
        rows.append(row)
    return rows


def _measured_miss(offset: float) -> str:
    """Why a cut the plan meant to hit is a miss, from what the output was measured to do."""
    if not np.isfinite(offset):
        return "no beat found in the output"
    side = "after" if offset > 0 else "before"
    return f"planned on a beat, but the output's nearest beat is {abs(offset) * 1000:.0f} ms {side}"


def _unhit_by_index(cuts: np.ndarray, plan: AlignmentPlan | None) -> dict:
    """The plan's left cuts (`UnhitCut`, with why) by index into `cuts` (matched by time if
    the plan was made for other cut times)."""
    if plan is None:
        return {}
    if len(plan.cuts) == len(cuts) and np.allclose(plan.cuts, cuts):
        return {u.index: u for u in plan.unhit}
    index = {round(float(t), 6): i for i, t in enumerate(cuts)}
    return {index[round(u.time, 6)]: u for u in plan.unhit if round(u.time, 6) in index}


def silent_runs(audio: np.ndarray, sample_rate: int, shortest: float = SILENCE_RUN) -> np.ndarray:
    """(start, end) seconds `[R, 2]` of each run of digital silence in `audio` `[C, N]` (every
    channel below `SILENCE_FLOOR`) lasting at least `shortest` seconds."""
    quiet = np.all(np.abs(np.asarray(audio)) < SILENCE_FLOOR, axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    runs = edges.reshape(-1, 2)
    runs = runs[runs[:, 1] - runs[:, 0] >= shortest * sample_rate]
    return runs / sample_rate


def silent_seconds(audio: np.ndarray, sample_rate: int) -> float:
    """Seconds of `audio` `[C, N]` in runs of digital silence longer than `SILENCE_RUN`."""
    runs = silent_runs(audio, sample_rate)
    return float((runs[:, 1] - runs[:, 0]).sum()) if len(runs) else 0.0


def detect_clicks(audio: np.ndarray, sample_rate: int) -> int:
    """Count clicks: single-sample jumps whose second difference dwarfs the local level.

    Music's own transients (drums, plucks) are spread over many samples and raise the local
    level with them; a discontinuity from a bad join is one or two samples tall.
    """
    signal = np.asarray(audio, dtype=np.float64).mean(axis=0)
    if len(signal) < 8:
        return 0
    spike = np.abs(np.diff(signal, n=2))
    local = _local_rms(spike, int(round(CLICK_CONTEXT * sample_rate)))
    suspect = np.flatnonzero((spike > CLICK_RATIO * local) & (spike > CLICK_FLOOR))
    if len(suspect) == 0:
        return 0
    gap = int(round(CLICK_MERGE * sample_rate))
    return int(1 + np.count_nonzero(np.diff(suspect) > gap))


def _local_rms(x: np.ndarray, half: int) -> np.ndarray:
    """RMS of `x` over ±half samples, leaving out the 5 samples at the centre."""
    power = np.concatenate([[0.0], np.cumsum(x * x)])
    n = np.arange(len(x))

    def window_sum(lo, hi):
        lo, hi = np.clip(lo, 0, len(x)), np.clip(hi, 0, len(x))
        return power[hi] - power[lo], hi - lo

    total, count = window_sum(n - half, n + half + 1)
    centre, centre_count = window_sum(n - 2, n + 3)
    return np.sqrt((total - centre) / np.maximum(count - centre_count, 1))
