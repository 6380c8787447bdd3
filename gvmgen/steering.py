"""What became of the editor's controls: measured features of each take, the take nearest to
what was asked, and plain statements of what each engine applied and what it could not.

An engine lists the controls it composes by in `steered_controls` (the arranger: mood,
intensity, tempo). For one that lists none (GVMGen, conditioned on the picture alone) the
pipeline does what honestly can be done after the fact: intensity shapes the mix (a brightness
tilt, level across markers), tempo bounds the alignment's stretch and ranks the takes, and mood
ranks the takes by the objective features each mood documents (tempo band, spectral centroid,
onset density). The report says which is which.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gvmgen.controls import MOODS, TEMPO_TOLERANCE, Controls, TempoBand

FEATURE_RATE = 22_050  # Hz: the judges' rate (librosa's default)


@dataclass(frozen=True)
class TakeFeatures:
    """What a take sounds like, measured on its audio (librosa's defaults)."""

    tempo: float  # BPM, median inter-beat interval of librosa's beat tracker
    centroid_hz: float  # spectral centroid, energy-weighted mean over frames: brightness
    onsets_per_second: float  # onset density

    def to_dict(self) -> dict:
        return {k: round(float(v), 2) for k, v in vars(self).items()}


def take_features(audio: np.ndarray, sample_rate: int) -> TakeFeatures:
    import librosa

    from gvmgen.media.audio import resample

    mono = resample(np.asarray(audio, np.float32).mean(axis=0, keepdims=True), sample_rate, 22050)
    mono = mono[0]
    seconds = max(len(mono) / FEATURE_RATE, 1e-6)
    _, beats = librosa.beat.beat_track(y=mono, sr=FEATURE_RATE, units="time")
    tempo = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 2 else 0.0
    centroid = librosa.feature.spectral_centroid(y=mono, sr=FEATURE_RATE)[0]
    energy = librosa.feature.rms(y=mono)[0][: len(centroid)]
    # weighted by each frame's energy: the silences between notes have no brightness
    centroid = float(np.sum(centroid * energy) / max(np.sum(energy), 1e-12))
    onsets = librosa.onset.onset_detect(y=mono, sr=FEATURE_RATE, units="time")
    return TakeFeatures(tempo, centroid, len(onsets) / seconds)


def distance(features: TakeFeatures, controls: Controls) -> float:
    """How far a take is from what the editor asked: 0 inside every band asked for; each band
    missed adds its relative miss (a take at 10 % off a tempo band scores 0.1)."""
    total = 0.0
    if controls.tempo is not None:
        total += _outside(features.tempo, _tempo_band(controls.tempo))
    mood = MOODS.get(controls.mood) if controls.mood else None
    if mood is not None:
        if controls.tempo is None:
            total += _outside(features.tempo, mood.tempo)
        total += _outside(features.centroid_hz, mood.centroid_hz)
        total += _outside(features.onsets_per_second, mood.onsets_per_second)
    return total


def rank_takes(features: list[TakeFeatures], controls: Controls) -> list[int]:
    """Take indices, nearest to the controls first (ties keep the takes' order)."""
    scores = [distance(f, controls) for f in features]
    return sorted(range(len(features)), key=lambda i: (round(scores[i], 6), i))


def _tempo_band(tempo: TempoBand) -> tuple[float, float]:
    if tempo.single:
        return (tempo.low - TEMPO_TOLERANCE, tempo.high + TEMPO_TOLERANCE)
    return (tempo.low, tempo.high)


def _outside(value: float, band: tuple[float, float]) -> float:
    """0 inside `band`; else the distance to its nearer end, relative to that end."""
    low, high = band
    if low <= value <= high:
        return 0.0
    if value <= 0:
        return 1.0
    return min(abs(value - low) / low, abs(value - high) / high)


def statements(controls: Controls, markers: int, steered: tuple[str, ...], takes: int):
    """(applied, not applied): one line each, in the editor's words."""
    applied, not_applied = [], []
    if controls.mood is not None:
        mood = MOODS[controls.mood]
        if "mood" in steered:
            applied.append(
                f"mood {mood.name}: {mood.mode}, {mood.tempo[0]:g}-{mood.tempo[1]:g} BPM, "
                f"{mood.instrumentation}"
            )
        else:
            not_applied.append(
                f"mood {mood.name}: the engine hears the picture only and cannot be told a mood"
            )
            if takes > 1:
                applied.append(
                    f"mood {mood.name}: the take placed is the one nearest its tempo band, "
                    "brightness and onset density (report.json: each take's features)"
                )
    if controls.intensity is not None:
        if "intensity" in steered:
            applied.append(
                f"intensity {controls.intensity}: rhythmic density, drum kit and register"
            )
        else:
            applied.append(f"intensity {controls.intensity}: the mix only (a brightness tilt)")
            not_applied.append(f"intensity {controls.intensity}: the notes are the model's")
    if controls.tempo is not None:
        if "tempo" in steered:
            applied.append(f"tempo {controls.tempo}: the base tempo is chosen in it")
        else:
            not_applied.append(f"tempo {controls.tempo}: the model's own tempo is not steered")
            if takes > 1:
                applied.append(f"tempo {controls.tempo}: the take placed is the one nearest it")
        if controls.tempo.single:
            applied.append(
                f"tempo {controls.tempo}: alignment stretch bounded to ±{TEMPO_TOLERANCE / 2:g} BPM"
            )
    if markers:
        how = "the music" if steered else "the level at intensity markers"
        applied.append(f"{markers} control marker(s): {how} changes at each one's nearest downbeat")
    return applied, not_applied
