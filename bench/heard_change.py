"""Where two renders of one cue start to sound different, beat by beat (bench only).

The waveform judge in `controls_bench.py` counts a few milliseconds of different time-stretch
of the same notes as a change. This one compares what is played: per-beat log-mel band energies
and chroma, on the beats madmom hears in the reference render, with the other render read at
its own matching beats (each reference beat paired with the other render's beat within
`MATCH` seconds; unpaired beats follow the offset of their paired neighbours), so a restretch
by a few ms, or a few tens of ms, moves the windows with the music instead of reading a change.
"""

from __future__ import annotations

import itertools

import numpy as np

FEATURE_RATE = 22_050  # Hz
HOP = 512  # samples at FEATURE_RATE: 23 ms frames
N_FFT = 2048
MEL_BANDS = 64
FLOOR_DB = 60.0  # bands more than this below the reference's loudest band are not compared
MATCH = 0.1  # s: a beat of the other render this close to a reference beat is the same beat
GAIN_HEAD = 2.0  # s: the two renders' gain is matched on the beats that start before this
MARGIN = 2.0  # thresholds are this many times the largest distance between identical music


def _mono(audio: np.ndarray, rate: int) -> np.ndarray:
    from gvmgen.media.audio import resample

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0, keepdims=True)
    return resample(mono, rate, FEATURE_RATE)[0]


def _spectra(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Mel band power `[bands, frames]` and chroma `[12, frames]` of one power spectrogram."""
    import librosa

    power = np.abs(librosa.stft(_mono(audio, rate), n_fft=N_FFT, hop_length=HOP)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=FEATURE_RATE, n_mels=MEL_BANDS)
    # tuning fixed at A440: an estimate from each whole render would move with the music after
    # a change, and shift the chroma of every beat before it
    return mel, librosa.feature.chroma_stft(S=power, sr=FEATURE_RATE, tuning=0.0)


def beat_features(audio: np.ndarray, rate: int, beats: np.ndarray):
    """Per beat interval `[beats[i], beats[i+1])`: mel band energies (dB) and unit chroma."""
    mel, chroma = _spectra(audio, rate)
    frames = np.clip(np.round(beats * FEATURE_RATE / HOP).astype(int), 0, mel.shape[1] - 1)
    bands, chromas = [], []
    for first, last in itertools.pairwise(frames):
        last = max(last, first + 1)
        bands.append(10 * np.log10(mel[:, first:last].mean(axis=1) + 1e-12))
        tone = chroma[:, first:last].mean(axis=1)
        chromas.append(tone / max(float(np.linalg.norm(tone)), 1e-9))
    return np.array(bands), np.array(chromas)


def matching_beats(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The other render's beat for each reference beat: its nearest within MATCH, else the
    reference beat moved by the offset of the paired beats either side (interpolated)."""
    if len(other) < 2:
        return reference.copy()
    right = np.clip(np.searchsorted(other, reference), 1, len(other) - 1)
    left = right - 1
    nearest = np.where(
        np.abs(other[left] - reference) <= np.abs(other[right] - reference),
        other[left],
        other[right],
    )
    offset = nearest - reference
    paired = np.abs(offset) <= MATCH
    if not paired.any():
        return reference.copy()
    return reference + np.interp(reference, reference[paired], offset[paired])


def beat_distances(reference, other, rate: int, beats: np.ndarray, other_beats=None) -> dict:
    """Per reference beat: mean |dB| over the mel bands in play (after matching the two renders'
    gain on their first beats: levelling sets one gain over each whole cue) and chroma's cosine
    distance, between `reference` and `other` `[C, N]`, with `beats` heard in `reference` and
    `other_beats` in `other` (madmom's, by default)."""
    if other_beats is None:
        from judges import madmom_beats

        other_beats = madmom_beats(other, rate)
    theirs = matching_beats(beats, np.asarray(other_beats, dtype=np.float64))
    bands_a, chroma_a = beat_features(reference, rate, beats)
    bands_b, chroma_b = beat_features(other, rate, theirs)
    head = beats[:-1] < GAIN_HEAD
    energy = lambda bands: 10 * np.log10((10 ** (bands / 10)).sum(axis=1))  # noqa: E731
    gain = float(np.median((energy(bands_a) - energy(bands_b))[head])) if head.any() else 0.0
    floor = bands_a.max() - FLOOR_DB
    bands_b = np.maximum(bands_b + gain, floor)
    bands_a = np.maximum(bands_a, floor)
    in_play = np.maximum(bands_a, bands_b) > floor
    apart = np.abs(bands_a - bands_b)
    mel = np.array(
        [row[keep].mean() if keep.any() else 0.0 for row, keep in zip(apart, in_play, strict=True)]
    )
    return {
        "beats": beats[:-1],
        "next": beats[1:],
        "mel_db": mel,
        "chroma": 1.0 - (chroma_a * chroma_b).sum(axis=1),
    }


def restretched(audio, rate: int, factors=(1.015, 0.985), piece=2.5, gain_db=-0.7):
    """The same music with its stretch perturbed, as the aligner does between cuts: pieces of
    `piece` seconds each time-stretched by Rubber Band (pitch kept, the aligner's stretcher) by
    the next of `factors`, with 0.1 s of context, end to end, at another gain."""
    import pedalboard

    step, context, out = int(piece * rate), int(0.1 * rate), []
    for k, first in enumerate(range(0, audio.shape[1], step)):
        factor = factors[k % len(factors)]
        lo, hi = max(first - context, 0), min(first + step + context, audio.shape[1])
        chunk = np.ascontiguousarray(audio[:, lo:hi], dtype=np.float32)
        stretched = pedalboard.time_stretch(
            chunk, float(rate), stretch_factor=factor, high_quality=True
        )
        start = int(round((first - lo) / factor))
        length = int(round((min(first + step, hi) - first) / factor))
        out.append(stretched[:, start : start + length])
    return np.concatenate(out, axis=1) * 10 ** (gain_db / 20)


def thresholds(no_change: list[dict]) -> dict:
    """MARGIN × the largest per-beat distance between renders of identical music."""
    return {
        key: MARGIN * max(float(np.max(d[key])) for d in no_change) for key in ("mel_db", "chroma")
    }


def changed(distances: dict, limits: dict) -> np.ndarray:
    """Which beats sound different: either feature beyond its threshold."""
    return (distances["mel_db"] > limits["mel_db"]) | (distances["chroma"] > limits["chroma"])


def first_change(distances: dict, limits: dict) -> tuple[float, float]:
    """The first beat interval `(start, end)` that sounds different, or `(nan, nan)`."""
    hits = np.flatnonzero(changed(distances, limits))
    if not len(hits):
        return float("nan"), float("nan")
    return float(distances["beats"][hits[0]]), float(distances["next"][hits[0]])
