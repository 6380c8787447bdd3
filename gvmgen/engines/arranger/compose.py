"""Composition: picture and cuts → a `Score` (grid, sections, chords and four parts)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from gvmgen.controls import CueControls
from gvmgen.engines.arranger.dynamics import bar_intensity, ride_db, velocity_scale
from gvmgen.engines.arranger.ending import FADE_BARS, final_bar, write_final
from gvmgen.engines.arranger.form import (
    MAX_TEMPO_DEVIATION,
    MIN_ANCHOR_GAP,
    Grid,
    plan_grid,
    plan_sections,
)
from gvmgen.engines.arranger.harmony import PROGRESSIONS, Chord, voice_chords
from gvmgen.engines.arranger.mood import SCENE_CHANGE_THRESHOLD, mood_of, scene_change_strength
from gvmgen.engines.arranger.parts import (
    BarContext,
    NoteSink,
    make_motif,
    write_bass,
    write_chords,
    write_drums,
    write_lead,
)
from gvmgen.engines.arranger.score import Score, Section
from gvmgen.engines.arranger.steering import (
    change_bars,
    controls_at_bar,
    section_style,
    tempo_plan,
)
from gvmgen.engines.arranger.takes import PALETTES, Idea, idea_of, shifted_mode
from gvmgen.engines.base import CueConditioning, Ending

_INTRO_BARS = 2  # bars without melody at the top of a cue of 8 bars or more (see _intro_bars)
_BREATH_BEATS = 0.5  # nothing new starts this long before a button or ring: the accent stands out
_PROGRESSION_CHOICES = 4  # progressions per mode (`harmony.PROGRESSIONS`): one draw per section


def compose(cue: CueConditioning, seed: int, min_anchor_gap: float = MIN_ANCHOR_GAP) -> Score:
    """The score for `cue`: deterministic for a given cue and seed (the seed also picks the
    take's idea: tempo lane, key, groove and instrumentation, see `takes`)."""
    rng = np.random.default_rng(seed % 2**63)
    idea = idea_of(seed)
    ending = cue.resolved_ending
    mood = mood_of(cue)
    tonic = (mood.tonic + idea.transpose) % 12
    tempo_range, max_deviation, cuts = tempo_plan(
        cue.controls, mood.tempo_range, MAX_TEMPO_DEVIATION, cue.cuts
    )
    cuts = np.asarray(cuts, dtype=np.float64)
    cuts = cuts[cuts < ending.out - 1e-6]  # what rings past the out frame is the next cue's
    grid = plan_grid(
        ending.out,
        cuts,
        tempo_range,
        min_anchor_gap,
        max_deviation,
        lane=idea.lane,
        end_anchor=ending.ring > 0,
        widen=tempo_range == mood.tempo_range,  # an editor's tempo or mood bounds every take
    )
    cut_anchors = grid.anchors[(grid.anchors > 0) & (grid.anchors < ending.out)]
    strength = np.array([scene_change_strength(cue, t) for t in cut_anchors])
    scene_changes = (
        cut_anchors[strength >= SCENE_CHANGE_THRESHOLD] if len(strength) else cut_anchors
    )
    downbeats = grid.beats[grid.bar_starts[:-1]]
    last = final_bar(downbeats, ending)
    sections, form = _sections(cue, grid, scene_changes, rng, mood.register, seed, idea, last + 1)
    phrases = [bar for bar, _ in plan_sections(grid, ending.out, scene_changes) if bar <= last]
    intensity = _intensity(cue, downbeats[: last + 1], phrases, ending)
    chords = _chords(grid, sections, tonic)
    contexts = _bar_contexts(grid, sections, chords, cut_anchors, intensity)
    heard_from = min(change_bars(cue.controls, downbeats[: last + 1]), default=None)
    if heard_from is not None:  # before the editor's first change, the bars as without it
        plain = _bar_contexts(grid, form, _chords(grid, form, tonic), cut_anchors, intensity)
        contexts = plain[:heard_from] + contexts[heard_from:]
    hold = _beats_between(grid, downbeats[last], cue.duration)
    sink = _write_parts(contexts, tonic, rng, ending, idea, hold)
    notes = sink.to_notes(grid, cue.duration, swing=idea.groove == "shuffle")
    return _score(cue, grid, tonic, cut_anchors, sections, notes, intensity, idea, last)


def _intensity(
    cue: CueConditioning, downbeats: np.ndarray, phrases: list[int], ending: Ending
) -> np.ndarray:
    """Each bar's intensity from the picture, phrased by the form's sections (not the editor's
    markers: the music before a marker stays as it was); a fade thins out over its last bars."""
    intensity = bar_intensity(cue, downbeats, phrases)
    if ending.kind == "fade" and len(intensity) > 1:
        bars = min(FADE_BARS, len(intensity) - 1)
        intensity[-bars:] *= np.linspace(0.8, 0.2, bars)
    return intensity


def _ride(intensity: np.ndarray, accent: bool) -> np.ndarray:
    """The level ride; the ending's accent plays at full level."""
    ride = ride_db(intensity)
    if accent and len(ride):
        ride[-1] = 0.0
    return ride


def _beats_between(grid: Grid, start: float, end: float) -> float:
    index = np.arange(len(grid.beats), dtype=np.float64)
    return float(np.interp(end, grid.beats, index) - np.interp(start, grid.beats, index))


def _sections(
    cue: CueConditioning,
    grid: Grid,
    scene_changes: np.ndarray,
    rng: np.random.Generator,
    register: int,
    seed: int,
    idea: Idea,
    bars_in_cue: int,
) -> tuple[list[Section], list[Section]]:
    """(the sections as played, the form's own sections as the cue would be without the
    editor's mood and intensity markers).

    The form's sections come from the picture (`plan_sections`), each with the mood of its own
    stretch of picture, in the take's mode unless the editor named a mood. A marker opens a
    section at its nearest downbeat and is heard from there: the section it splits keeps, up to
    the marker, everything it had without it (mood, progression, what the shared generator
    draws), so the music before the marker's downbeat is the same as without the marker."""
    downbeats = grid.beats[grid.bar_starts[:-1]]
    end_time = float(downbeats[bars_in_cue]) if bars_in_cue < len(downbeats) else cue.duration
    form = [s for s in plan_sections(grid, end_time, scene_changes) if s[0] < bars_in_cue]
    bounds = [bar for bar, _ in form] + [bars_in_cue]
    marker_bars = set(change_bars(cue.controls, downbeats[:bars_in_cue]))
    unmarked = replace(cue.controls, changes=())
    plain: list[Section] = []
    played: list[Section] = []
    for i, (first, at_change) in enumerate(form):
        end = bounds[i + 1]
        pick = int(rng.integers(_PROGRESSION_CHOICES))  # one draw per form section, always
        section = _section(cue, grid, (first, end, end), i, unmarked, idea, register, pick)
        plain.append(replace(section, starts_at_scene_change=at_change))
        splits = [first, *sorted(b for b in marker_bars if first < b < end), end]
        for k, (a, b) in enumerate(itertools.pairwise(splits)):
            # a marker's own section draws from its own generator, never the shared one
            own = pick if k == 0 else _own_pick(seed, a)
            span = (a, b, end if k == 0 else b)  # the form's part keeps the form's mood
            section = _section(cue, grid, span, i + k, cue.controls, idea, register, own)
            played.append(replace(section, starts_at_scene_change=at_change and k == 0))
    return _labelled(played), _labelled(plain)


def _section(
    cue: CueConditioning,
    grid: Grid,
    span: tuple[int, int, int],
    index: int,
    controls: CueControls,
    idea: Idea,
    register: int,
    pick: int,
) -> Section:
    """One section over bars `span[0]` … `span[1]` (its mood read up to bar `span[2]`), styled
    by the controls in force at its first bar; `pick` chooses its progression."""
    first, end_bar, mood_bar = span
    start = grid.bar_start_time(first)
    end = min(cue.duration, grid.bar_start_time(end_bar))
    mood = mood_of(cue, start, min(cue.duration, grid.bar_start_time(mood_bar)))
    texture = "keys" if mood.density >= 2 or (mood.density == 1 and index % 2) else "pad"
    melody = "pluck" if mood.density == 0 or (mood.density == 1 and index % 2 == 0) else "lead"
    now = controls_at_bar(controls, grid.beats[grid.bar_starts[:-1]], first)
    mode = mood.mode if now.mood else shifted_mode(mood.mode, idea.mode_step)
    style = section_style(now, mode, mood.density, texture, melody, register)
    pool = PROGRESSIONS[style.mode]
    return Section(
        "",
        start,
        end,
        first,
        end_bar,
        style.mode,
        style.density,
        pool[pick % len(pool)],
        style.texture,
        style.melody,
        False,
        kit=style.kit,
        register=style.register,
    )


def _own_pick(seed: int, bar: int) -> int:
    return int(np.random.default_rng((seed % 2**63, bar)).integers(_PROGRESSION_CHOICES))


def _labelled(sections: list[Section]) -> list[Section]:
    return [
        replace(s, label=chr(ord("A") + i) if i < 26 else f"S{i}") for i, s in enumerate(sections)
    ]


def _chords(grid: Grid, sections: list[Section], tonic: int) -> list[Chord]:
    """One chord per bar (plus one past the end): progressions cycle, the cue ends on the tonic."""
    modes, degrees, sevenths = [], [], []
    for section in sections:
        for bar in range(section.first_bar, section.end_bar):
            progression = section.progression
            modes.append(section.mode)
            degrees.append(progression[(bar - section.first_bar) % len(progression)])
            sevenths.append(section.texture == "pad")
    if len(degrees) >= 2:
        degrees[-1], sevenths[-1] = 0, False  # end at home, on a plain triad
    modes.append(modes[-1])
    degrees.append(0)
    sevenths.append(False)
    return voice_chords(tonic, modes, degrees, sevenths)


def _bar_contexts(
    grid: Grid,
    sections: list[Section],
    chords: list[Chord],
    cut_anchors: np.ndarray,
    intensity: np.ndarray,
) -> list[BarContext]:
    contexts = []
    for section in sections:
        for bar in range(section.first_bar, section.end_bar):
            time = grid.bar_start_time(bar)
            contexts.append(
                BarContext(
                    bar=bar,
                    beat=int(grid.bar_starts[bar]),
                    length=grid.bar_length(bar),
                    section=section,
                    bar_in_section=bar - section.first_bar,
                    chord=chords[bar],
                    next_chord=chords[bar + 1],
                    opens_section=bar == section.first_bar and bar > 0,
                    closes_section=bar == section.end_bar - 1 and section is not sections[-1],
                    at_cut=bool(np.any(np.abs(cut_anchors - time) < 1e-6)),
                    intensity=float(intensity[bar]),
                )
            )
    return contexts


def _write_parts(
    contexts: list[BarContext],
    tonic: int,
    rng: np.random.Generator,
    ending: Ending,
    idea: Idea,
    hold_beats: float,
) -> NoteSink:
    """All four parts, bar by bar (each section its own motif and drum variant), then the
    ending on the last bar; every note as loud as its bar's intensity asks."""
    sink = NoteSink(PALETTES[idea.palette])
    motifs, variants = {}, {}
    lead_index = 4
    intro = _intro_bars(contexts)
    accent = contexts[-1] if ending.kind != "fade" and len(contexts) >= 2 else None
    for ctx in contexts:
        register = ctx.section.register
        sink.level = velocity_scale(ctx.intensity)
        if ctx is accent:
            sink.level = 1.0  # the ending's accent is full, whatever the bar before
            sink.clear(ctx.beat - _BREATH_BEATS, ctx.beat)  # a breath before the button
            write_final(sink, ctx, ending, tonic, register, hold_beats)
            break
        label = ctx.section.label
        if label not in motifs:
            motifs[label] = make_motif(ctx.section.density, rng)
            variants[label] = int(rng.integers(2))
        if ctx.section.kit != "none":
            write_drums(sink, ctx, variants[label], rng, idea.groove)
        write_bass(sink, ctx, idea.groove == "push")
        write_chords(sink, ctx, idea.groove == "push")
        if ctx.bar >= intro:
            lead_index = write_lead(sink, ctx, motifs[label], lead_index, tonic, register)
    return sink


def _intro_bars(contexts: list[BarContext]) -> int:
    """Bars the melody waits at the top of a long cue: none when the picture cuts inside them.
    Without the melody's attacks the opening is fainter than the rest, and a listener (or
    librosa's tracker, which drops leading beats weaker than half the cue's) does not lock on
    to the beat in time for that cut."""
    if len(contexts) < 8 or any(ctx.at_cut for ctx in contexts[:_INTRO_BARS]):
        return 0
    return _INTRO_BARS


def _score(
    cue: CueConditioning,
    grid: Grid,
    tonic: int,
    cut_anchors: np.ndarray,
    sections: list[Section],
    notes: list,
    intensity: np.ndarray,
    idea: Idea,
    last: int,
) -> Score:
    """The score; its beats are those played: up to the ending's accent (a fade: the out)."""
    ending = cue.resolved_ending
    bar_times = grid.beats[grid.bar_starts[:-1]]
    final = float(bar_times[last]) if ending.kind != "fade" and last > 0 else None
    played_until = final if final is not None else ending.out
    beats = grid.beats[grid.beats <= played_until + 1e-6] if final is not None else grid.beats
    beats = beats[beats < min(cue.duration, ending.out + 1e-6) - (0 if final else 1e-6)]
    in_cue = np.arange(len(bar_times)) <= last
    return Score(
        duration=cue.duration,
        tempo=grid.tempo,
        tonic=tonic,
        beat_times=beats.copy(),
        downbeat_times=bar_times[in_cue].copy(),
        beats_per_bar=np.diff(grid.bar_starts)[in_cue].astype(np.int64),
        anchors=cut_anchors[cut_anchors <= played_until + 1e-6].copy(),
        sections=tuple(sections),
        notes=tuple(notes),
        ending=ending,
        final_time=final,
        ride_db=_ride(intensity, final is not None),
        idea=idea,
        pinned_by=grid.pinned_by,
    )
