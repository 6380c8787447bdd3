"""Composition: picture and cuts → a `Score` (grid, sections, chords and four parts)."""

from __future__ import annotations

import numpy as np

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
    sections = _sections(cue, grid, scene_changes, rng, mood.register, seed, idea, last + 1)
    phrases = [bar for bar, _ in plan_sections(grid, ending.out, scene_changes) if bar <= last]
    intensity = _intensity(cue, downbeats[: last + 1], phrases, ending)
    chords = _chords(grid, sections, tonic)
    contexts = _bar_contexts(grid, sections, chords, cut_anchors, intensity)
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
) -> list[Section]:
    """Sections from the form plan, each with the mood of its own stretch of picture, steered
    by the editor's controls (a mood or intensity marker opens a section at its nearest
    downbeat), in the take's mode unless the editor named a mood."""
    downbeats = grid.beats[grid.bar_starts[:-1]]
    end_time = float(downbeats[bars_in_cue]) if bars_in_cue < len(downbeats) else cue.duration
    marker_bars = change_bars(cue.controls, downbeats[:bars_in_cue])
    starts = _with_marker_bars(plan_sections(grid, end_time, scene_changes), marker_bars)
    starts = [(bar, change) for bar, change in starts if bar < bars_in_cue]
    sections = []
    for i, (first_bar, at_change) in enumerate(starts):
        end_bar = starts[i + 1][0] if i + 1 < len(starts) else bars_in_cue
        start = grid.bar_start_time(first_bar)
        end = min(cue.duration, grid.bar_start_time(end_bar))
        mood = mood_of(cue, start, end)
        texture = "keys" if mood.density >= 2 or (mood.density == 1 and i % 2) else "pad"
        melody = "pluck" if mood.density == 0 or (mood.density == 1 and i % 2 == 0) else "lead"
        controls = controls_at_bar(cue.controls, downbeats, first_bar)
        mode = mood.mode if controls.mood else shifted_mode(mood.mode, idea.mode_step)
        style = section_style(controls, mode, mood.density, texture, melody, register)
        pool = PROGRESSIONS[style.mode]
        # a marker's section draws from its own generator, so the music before it is the same
        # as without the marker
        source = np.random.default_rng((seed, first_bar)) if first_bar in marker_bars else rng
        progression = pool[int(source.integers(len(pool)))]
        label = chr(ord("A") + i) if i < 26 else f"S{i}"
        sections.append(
            Section(
                label,
                start,
                end,
                first_bar,
                end_bar,
                style.mode,
                style.density,
                progression,
                style.texture,
                style.melody,
                at_change,
                kit=style.kit,
                register=style.register,
            )
        )
    return sections


def _with_marker_bars(starts: list[tuple[int, bool]], bars: list[int]) -> list[tuple[int, bool]]:
    """The form's section starts with a start at every marker's bar (an editor's change wins
    over the form's minimum section length: the section before it simply ends there)."""
    if not bars:
        return starts
    merged = dict(starts)
    for bar in bars:
        merged.setdefault(bar, False)
    return sorted(merged.items())


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
