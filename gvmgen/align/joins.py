"""Joining cues on one track: equal-power crossfades where one cue meets the next, and the
gain that shapes a cue's ending (what may ring past its out frame, and how it decays)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from gvmgen.align.render import fade_curve, fade_tail
from gvmgen.errors import InputError

CUE_FADE = 0.5  # s; a musical crossfade between cues (the pipeline puts it on a downbeat)
EDGE_FADE = 0.005  # s; where a cue meets silence, so its edge does not click
GONE_BEFORE_OUT = 0.02  # s; at the outer end the music is silent this long before the out frame
# How long an accent at the outer end rings before it must be gone, by ending kind, and the
# longest a fade ending takes.
DECAY_SECONDS = {"button": 1.0, "ring": 2.2}
FADE_SECONDS = (2.0, 6.0)  # a fade ending: a quarter of the cue, within these bounds


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
    fade: float | Sequence[float] = CUE_FADE,
    rests: Sequence[bool] | None = None,
) -> np.ndarray:
    """Place cues `[C, N_i]` at `starts` (s) on one track `[C, round(total·sr)]`.

    Where a cue runs past the next one's start, the two crossfade (equal power) over
    min(`fade`, the overlap) from that start, and the earlier cue stops there; `fade` is one
    length for every join or one per join. Into a rest (`rests`; default: a cue of zeros) the
    earlier cue rings on as it is. A cue edge that meets silence gets a 5 ms ramp; the track's
    end fades.
    """
    if len(cues) != len(starts):
        raise InputError(f"{len(cues)} cues but {len(starts)} start times")
    if any(b < a for a, b in itertools.pairwise(starts)):
        raise InputError(f"cue starts {list(starts)} are not in order")
    channels = max((c.shape[0] for c in cues), default=1)
    total = int(round(total_duration * sample_rate))
    track = np.zeros((channels, total), dtype=np.float32)
    bounds = [int(round(s * sample_rate)) for s in starts] + [total]
    fades = [fade] * max(len(cues) - 1, 0) if np.isscalar(fade) else list(fade)
    rests = [not np.any(c) for c in cues] if rests is None else list(rests)
    crossfades = _crossfades(cues, bounds, [int(round(f * sample_rate)) for f in fades], rests)
    for i, cue in enumerate(cues):
        cue = np.broadcast_to(cue, (channels, cue.shape[1]))
        fade_in = crossfades[i - 1] if i else 0
        keep = bounds[i + 1] - bounds[i] + crossfades[i]
        if i + 1 < len(cues) and rests[i + 1]:
            keep = cue.shape[1]  # into a rest: the cue's own ending, as far as it rings
        _mix(track, _shaped_cue(cue, keep, fade_in, crossfades[i], sample_rate), bounds[i])
    return fade_tail(track, sample_rate)


def _crossfades(cues, bounds, fades: list[int], rests: list[bool]) -> list[int]:
    """Samples of crossfade between cue i and cue i+1: how far i runs past i+1's start, ≤ its
    fade; none into silence (the earlier cue rings on into it, ending as it was shaped)."""
    ends = [b + c.shape[1] for b, c in zip(bounds, cues, strict=False)]
    out = [
        0 if rests[i + 1] else min(max(ends[i] - bounds[i + 1], 0), fades[i])
        for i in range(len(cues) - 1)
    ]
    return [*out, 0]


def _shaped_cue(cue, keep: int, fade_in: int, fade_out: int, sample_rate: int) -> np.ndarray:
    """Cue trimmed to `keep` samples (where its crossfade into the next cue ends), with its
    ramps applied."""
    shaped = np.array(cue[:, : max(min(cue.shape[1], keep), 0)], dtype=np.float32)
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


def ending_gain(n: int, sample_rate: int, ending, accent: float | None = None) -> np.ndarray:
    """Gain `[n]` that ends a cue of `n` samples as `ending` (`gvmgen.engines.base.Ending`)
    asks: 1 up to the ending, a raised-cosine release, 0 after.

    - button or ring with `ending.ring` > 0: the accent on the out frame keeps its attack; the
      release runs from the out frame to `out + ring`, nothing sounds past it;
    - button or ring at the outer end (`ring` 0): the accent at `accent` (s) rings out, released
      over at most `DECAY_SECONDS`, silent `GONE_BEFORE_OUT` before the out frame;
    - fade: over the last quarter of the cue (2–6 s), to silence at `out + ring` (at the outer
      end, `GONE_BEFORE_OUT` before the out frame).
    """
    stop = ending.out + ending.ring if ending.ring > 0 else ending.out - GONE_BEFORE_OUT
    if ending.kind == "fade":
        start = stop - float(np.clip(0.25 * ending.out, *FADE_SECONDS))
    elif ending.ring > 0:
        start = ending.out
    else:
        start = stop - DECAY_SECONDS[ending.kind]
        if accent is not None:
            start = max(start, min(accent + 0.25, stop))
    return release_gain(n, sample_rate, max(start, 0.0), max(stop, 0.0))


def release_gain(n: int, sample_rate: int, start: float, stop: float) -> np.ndarray:
    """Gain `[n]`: 1 until `start` s, a raised-cosine fall to 0 at `stop` s, 0 after."""
    gain = np.ones(n, dtype=np.float32)
    first, last = (min(max(int(round(t * sample_rate)), 0), n) for t in (start, stop))
    if last > first:
        x = (np.arange(last - first, dtype=np.float64) + 0.5) / (last - first)
        gain[first:last] = (0.5 + 0.5 * np.cos(np.pi * x)).astype(np.float32)
    gain[last:] = 0.0
    return gain


# --- segues that keep the loudness ------------------------------------------------------------

SHORT_TERM = 3.0  # s: the short-term loudness window (EBU Tech 3341) a join is judged over
SEGUE_EASE = 8.0  # s: an incoming cue eases from the outgoing's level to its own over this
SEGUE_TOLERANCE = 1.0  # LU: a step this small is left alone


def short_term_lufs(audio: np.ndarray, sample_rate: int, start: float, stop: float) -> float:
    """Loudness (LUFS, BS.1770 K-weighted, by pyloudnorm) of `audio` `[C, N]` over
    `[start, stop)` s as one block, so ungated but for BS.1770's −70 LUFS floor: the short-term
    loudness of EBU Tech 3341 over a 3 s window. -inf where it is silent."""
    import pyloudnorm

    first, last = (min(max(int(round(t * sample_rate)), 0), audio.shape[1]) for t in (start, stop))
    part = np.asarray(audio[:, first:last], dtype=np.float64).T
    if part.shape[0] == 0 or not np.any(part):
        return float("-inf")
    meter = pyloudnorm.Meter(sample_rate, block_size=part.shape[0] / sample_rate)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(part))


def loudness_step(track: np.ndarray, sample_rate: int, at: float) -> float:
    """Short-term loudness just after `at` s on `track` less just before it (LU; nan where
    either side is silent)."""
    before = short_term_lufs(track, sample_rate, at - SHORT_TERM, at)
    after = short_term_lufs(track, sample_rate, at, at + SHORT_TERM)
    return after - before if np.isfinite(before) and np.isfinite(after) else float("nan")


def entrance_gain(n: int, sample_rate: int, step_db: float, ease: float = SEGUE_EASE):
    """Gain `[n]` that starts a cue `step_db` from its own level and eases (raised cosine) to
    its own level over `ease` s (at most half the cue)."""
    length = min(int(round(ease * sample_rate)), n // 2)
    db = np.zeros(n, dtype=np.float64)
    if length > 0:
        x = (np.arange(length, dtype=np.float64) + 0.5) / length
        db[:length] = step_db * (0.5 + 0.5 * np.cos(np.pi * x))
    return (10 ** (db / 20)).astype(np.float32)
