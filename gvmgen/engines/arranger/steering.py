"""The editor's controls as the arranger honours them (`gvmgen.controls`): the picture proposes,
the editor's mood, intensity and tempo dispose.

* tempo: the base tempo is searched inside the editor's band; a single tempo keeps every
  stretch between anchor cuts within half of `TEMPO_TOLERANCE` of it (cuts it cannot reach so
  are left to the aligner, whose stretch the pipeline bounds to the other half);
* mood: each section's mode, chord instrument, melody instrument and drum kit are the mood's
  (`MoodSpec`), its density the mood's at intensity 5; the key still comes from the picture;
* intensity: shifts the density (1-2 sparsest … 8-9 busiest), thins the kit at 1-2 (no hats),
  lifts the melody an octave at 7-9 and comps on keys at 7-9;
* a mood or intensity marker inside the cue opens a section at the downbeat nearest to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.controls import (
    MOODS,
    NEUTRAL_INTENSITY,
    TEMPO_TOLERANCE,
    Controls,
    CueControls,
    tempo_bounds,
)

STEERED = ("mood", "intensity", "tempo")  # what this engine honours


@dataclass(frozen=True)
class Style:
    """How one section is played."""

    mode: str
    density: int
    texture: str
    melody: str
    kit: str  # "full", "soft" (no hats) or "none"
    register: int


def tempo_plan(
    controls: CueControls, picture: tuple[float, float], max_deviation: float, cuts: np.ndarray
):
    """(tempo range to search, largest deviation a stretch may take from the base, the cuts the
    grid may anchor on). A single tempo keeps only the cuts a steady beat at that tempo reaches
    within `TEMPO_TOLERANCE`: the editor's tempo wins over a downbeat on every cut."""
    start = controls.start
    mood = MOODS.get(start.mood) if start.mood else None
    band = tempo_bounds(mood, start.tempo, picture)
    if start.tempo is not None and start.tempo.single:
        # half the tolerance here, half for the aligner's stretch (`rendering.stretch_bound`)
        tolerance = TEMPO_TOLERANCE / 2 / start.tempo.low
        return band, min(max_deviation, tolerance), steady_cuts(cuts, start.tempo.low, tolerance)
    return band, max_deviation, cuts


def steady_cuts(cuts: np.ndarray, bpm: float, tolerance: float) -> np.ndarray:
    """The cuts (in order) a whole number of beats after the previous one kept, within
    `tolerance` of `bpm`."""
    period, anchor, kept = 60.0 / bpm, 0.0, []
    for cut in np.sort(np.asarray(cuts, dtype=np.float64)):
        beats = (cut - anchor) / period
        whole = round(beats)
        if whole >= 1 and abs(beats / whole - 1.0) <= tolerance:
            kept.append(cut)
            anchor = cut
    return np.asarray(kept, dtype=np.float64)


def section_style(
    controls: Controls, mode: str, density: int, texture: str, melody: str, register: int
) -> Style:
    """A section's style: the picture's (`mode` … `register`) steered by `controls`."""
    mood = MOODS.get(controls.mood) if controls.mood else None
    kit = "full"
    if mood is not None:
        mode, density, texture, melody = mood.mode, mood.density, mood.texture, mood.melody
        kit = "full" if mood.drums else "none"
    intensity = controls.intensity
    if intensity is not None:
        density = int(np.clip(density + round((intensity - NEUTRAL_INTENSITY) / 2), 0, 3))
        if intensity <= 2 and kit == "full":
            kit = "soft"
        if intensity >= 7:
            texture, register = "keys", 1
        elif intensity <= 3:
            texture, register = "pad", 0
    return Style(mode, density, texture, melody, kit, register)


def change_bars(controls: CueControls, downbeats: np.ndarray) -> list[int]:
    """Bars (indices into `downbeats`) where a mood or intensity marker takes effect: the
    downbeat nearest each, never bar 0 (the cue's own start)."""
    bars = set()
    for change in controls.changes:
        if change.control in ("mood", "intensity") and len(downbeats):
            bar = int(np.argmin(np.abs(downbeats - change.time)))
            if bar > 0:
                bars.add(bar)
    return sorted(bars)


def controls_at_bar(controls: CueControls, downbeats: np.ndarray, bar: int) -> Controls:
    """The controls in force from `bar` on: every change whose nearest downbeat is at or
    before it (so a marker just after a downbeat still takes effect there)."""
    now = controls.start
    for change in controls.changes:
        if len(downbeats) and int(np.argmin(np.abs(downbeats - change.time))) <= bar:
            now = now.with_change(change)
    return now
