"""Picture → mood: brightness and colour choose mode, key and register; motion chooses density
and tempo range; a large change of mean colour across a cut marks a scene change.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from gvmgen.engines.base import CueConditioning

# Church modes, brightest first (semitones above the tonic).
MODES: dict[str, tuple[int, ...]] = {
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
# Upper brightness (mean luma, 0..1) of each mode's band. Most footage sits at 0.3–0.5.
_MODE_BANDS = (
    (0.20, "phrygian"),
    (0.33, "aeolian"),
    (0.45, "dorian"),
    (0.55, "mixolydian"),
    (0.68, "ionian"),
    (np.inf, "lydian"),
)
# Motion energy (0..1) above which each density level starts.
_DENSITY_STEPS = (0.12, 0.3, 0.55)
NEUTRAL_BRIGHTNESS = 0.5  # used when a cue has no frames
NEUTRAL_MOTION = 0.3  # used when a cue has neither motion nor frames
SCENE_CHANGE_THRESHOLD = 0.12  # mean-colour distance (0..1) across a cut that opens a section
_LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Mood:
    """What a stretch of picture asks of the music.

    Attributes:
        brightness: mean luma, 0 (black) .. 1 (white).
        hue: hue of the mean colour, 0..1 (0 red, 1/3 green, 2/3 blue).
        saturation: saturation of the mean colour, 0..1.
        motion: mean motion energy, 0 (static) .. 1 (frantic).
    """

    brightness: float
    hue: float
    saturation: float
    motion: float

    @property
    def mode(self) -> str:
        """Darker pictures get darker modes: phrygian … lydian."""
        return next(name for top, name in _MODE_BANDS if self.brightness < top)

    @property
    def tonic(self) -> int:
        """Key from colour: the hue walks the circle of fifths; greys sit on D."""
        if self.saturation < 0.06:
            return 2
        return (7 * int(self.hue * 12)) % 12

    @property
    def register(self) -> int:
        """Octave offset of the melody: bright pictures sing an octave higher."""
        return 1 if self.brightness >= 0.5 else 0

    @property
    def density(self) -> int:
        """Rhythmic busyness 0..3 from motion."""
        return int(np.searchsorted(_DENSITY_STEPS, self.motion))

    @property
    def tempo_range(self) -> tuple[float, float]:
        """BPM range to search: calm pictures 72–104, frantic ones 112–148."""
        low = 72.0 + 40.0 * float(np.clip(self.motion, 0.0, 1.0))
        return low, low + 32.0


def mood_of(cue: CueConditioning, start: float = 0.0, end: float | None = None) -> Mood:
    """The mood of the picture between `start` and `end` seconds (the whole cue by default)."""
    end = cue.duration if end is None else end
    frames = _frames_between(cue, start, end)
    if len(frames) == 0:
        frames = _frames_between(cue, -np.inf, np.inf)  # too short a span: use the whole cue
    colour = np.full(3, NEUTRAL_BRIGHTNESS) if len(frames) == 0 else _mean_colour(frames)
    hue, saturation, _ = colorsys.rgb_to_hsv(*colour)
    brightness = float(colour @ _LUMA)
    return Mood(brightness, float(hue), float(saturation), _motion_between(cue, start, end))


def scene_change_strength(cue: CueConditioning, cut: float, span: float = 2.0) -> float:
    """How much the mean colour changes across `cut`, 0 (same) .. 1 (black ↔ white).

    Compares the frames in `[cut - span, cut)` with those in `(cut, cut + span]`; 0 without
    frames on both sides.
    """
    before = _frames_between(cue, cut - span, cut - 1e-6)
    after = _frames_between(cue, cut + 1e-6, cut + span)
    if len(before) == 0 or len(after) == 0:
        return 0.0
    delta = _mean_colour(before) - _mean_colour(after)
    return float(np.linalg.norm(delta) / np.sqrt(3.0))


def _frames_between(cue: CueConditioning, start: float, end: float) -> np.ndarray:
    """Frames whose time lies in `[start, end]`, uint8 `[n, H, W, 3]`."""
    times = np.asarray(cue.frame_times, dtype=np.float64)
    return cue.frames[(times >= start) & (times <= end)]


def _mean_colour(frames: np.ndarray) -> np.ndarray:
    """Mean RGB of `[n, H, W, 3]` uint8 frames, in 0..1; strided so big frames stay cheap."""
    step = max(1, frames.shape[1] // 32)
    return frames[:, ::step, ::step, :3].reshape(-1, 3).mean(axis=0) / 255.0


def _motion_between(cue: CueConditioning, start: float, end: float) -> float:
    """Mean motion in the span; falls back to frame differences, then to a neutral value."""
    if cue.motion is not None and cue.motion_times is not None and len(cue.motion) > 0:
        times = np.asarray(cue.motion_times)
        inside = (times >= start) & (times <= end)
        values = cue.motion[inside] if inside.any() else cue.motion
        return float(np.clip(np.mean(values), 0.0, 1.0))
    frames = _frames_between(cue, start, end)
    if len(frames) < 2:
        return NEUTRAL_MOTION
    step = max(1, frames.shape[1] // 32)
    small = frames[:, ::step, ::step, :3].astype(np.float32) / 255.0
    # 1 fps frames: a coarse change measure, scaled so a busy shot reads about 0.5.
    return float(np.clip(4.0 * np.abs(np.diff(small, axis=0)).mean(), 0.0, 1.0))
