"""Render a warp plan: each piece time-stretched by Rubber Band (pitch kept), joined by short
crossfades that end just before the beat at the join, so every attack stays whole.

Pieces are stretched one by one, each with a constant factor and a little context either side,
rather than in one pass with a time-varying factor: measured here (pedalboard 0.9.26), the
varying-ratio mode returned 0.11 s more audio than its ratio map asks for on an 8 s test, so its
anchors cannot be trusted to the millisecond; a constant factor per piece lands beats within
±2 ms over 20 s (tests/align: test_stretched_beats_land_where_the_map_says).
A piece that would move by at most COPY_DRIFT is copied sample for sample.
"""

from __future__ import annotations

import numpy as np

from gvmgen.align.plan_types import AlignmentPlan, Piece

JOIN_FADE = 0.012  # s; long enough to hide a jump, short enough to keep the groove
JOIN_LEAD = 0.004  # s; the crossfade ends this long before the join: the next attack is whole
CONTEXT = 0.1  # s of music either side of a piece given to the stretcher
TAIL_FADE = 0.1  # s; the cue's last moment fades rather than stops
# A piece whose stretch would move its music by at most this much over its whole length is
# copied, not stretched: the next piece still starts at its own planned source time, so no
# anchor moves, the join's crossfade hides a jump this small, and Rubber Band (most of the
# render's cost) is skipped for the near-unity pieces an engine with a known grid produces.
COPY_DRIFT = 0.005  # s


def render_alignment(audio: np.ndarray, sample_rate: int, plan: AlignmentPlan) -> np.ndarray:
    """Music `[C, N]` warped by `plan` → `[C, round(plan.duration * sample_rate)]` float32."""
    audio = np.asarray(audio, dtype=np.float32)
    total = int(round(plan.duration * sample_rate))
    out = np.zeros((audio.shape[0], total), dtype=np.float32)
    pieces = plan.pieces
    for i, piece in enumerate(pieces):
        fade_in = None if i == 0 else _join_kind(pieces[i - 1], piece)
        fade_out = None if i == len(pieces) - 1 else _join_kind(piece, pieces[i + 1])
        _add_piece(out, audio, sample_rate, piece, fade_in, fade_out)
    if pieces and pieces[0].source_start > 0:  # music slipped: enter it without a click
        ramp = min(int(round(JOIN_FADE * sample_rate)), total)
        out[:, :ramp] *= fade_curve(ramp, "anchor")
    return fade_tail(out, sample_rate)


def _join_kind(before: Piece, after: Piece) -> str:
    """'anchor' joins continue the same music (equal gain); 'splice' joins jump (equal power)."""
    return "anchor" if abs(before.source_end - after.source_start) < 1e-6 else "splice"


def _add_piece(out, audio, sample_rate: int, piece: Piece, fade_in, fade_out) -> None:
    """Mix one piece into `out` over its span, including the crossfades it shares."""
    margin = JOIN_LEAD + JOIN_FADE
    start_time = piece.target_start - margin if fade_in else piece.target_start
    end_time = piece.target_end - JOIN_LEAD if fade_out else piece.target_end
    first = max(int(round(start_time * sample_rate)), 0)
    last = min(int(round(end_time * sample_rate)), out.shape[1])
    if last <= first:
        return
    rendered = _stretched(audio, sample_rate, piece, first, last)
    out[:, first:last] += rendered * _window(last - first, sample_rate, fade_in, fade_out)


def _stretched(audio, sample_rate: int, piece: Piece, first: int, last: int) -> np.ndarray:
    """Output samples `[first, last)` of `piece`: source mapped linearly, stretched if needed."""
    factor = piece.tempo_factor

    def source_at(n):  # output sample index → source seconds
        return piece.source_start + (n / sample_rate - piece.target_start) * factor

    if abs(factor - 1.0) * (piece.target_end - piece.target_start) <= COPY_DRIFT:
        offset = int(round(source_at(first) * sample_rate))
        return _slice(audio, offset, offset + (last - first))
    context = int(round(CONTEXT * sample_rate))
    chunk_first = int(np.floor(source_at(first) * sample_rate)) - context
    chunk_last = int(np.ceil(source_at(last) * sample_rate)) + context
    stretched = _time_stretch(_slice(audio, chunk_first, chunk_last), sample_rate, factor)
    # where output sample `first` falls in the stretched chunk
    start = int(round((source_at(first) - chunk_first / sample_rate) / factor * sample_rate))
    return _slice(stretched, start, start + (last - first))


def _time_stretch(chunk: np.ndarray, sample_rate: int, factor: float) -> np.ndarray:
    """Rubber Band (pedalboard), pitch kept: `factor` > 1 plays faster (shorter)."""
    import pedalboard

    return pedalboard.time_stretch(
        np.ascontiguousarray(chunk, dtype=np.float32),
        float(sample_rate),
        stretch_factor=float(factor),
        high_quality=True,
    )


def _slice(audio: np.ndarray, first: int, last: int) -> np.ndarray:
    """`audio[:, first:last]`, zero-padded where the range runs off either end."""
    out = np.zeros((audio.shape[0], last - first), dtype=np.float32)
    lo, hi = max(first, 0), min(last, audio.shape[1])
    if hi > lo:
        out[:, lo - first : hi - first] = audio[:, lo:hi]
    return out


def _window(length: int, sample_rate: int, fade_in, fade_out) -> np.ndarray:
    """Gain `[length]`: 1 with crossfade ramps at the ends that have a neighbour."""
    gain = np.ones(length, dtype=np.float32)
    ramp = min(int(round(JOIN_FADE * sample_rate)), length)
    if fade_in:
        gain[:ramp] *= fade_curve(ramp, fade_in)
    if fade_out:
        gain[length - ramp :] *= fade_curve(ramp, fade_out)[::-1]
    return gain


def fade_curve(length: int, kind: str) -> np.ndarray:
    """Rising half of a crossfade `[length]`: 'splice' is equal power (sin), else equal gain."""
    x = (np.arange(length, dtype=np.float64) + 0.5) / max(length, 1)
    rising = np.sin(0.5 * np.pi * x)
    return (rising if kind == "splice" else rising**2).astype(np.float32)


def fade_tail(audio: np.ndarray, sample_rate: int, seconds: float = TAIL_FADE) -> np.ndarray:
    """Fade the last `seconds` to silence (a cosine ramp) so the cue ends, not stops."""
    length = min(int(round(seconds * sample_rate)), audio.shape[1])
    if length > 0:
        audio[:, -length:] *= fade_curve(length, "anchor")[::-1]
    return audio
