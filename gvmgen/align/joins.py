"""Joining cues on one track: equal-power crossfades where one cue meets the next."""

from __future__ import annotations

import itertools

import numpy as np

from gvmgen.align.render import fade_curve, fade_tail
from gvmgen.errors import InputError

CUE_FADE = 0.5  # s; a musical crossfade between cues (the pipeline puts it on a downbeat)
EDGE_FADE = 0.005  # s; where a cue meets silence, so its edge does not click


def crossfade_join(a: np.ndarray, b: np.ndarray, sample_rate: int, overlap: float) -> np.ndarray:
    """`a` `[C, Na]` then `b` `[C, Nb]`, overlapping by `overlap` s with an equal-power
    crossfade → `[C, Na + Nb − overlap·sr]`."""
    if a.shape[0] != b.shape[0]:
        raise InputError(f"cannot join {a.shape[0]}-channel audio to {b.shape[0]}-channel audio")
    length = int(round(overlap * sample_rate))
    if length < 0 or length > min(a.shape[1], b.shape[1]):
        raise InputError(f"crossfade of {overlap} s does not fit cues this short")
    rising = fade_curve(length, "splice")
    middle = a[:, a.shape[1] - length :] * rising[::-1] + b[:, :length] * rising
    return np.concatenate([a[:, : a.shape[1] - length], middle, b[:, length:]], axis=1)


def join_cues(
    cues: list[np.ndarray],
    starts: list[float],
    sample_rate: int,
    total_duration: float,
    fade: float = CUE_FADE,
) -> np.ndarray:
    """Place cues `[C, N_i]` at `starts` (s) on one track `[C, round(total·sr)]`.

    Where a cue runs past the next one's start, the two crossfade (equal power) over
    min(`fade`, the overlap) from that start, and the earlier cue stops there. A cue edge that
    meets silence gets a 5 ms ramp; the track's end fades out.
    """
    if len(cues) != len(starts):
        raise InputError(f"{len(cues)} cues but {len(starts)} start times")
    if any(b < a for a, b in itertools.pairwise(starts)):
        raise InputError(f"cue starts {list(starts)} are not in order")
    channels = max((c.shape[0] for c in cues), default=1)
    total = int(round(total_duration * sample_rate))
    track = np.zeros((channels, total), dtype=np.float32)
    bounds = [int(round(s * sample_rate)) for s in starts] + [total]
    crossfades = _crossfades(cues, bounds, int(round(fade * sample_rate)))
    for i, cue in enumerate(cues):
        cue = np.broadcast_to(cue, (channels, cue.shape[1]))
        fade_in = crossfades[i - 1] if i else 0
        slot = bounds[i + 1] - bounds[i]
        _mix(track, _shaped_cue(cue, slot, fade_in, crossfades[i], sample_rate), bounds[i])
    return fade_tail(track, sample_rate)


def _crossfades(cues, bounds, fade: int) -> list[int]:
    """Samples of crossfade between cue i and cue i+1: how far i runs past i+1's start, ≤ fade."""
    ends = [b + c.shape[1] for b, c in zip(bounds, cues, strict=False)]
    fades = [min(max(ends[i] - bounds[i + 1], 0), fade) for i in range(len(cues) - 1)]
    return [*fades, 0]


def _shaped_cue(cue, slot: int, fade_in: int, fade_out: int, sample_rate: int) -> np.ndarray:
    """Cue trimmed where its crossfade into the next cue ends, with its ramps applied."""
    shaped = np.array(cue[:, : max(min(cue.shape[1], slot + fade_out), 0)], dtype=np.float32)
    edge = int(round(EDGE_FADE * sample_rate))
    _ramp(shaped, fade_in or edge, "splice" if fade_in else "anchor", rising=True)
    _ramp(shaped, fade_out or edge, "splice" if fade_out else "anchor", rising=False)
    return shaped


def _ramp(audio: np.ndarray, length: int, kind: str, rising: bool) -> None:
    length = min(length, audio.shape[1])
    if length <= 0:
        return
    curve = fade_curve(length, kind)
    if rising:
        audio[:, :length] *= curve
    else:
        audio[:, audio.shape[1] - length :] *= curve[::-1]


def _mix(track: np.ndarray, cue: np.ndarray, first: int) -> None:
    lo, hi = max(first, 0), min(first + cue.shape[1], track.shape[1])
    if hi > lo:
        track[:, lo:hi] += cue[:, lo - first : hi - first]
