"""Composition: picture and cuts → a `Score` (grid, sections, chords and four parts)."""

from __future__ import annotations

import numpy as np

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
    write_ending,
    write_lead,
)
from gvmgen.engines.arranger.score import Score, Section
from gvmgen.engines.arranger.steering import (
    change_bars,
    controls_at_bar,
    section_style,
    tempo_plan,
)
from gvmgen.engines.base import CueConditioning

_INTRO_BARS = 2  # bars without melody at the top of a cue of 8 bars or more (see _intro_bars)
_ENDING_AFTER_BARS = 4  # cues this long end on a held home chord rather than mid-groove


def compose(cue: CueConditioning, seed: int, min_anchor_gap: float = MIN_ANCHOR_GAP) -> Score:
    """The score for `cue`: deterministic for a given cue and seed."""
    rng = np.random.default_rng(seed % 2**63)
    mood = mood_of(cue)
    tempo_range, max_deviation, cuts = tempo_plan(
        cue.controls, mood.tempo_range, MAX_TEMPO_DEVIATION, cue.cuts
    )
    grid = plan_grid(cue.duration, cuts, tempo_range, min_anchor_gap, max_deviation)
    cut_anchors = grid.anchors[(grid.anchors > 0) & (grid.anchors < cue.duration)]
    strength = np.array([scene_change_strength(cue, t) for t in cut_anchors])
    scene_changes = (
        cut_anchors[strength >= SCENE_CHANGE_THRESHOLD] if len(strength) else cut_anchors
    )
    sections = _sections(cue, grid, scene_changes, rng, mood.register, seed)
    chords = _chords(grid, sections, mood.tonic)
    contexts = _bar_contexts(grid, sections, chords, cut_anchors)
    notes = _write_parts(contexts, mood.tonic, rng).to_notes(grid, cue.duration)
    return _score(cue.duration, grid, mood.tonic, cut_anchors, sections, notes)


def _sections(
    cue: CueConditioning,
    grid: Grid,
    scene_changes: np.ndarray,
    rng: np.random.Generator,
    register: int,
    seed: int = 0,
) -> list[Section]:
    """Sections from the form plan, each with the mood of its own stretch of picture, steered
    by the editor's controls; a mood or intensity marker opens a section at its nearest
    downbeat."""
    downbeats = grid.beats[grid.bar_starts[:-1]]
    bars_in_cue = max(1, int(np.searchsorted(downbeats, cue.duration - 1e-6)))
    marker_bars = change_bars(cue.controls, downbeats)
    starts = _with_marker_bars(plan_sections(grid, cue.duration, scene_changes), marker_bars)
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
        style = section_style(controls, mood.mode, mood.density, texture, melody, register)
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
    if len(degrees) >= 4:
        degrees[-1] = 0  # end at home
    modes.append(modes[-1])
    degrees.append(0)
    sevenths.append(False)
    return voice_chords(tonic, modes, degrees, sevenths)


def _bar_contexts(
    grid: Grid, sections: list[Section], chords: list[Chord], cut_anchors: np.ndarray
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
                )
            )
    return contexts


def _write_parts(contexts: list[BarContext], tonic: int, rng: np.random.Generator) -> NoteSink:
    """All four parts, bar by bar; each section gets its own motif and drum variant."""
    sink = NoteSink()
    motifs, variants = {}, {}
    lead_index = 4
    intro = _intro_bars(contexts)
    ending = contexts[-1] if len(contexts) >= _ENDING_AFTER_BARS else None
    for ctx in contexts:
        register = ctx.section.register
        if ctx is ending:
            write_ending(sink, ctx, tonic, register)
            break
        label = ctx.section.label
        if label not in motifs:
            motifs[label] = make_motif(ctx.section.density, rng)
            variants[label] = int(rng.integers(2))
        if ctx.section.kit != "none":
            write_drums(sink, ctx, variants[label], rng)
        write_bass(sink, ctx)
        write_chords(sink, ctx)
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
    duration: float,
    grid: Grid,
    tonic: int,
    cut_anchors: np.ndarray,
    sections: list[Section],
    notes: list,
) -> Score:
    bar_times = grid.beats[grid.bar_starts[:-1]]
    in_cue = bar_times < duration
    return Score(
        duration=duration,
        tempo=grid.tempo,
        tonic=tonic,
        beat_times=grid.beats[grid.beats < duration].copy(),
        downbeat_times=bar_times[in_cue].copy(),
        beats_per_bar=np.diff(grid.bar_starts)[in_cue].astype(np.int64),
        anchors=cut_anchors.copy(),
        sections=tuple(sections),
        notes=tuple(notes),
    )
