"""What the arranger composed: note events on a beat grid, before any sound is made.

A `Score` is the arranger's answer in musical terms. `render` turns it into audio; the aligner can
read its beat grid instead of re-tracking beats on the audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gvmgen.engines.arranger.takes import IDEAS, Idea
from gvmgen.engines.base import Ending

# Parts, in the order the mix lays them out. Drums use General MIDI percussion keys as `pitch`.
HARMONY_PARTS = ("pad", "keys", "strings", "piano")  # what may play the chords
MELODY_PARTS = ("lead", "pluck", "strings_lead", "harp", "bell")  # what may carry the melody
TONAL_PARTS = (*HARMONY_PARTS, "bass", *MELODY_PARTS)
DRUM_PARTS = ("kick", "snare", "hat", "crash", "tom")
# The stems `--stems` delivers, and the parts each one holds.
STEMS: dict[str, tuple[str, ...]] = {
    "drums": DRUM_PARTS,
    "bass": ("bass",),
    "harmony": HARMONY_PARTS,
    "melody": MELODY_PARTS,
}
GM_KICK, GM_SIDE_STICK, GM_SNARE, GM_CLOSED_HAT, GM_OPEN_HAT, GM_CRASH = 36, 37, 38, 42, 46, 49
GM_TOMS = (45, 47, 50)  # low, mid, high tom


@dataclass(frozen=True, slots=True)
class Note:
    """One note event. Times are seconds from cue start.

    Attributes:
        part: the instrument that plays it, one of `TONAL_PARTS` or `DRUM_PARTS`.
        start: onset, seconds.
        duration: held length, seconds (drums: how long the hit may ring).
        pitch: MIDI note number (drums: General MIDI percussion key).
        velocity: loudness in (0, 1].
    """

    part: str
    start: float
    duration: float
    pitch: int
    velocity: float


@dataclass(frozen=True)
class Section:
    """A stretch of bars with one mood, progression, texture and drum pattern.

    Sections change at scene changes (a cut where the picture changes a lot).

    Attributes:
        label: "A", "B", ... in order of appearance.
        start, end: seconds from cue start; `start` is a downbeat.
        first_bar, end_bar: bar indices `[first_bar, end_bar)`.
        mode: scale mode name (see `mood.MODES`), from the section's brightness.
        density: rhythmic busyness 0 (sparse) .. 3 (busy), from the section's motion.
        progression: scale degrees (0-based) of the chord on each bar, cycled.
        texture: "pad" (sustained chords) or "keys" (rhythmic electric piano).
        melody: the melody's instrument, "lead" (sustained synth) or "pluck" (harp-like).
        starts_at_scene_change: True when a scene change opens the section.
        kit: the drums, "full", "soft" (no hats) or "none" (the editor's mood or intensity).
        register: octave offset of the melody (bright pictures or high intensity: 1).
    """

    label: str
    start: float
    end: float
    first_bar: int
    end_bar: int
    mode: str
    density: int
    progression: tuple[int, ...]
    texture: str
    melody: str
    starts_at_scene_change: bool
    kit: str = "full"
    register: int = 0


@dataclass(frozen=True)
class Score:
    """A composed cue: beat grid, form and notes.

    Attributes:
        duration: cue length, seconds.
        tempo: base tempo in BPM (the tempo map drifts a few % around it between anchor cuts).
        tonic: pitch class of the key's tonic, 0 = C.
        beat_times: every beat in `[0, duration)`, seconds, float64 `[B]`.
        downbeat_times: the first beat of every bar in `[0, duration)`, float64 `[D]`.
        beats_per_bar: length of each of those bars in beats, int64 `[D]` (mostly 4; a 2- or
            3-beat bar lets the next anchor cut fall on a downbeat).
        anchors: the cut times the grid places exactly on downbeats, float64 `[A]`.
        sections: the form, in time order.
        notes: every note event, sorted by onset.
        ending: where and how the cue ends.
        final_time: when the ending's accent (button or ring) sounds; None for a fade.
        ride_db: the level ride of each bar, dB (0 = full), `[D]`: the mix follows it.
        idea: the take's idea (tempo lane, key, groove, instrumentation).
        pinned_by: what kept this take on the picture's tempo ("cuts", "tempo"), or None.
    """

    duration: float
    tempo: float
    tonic: int
    beat_times: np.ndarray
    downbeat_times: np.ndarray
    beats_per_bar: np.ndarray
    anchors: np.ndarray
    sections: tuple[Section, ...]
    notes: tuple[Note, ...]
    ending: Ending = field(default_factory=Ending)
    final_time: float | None = None
    ride_db: np.ndarray = field(default_factory=lambda: np.zeros(0))
    idea: Idea = IDEAS[0]
    pinned_by: str | None = None

    @property
    def key(self) -> str:
        """Key of the first section, e.g. "D dorian"."""
        names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
        return f"{names[self.tonic]} {self.sections[0].mode}"

    def notes_of(self, *parts: str) -> list[Note]:
        """The notes the given parts play, in time order."""
        return [n for n in self.notes if n.part in parts]
