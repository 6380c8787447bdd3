"""Parts: drums, bass, chords and a melodic line written bar by bar as note events.

Every writer works in beats (global beat index + fraction) on the grid; `NoteSink.to_notes`
turns beats into seconds through the tempo map at the end, so the parts follow every tempo change
and every anchor cut falls on a downbeat in all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.engines.arranger.form import Grid
from gvmgen.engines.arranger.harmony import Chord, scale_pitch
from gvmgen.engines.arranger.score import (
    GM_CLOSED_HAT,
    GM_CRASH,
    GM_KICK,
    GM_OPEN_HAT,
    GM_SIDE_STICK,
    GM_SNARE,
    GM_TOMS,
    Note,
    Section,
)

# Drum patterns: 16 steps (sixteenth notes) of a 4-beat bar, two variants per density.
# Kick on 1 and 3 and snare on 2 and 4 in every variant: the beat stays trackable.
_DRUMS: dict[int, tuple[dict[str, str], ...]] = {
    0: (
        {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x...x...x...x..."},
        {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
    ),
    1: (
        {"kick": "x.......x.x.....", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x.....x.x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.xo"},
    ),
    2: (
        {"kick": "x.....x.x..x....", "snare": "....x.......x..x", "hat": "x.x.x.x.x.x.x.xo"},
        {"kick": "x..x....x.x.....", "snare": "....x.......x...", "hat": "xxx.xxx.xxx.xxxo"},
    ),
    3: (
        {"kick": "x..x..x.x.x..x..", "snare": "....x..x....x...", "hat": "xxxxxxxxxxxxxxxx"},
        {"kick": "x.x...x.x.x...x.", "snare": "....x.......x.xx", "hat": "xxxxxxxxxxxxxxxo"},
    ),
}
# Bass rhythms per density: (onset beat, length beats, tone) with tone R root, F fifth,
# O octave, A approach to the next bar's root.
_BASS: dict[int, tuple[tuple[float, float, str], ...]] = {
    0: ((0, 4, "R"),),
    1: ((0, 2, "R"), (2, 1.5, "F"), (3.5, 0.5, "A")),
    2: tuple((i / 2, 0.45, "RRROFFRA"[i]) for i in range(8)),
    3: (
        (0, 0.7, "R"),
        (0.75, 0.25, "R"),
        (1.5, 0.5, "O"),
        (2, 0.7, "R"),
        (2.75, 0.25, "F"),
        (3, 0.5, "O"),
        (3.5, 0.5, "A"),
    ),
}
# Electric-piano comping per density (onset beat, length beats); pads hold the bar instead.
_COMPING: dict[int, tuple[tuple[float, float], ...]] = {
    0: ((0, 4),),
    1: ((0, 1.5), (1.5, 1), (2.5, 1.5)),
    2: ((0, 0.75), (0.75, 0.75), (1.5, 1), (2.5, 0.5), (3, 1)),
    3: tuple((i / 2, 0.4) for i in range(8)),
}
# Melody rhythms per density: (onset beat, length beats) inside a 4-beat bar.
_RHYTHMS: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    0: (((0, 2), (2, 1.5)), ((0, 3),), ((0, 1), (1, 1), (2, 2)), ((1, 1), (2, 2))),
    1: (
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 2)),
        ((0, 1.5), (1.5, 0.5), (2, 1), (3, 1)),
        ((0.5, 0.5), (1, 1), (2, 1.5)),
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 2)),
    ),
    2: (
        ((0, 0.5), (0.5, 0.5), (1, 1), (2, 0.5), (2.5, 0.5), (3, 1)),
        ((0, 0.75), (0.75, 0.75), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)),
        ((0, 1), (1, 0.5), (1.5, 0.5), (2, 0.5), (2.5, 1.5)),
    ),
    3: (
        (
            (0, 0.5),
            (0.5, 0.25),
            (0.75, 0.25),
            (1, 0.5),
            (1.5, 0.5),
            (2, 0.25),
            (2.25, 0.25),
            (2.5, 0.5),
            (3, 1),
        ),
        ((0, 0.25), (0.25, 0.25), (0.5, 0.5), (1, 0.5), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)),
    ),
}
# A half-time groove: kick on 1 (and the "and" of 2), the backbeat on 3 alone.
_HALF_TIME = {"kick": "x.....x.........", "snare": "........x......."}
QUIET_INTENSITY = 0.3  # a bar below this intensity plays no fill, its hats on the beats only
LEAD_BASE = 62  # D4: the melody's lowest octave for dark pictures (bright: an octave up)
_LEAD_SPAN = 11  # scale steps the melody may use above its base


@dataclass(frozen=True)
class BarContext:
    """What a part writer needs to know about one bar.

    Attributes:
        bar: bar index; beat: global beat index of its downbeat; length: beats in the bar.
        section: the section the bar belongs to; bar_in_section: its position there.
        chord, next_chord: this bar's and the following bar's harmony.
        opens_section: first bar of a section; closes_section: last bar before a new section.
        at_cut: the downbeat is an anchor cut (a cut the grid placed on this downbeat).
        intensity: how hard the bar plays, 0 (a still picture) .. 1 (busy), see `dynamics`.
    """

    bar: int
    beat: int
    length: int
    section: Section
    bar_in_section: int
    chord: Chord
    next_chord: Chord
    opens_section: bool
    closes_section: bool
    at_cut: bool
    intensity: float = 0.5


class NoteSink:
    """Collects notes in beats; converts them to seconds on the grid at the end.

    Writers name roles ("pad", "keys", "lead", "pluck"); the take's `palette` says which
    instrument plays each. Every velocity is scaled by `level` (the bar's dynamics).
    """

    def __init__(self, palette: dict[str, str] | None = None) -> None:
        self._rows: list[tuple[str, float, float, int, float]] = []
        self.palette = palette or {}
        self.level = 1.0

    def add(self, part: str, beat: float, length: float, pitch: int, velocity: float) -> None:
        velocity = float(np.clip(velocity * self.level, 0.05, 1.0))
        self._rows.append((self.palette.get(part, part), beat, length, int(pitch), velocity))

    def clear(self, first: float, last: float) -> None:
        """Drop the notes that start in `[first, last)` beats."""
        self._rows = [row for row in self._rows if not first <= row[1] < last]

    def to_notes(self, grid: Grid, duration: float, swing: bool = False) -> list[Note]:
        """Notes in seconds, sorted by onset; those starting at or after `duration` are dropped.
        With `swing`, off-beat eighths move to the third triplet (a shuffle)."""
        if not self._rows:
            return []
        beats = np.array([r[1] for r in self._rows])
        lengths = np.array([r[2] for r in self._rows])
        ends = beats + lengths
        if swing:
            beats, ends = _swung(beats), _swung(ends)
        starts, ends = grid.time_at(beats), grid.time_at(ends)
        notes = [
            Note(row[0], float(s), float(e - s), row[3], row[4])
            for row, s, e in zip(self._rows, starts, ends, strict=True)
            if s < duration
        ]
        return sorted(notes, key=lambda n: (n.start, n.part, n.pitch))


def _swung(beats: np.ndarray) -> np.ndarray:
    """Beat positions with each beat's first half stretched to two thirds (triplet shuffle)."""
    whole = np.floor(beats)
    frac = beats - whole
    swung = np.where(frac < 0.5, frac * 4.0 / 3.0, 2.0 / 3.0 + (frac - 0.5) * 2.0 / 3.0)
    return whole + swung


def write_drums(
    sink: NoteSink,
    ctx: BarContext,
    variant: int,
    rng: np.random.Generator,
    groove: str = "straight",
) -> None:
    """Kick, snare and hats from the section's pattern (a half-time groove: the backbeat on 3);
    crash on section starts and cut downbeats; a fill in the bar before a new section. A quiet
    bar (low intensity) drops its fill and keeps its hats on the beats only."""
    density = ctx.section.density
    pattern = _DRUMS[density][variant % len(_DRUMS[density])]
    if groove == "half":
        pattern = {**pattern, **_HALF_TIME}
    quiet = ctx.intensity < QUIET_INTENSITY
    steps = 4 * ctx.length
    fill_from = (
        steps - (4 * min(2 if density >= 2 else 1, ctx.length))
        if ctx.closes_section and not quiet
        else steps
    )
    snare = GM_SIDE_STICK if density == 0 else GM_SNARE  # calm pictures get a softer backbeat
    for part, key in (("kick", GM_KICK), ("snare", snare), ("hat", GM_CLOSED_HAT)):
        if part == "hat" and ctx.section.kit == "soft":  # the editor's low intensity: no hats
            continue
        for step, mark in enumerate(pattern[part][:fill_from]):
            if mark == "." or (part == "hat" and quiet and step % 4):
                continue  # a quiet bar keeps its hats on the beats only: the pulse stays
            on_beat = step % 4 == 0
            velocity = (0.95 if on_beat else 0.6) * (1.0 if step else 1.08)
            if part == "hat":
                velocity = 0.5 if on_beat else 0.32
            pitch = GM_OPEN_HAT if mark == "o" else key
            sink.add(part, ctx.beat + step / 4, 0.25, pitch, velocity + rng.uniform(-0.04, 0.04))
    if fill_from < steps:
        _write_fill(sink, ctx, fill_from, steps, density)
    if ctx.opens_section or ctx.at_cut:
        strong = ctx.section.starts_at_scene_change or ctx.bar == 0
        sink.add("crash", ctx.beat, 4.0, GM_CRASH, 0.95 if strong else 0.6)


def _write_fill(sink: NoteSink, ctx: BarContext, first: int, steps: int, density: int) -> None:
    """Snare and toms rolling into the next section, louder towards it, kick on the beats."""
    stride = 1 if density >= 1 else 2
    positions = range(first, steps, stride)
    for i, step in enumerate(positions):
        rise = 0.55 + 0.45 * i / max(1, len(positions) - 1)
        half = (step - first) * 2 >= steps - first
        part, pitch = (
            ("tom", GM_TOMS[2 - min(2, (step - first) * 3 // (steps - first))])
            if half
            else ("snare", GM_SNARE)
        )
        sink.add(part, ctx.beat + step / 4, 0.25, pitch, rise)
        if step % 4 == 0:
            sink.add("kick", ctx.beat + step / 4, 0.25, GM_KICK, 0.9)


def write_bass(sink: NoteSink, ctx: BarContext, push: bool = False) -> None:
    """Root-based bass line; the last note of a busy bar approaches the next root. With `push`,
    the next bar's root comes half a beat early (an anticipation), except into a cut."""
    root = ctx.chord.bass
    fifth = root + 7 if root + 7 < 52 else root - 5
    target = ctx.next_chord.bass
    approach = target - 1 if target > root else target + 2
    tones = {"R": root, "F": fifth, "O": root + 12, "A": approach}
    for onset, length, tone in _BASS[ctx.section.density]:
        if onset >= ctx.length:
            break
        length = min(length, ctx.length - onset) if ctx.section.density else ctx.length
        velocity = 0.9 if onset == 0 else 0.75
        sink.add("bass", ctx.beat + onset, length, tones[tone], velocity)
    if push and ctx.length >= 2 and not ctx.closes_section:
        sink.add("bass", ctx.beat + ctx.length - 0.5, 0.5, target, 0.8)


def write_chords(sink: NoteSink, ctx: BarContext, push: bool = False) -> None:
    """Pads hold the bar (legato into the next); keys comp in the section's rhythm, over a soft
    pad. With `push`, the keys anticipate the next bar's chord on the last off-beat."""
    voicing = ctx.chord.voicing
    if ctx.section.texture == "pad":
        for pitch in voicing:
            sink.add("pad", ctx.beat, ctx.length + 0.05, pitch, 0.6)
        return
    for pitch in voicing[1:]:
        sink.add("pad", ctx.beat, ctx.length + 0.05, pitch, 0.3)
    for onset, length in _COMPING[ctx.section.density]:
        if onset >= ctx.length:
            break
        accent = 0.8 if onset == int(onset) else 0.6
        if push and onset >= ctx.length - 0.5:
            break
        for pitch in voicing:
            sink.add("keys", ctx.beat + onset, min(length, ctx.length - onset), pitch, accent)
    if push and ctx.length >= 2:
        for pitch in ctx.next_chord.voicing:
            sink.add("keys", ctx.beat + ctx.length - 0.5, 0.5, pitch, 0.7)


@dataclass(frozen=True)
class Motif:
    """A bar-long melodic idea: a rhythm and scale-step moves between its notes."""

    rhythm: tuple[tuple[float, float], ...]
    answer: tuple[tuple[float, float], ...]  # the contrasting rhythm of the phrase's third bar
    steps: tuple[int, ...]


def make_motif(density: int, rng: np.random.Generator) -> Motif:
    """A new motif for a section: rhythm from the density's bank, a gently moving contour."""
    bank = _RHYTHMS[density]
    first, second = rng.choice(len(bank), size=2, replace=len(bank) < 2)
    rhythm = bank[int(first)]
    steps = tuple(int(s) for s in rng.choice([-2, -1, -1, 1, 1, 2, 3], size=len(rhythm)))
    return Motif(rhythm, bank[int(second)], steps)


def write_lead(
    sink: NoteSink, ctx: BarContext, motif: Motif, start_index: int, tonic: int, register: int
) -> int:
    """One bar of melody from `motif`, in a 4-bar phrase: statement, sequence, answer, cadence.

    Returns the scale index the bar ended on, where the next bar continues from.
    """
    phrase_bar = ctx.bar_in_section % 4
    rhythm, steps = motif.rhythm, motif.steps
    if phrase_bar == 1:
        steps = (steps[0] + 1, *steps[1:])  # sequence: the same shape a step higher
    elif phrase_bar == 2:
        rhythm, steps = motif.answer, tuple(-s for s in steps)  # answer: new rhythm, inverted
    elif phrase_bar == 3:
        rhythm = ((0.0, 1.0), (1.0, max(1.0, ctx.length - 2.0)))  # cadence: long note, then rest
    chord_degrees = {(ctx.chord.degree + k) % 7 for k in (0, 2, 4)}
    index = start_index
    base = LEAD_BASE + 12 * register
    for (onset, length), step in zip(rhythm, steps * 4, strict=False):
        if onset >= ctx.length:
            break
        index = _fold(index + step)
        if onset == int(onset) and int(onset) % 2 == 0:
            index = _nearest_chord_tone(index, chord_degrees)  # strong beats sit on the chord
        pitch = int(scale_pitch(tonic, ctx.section.mode, index, base=base))
        velocity = 0.85 if onset == 0 else 0.72
        length = min(length, ctx.length - onset)
        sink.add(ctx.section.melody, ctx.beat + onset, length, pitch, velocity)
    return index


def _fold(index: int) -> int:
    """Keep the melody inside its span by turning back at the edges."""
    if index < 0:
        return -index
    if index > _LEAD_SPAN:
        return 2 * _LEAD_SPAN - index
    return index


def _nearest_chord_tone(index: int, chord_degrees: set[int]) -> int:
    for offset in (0, -1, 1, -2, 2, -3, 3):
        candidate = index + offset
        if candidate % 7 in chord_degrees and 0 <= candidate <= _LEAD_SPAN:
            return candidate
    return index
