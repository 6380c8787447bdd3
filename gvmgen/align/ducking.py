"""Ducking: the music dips under the timeline's own dialogue, slowly enough not to pump.

The speech is known in advance (found in the whole range before any music is placed), so the
dip starts `ATTACK` before the first word and the music is fully down when it is spoken; it
comes back `HOLD` after the last word, over `RELEASE`. Gaps between phrases shorter than a dip
and a recovery stay down: a gain that rises for half a second between two sentences is the
pumping an editor would ride out by hand. Gain moves linearly in dB, so no change is faster
than `depth / ATTACK` dB per second.

Ducking comes last in the chain (align → ending → loudness → duck → stems): loudness, sync and
segue checks are measured on the clean music, and both copies are delivered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ATTACK = 0.15  # s: the dip, ending as the first word starts
RELEASE = 0.6  # s: the recovery, starting HOLD after the last word
HOLD = 0.25  # s: stay down this long after speech (a breath, the end of a word's decay)


@dataclass(frozen=True)
class Dip:
    """One stretch where the music is down: it falls over `[fall, down)`, stays down until
    `up`, and is back at full level at `back` (seconds)."""

    fall: float
    down: float
    up: float
    back: float


def dips(speech: list[tuple[float, float]], attack: float = ATTACK, release: float = RELEASE):
    """The dips for speech regions `[(start, end)]` (seconds, any order): one per phrase, joined
    where the music would not get back to full level in between."""
    out: list[Dip] = []
    for start, end in sorted(speech):
        if end <= start:
            continue
        dip = Dip(start - attack, start, end + HOLD, end + HOLD + release)
        if out and dip.fall <= out[-1].back:
            last = out[-1]
            dip = Dip(last.fall, last.down, max(last.up, dip.up), max(last.back, dip.back))
            out[-1] = dip
        else:
            out.append(dip)
    return out


def duck_gain_db(
    times: np.ndarray,
    speech: list[tuple[float, float]],
    depth_db: float,
    attack: float = ATTACK,
    release: float = RELEASE,
) -> np.ndarray:
    """Gain in dB at each of `times` (seconds): 0 away from speech, `depth_db` under it."""
    knots_t, knots_g = [], []
    for dip in dips(speech, attack, release):
        knots_t += [dip.fall, dip.down, dip.up, dip.back]
        knots_g += [0.0, depth_db, depth_db, 0.0]
    if not knots_t:
        return np.zeros(len(times))
    return np.interp(times, knots_t, knots_g, left=0.0, right=0.0)


def duck(
    music: np.ndarray,
    sample_rate: int,
    speech: list[tuple[float, float]],
    depth_db: float,
    offset: float = 0.0,
    attack: float = ATTACK,
    release: float = RELEASE,
) -> np.ndarray:
    """`music` `[C, N]` with the gain of `duck_gain_db` applied; `offset` is the music's first
    sample's time on the speech regions' clock (a cue's start in the range)."""
    if not speech or not depth_db:
        return np.asarray(music, dtype=np.float32)
    times = offset + np.arange(music.shape[1]) / sample_rate
    gain = 10 ** (duck_gain_db(times, speech, -abs(depth_db), attack, release) / 20)
    return (music * gain.astype(np.float32)).astype(np.float32)
