"""Endings: where a cue's last accent lands, and what plays on it.

- `button`: a final accent (kick, snare, crash, a short stab of the home chord) on the out frame;
- `ring`: the home chord struck and left to ring;
- `fade`: no accent: the groove thins out over the last bars while the level fades.

Inside a batch (the ending may ring past the out frame) the accent lands on the out frame itself,
which the grid makes a downbeat. At the outer end of what was scored the music must have decayed
by the out frame, so the accent lands on the last downbeat that leaves `ROOM` seconds for it.
"""

from __future__ import annotations

import numpy as np

from gvmgen.align.joins import DECAY_SECONDS
from gvmgen.engines.arranger.harmony import scale_pitch
from gvmgen.engines.arranger.parts import LEAD_BASE, BarContext, NoteSink
from gvmgen.engines.arranger.score import GM_CRASH, GM_KICK, GM_SNARE
from gvmgen.engines.base import Ending

ROOM = {**DECAY_SECONDS, "fade": 0.0}  # s an outer-end accent needs to decay in
FADE_BARS = 4  # a fade ending thins the groove over this many bars


def final_bar(downbeats: np.ndarray, ending: Ending) -> int:
    """The bar whose downbeat carries the ending (a fade: the last bar that starts before the
    music must be gone)."""
    if ending.kind == "fade":
        stop = ending.out + ending.ring
        return max(0, int(np.searchsorted(downbeats, stop - 1e-6)) - 1)
    if ending.ring > 0:
        return int(np.argmin(np.abs(downbeats - ending.out)))
    latest = ending.out - ROOM[ending.kind]
    return max(0, int(np.searchsorted(downbeats, latest + 1e-6)) - 1)


def write_final(
    sink: NoteSink, ctx: BarContext, ending: Ending, tonic: int, register: int, hold_beats: float
) -> None:
    """The accent of a button or ring on the bar's downbeat; `hold_beats` is how long a ring's
    chord is held (to the end of what may sound)."""
    button = ending.kind == "button"
    length = 0.5 if button else max(hold_beats, 1.0)
    sink.add("kick", ctx.beat, 0.25, GM_KICK, 1.0)
    sink.add("crash", ctx.beat, 4.0, GM_CRASH, 0.9 if button else 0.6)
    if button:
        sink.add("snare", ctx.beat, 0.25, GM_SNARE, 0.9)
    sink.add("bass", ctx.beat, length, ctx.chord.bass, 0.95)
    role = "keys" if button else "pad"
    for pitch in ctx.chord.voicing:
        sink.add(role, ctx.beat, length, pitch, 0.85 if button else 0.65)
    home = scale_pitch(tonic, ctx.section.mode, 7, base=LEAD_BASE + 12 * register)
    sink.add(ctx.section.melody, ctx.beat, length, int(home), 0.8)
