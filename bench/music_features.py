"""Objective features of a piece of music, for comparing engines and takes (bench only).

- loudness range (EBU Tech 3342: short-term loudness over 3 s windows, gated at −70 LUFS and
  −20 LU below the mean, 95th minus 10th percentile), and short-term loudness itself;
- spectral flatness (geometric over arithmetic mean of the power spectrum, per frame): its mean
  says how noise-like the music is, its spread how much that changes;
- spectral centroid spread (std of log2 centroid, octaves): how much the brightness moves;
- onset variety: coefficient of variation of onset strengths and of inter-onset intervals;
- chroma (mean CQT chroma, unit length) and timbre (mean MFCC 1–12) per piece, for distances
  between takes; tempo by librosa's default tracker.
"""

from __future__ import annotations

import numpy as np

FEATURE_RATE = 22_050  # Hz; librosa's default
SHORT_TERM = 3.0  # s, EBU Tech 3342
HOP = 0.1  # s between short-term loudness readings


def mono(audio: np.ndarray, rate: int, to_rate: int = FEATURE_RATE) -> np.ndarray:
    from gvmgen.media.audio import resample

    signal = np.asarray(audio, dtype=np.float32)
    signal = signal.mean(axis=0, keepdims=True) if signal.ndim == 2 else signal[None]
    return resample(signal, rate, to_rate)[0] if rate != to_rate else signal[0]


def k_weighted_power(audio: np.ndarray, rate: int) -> np.ndarray:
    """Per-sample K-weighted power summed over channels, `[N]` (BS.1770)."""
    import pyloudnorm

    meter = pyloudnorm.Meter(rate)
    data = np.asarray(audio, dtype=np.float64)
    data = data[None] if data.ndim == 1 else data
    power = np.zeros(data.shape[1])
    for channel in data:
        weighted = channel
        for stage in meter._filters.values():  # high shelf, then high pass
            weighted = stage.apply_filter(weighted)
        power += weighted**2
    return power


def short_term_loudness(audio: np.ndarray, rate: int, window: float = SHORT_TERM):
    """(times of window ends s, LUFS) every `HOP` s over `window`-second windows."""
    power = k_weighted_power(audio, rate)
    width, hop = int(window * rate), int(HOP * rate)
    if len(power) < width:
        return np.zeros(0), np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(power)])
    ends = np.arange(width, len(power) + 1, hop)
    mean = (cumulative[ends] - cumulative[ends - width]) / width
    with np.errstate(divide="ignore"):
        lufs = -0.691 + 10 * np.log10(np.maximum(mean, 1e-20))
    return ends / rate, lufs


def loudness_range(audio: np.ndarray, rate: int) -> float:
    """EBU Tech 3342 loudness range, LU (nan when under 3 s or silent)."""
    _, lufs = short_term_loudness(audio, rate)
    lufs = lufs[lufs > -70.0]
    if len(lufs) == 0:
        return float("nan")
    mean_power = np.mean(10 ** (lufs / 10))
    lufs = lufs[lufs > 10 * np.log10(mean_power) - 20.0]
    low, high = np.percentile(lufs, [10, 95])
    return float(high - low)


def timbre_features(audio: np.ndarray, rate: int) -> dict:
    """Flatness, centroid spread and onset variety of `audio` `[C, N]`."""
    import librosa

    y = mono(audio, rate)
    spectrum = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    loud = spectrum.sum(axis=0) > 1e-6 * spectrum.sum(axis=0).max()
    flatness = librosa.feature.spectral_flatness(S=np.sqrt(spectrum), power=2.0)[0][loud]
    centroid = librosa.feature.spectral_centroid(S=np.sqrt(spectrum), sr=FEATURE_RATE)[0][loud]
    envelope = librosa.onset.onset_strength(y=y, sr=FEATURE_RATE)
    onsets = librosa.onset.onset_detect(onset_envelope=envelope, sr=FEATURE_RATE)
    strengths = envelope[onsets] if len(onsets) else np.zeros(1)
    intervals = np.diff(onsets) if len(onsets) > 2 else np.ones(2)
    return {
        "flatness": float(np.mean(flatness)),
        "flatness_spread": float(np.std(flatness)),
        "log_flatness": float(np.mean(np.log10(np.maximum(flatness, 1e-10)))),
        "centroid_hz": float(np.median(centroid)),
        "centroid_spread_oct": float(np.std(np.log2(np.maximum(centroid, 20.0)))),
        "onset_strength_cv": float(np.std(strengths) / max(np.mean(strengths), 1e-9)),
        "ioi_cv": float(np.std(intervals) / max(np.mean(intervals), 1e-9)),
        "onsets_per_s": len(onsets) / (len(y) / FEATURE_RATE),
        "lra": loudness_range(audio, rate),
    }


def chroma_and_timbre(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean chroma `[12]` (unit length) and mean MFCC 1–12 `[12]` of `audio`."""
    import librosa

    y = mono(audio, rate)
    chroma = librosa.feature.chroma_cqt(y=y, sr=FEATURE_RATE).mean(axis=1)
    mfcc = librosa.feature.mfcc(y=y, sr=FEATURE_RATE, n_mfcc=13)[1:].mean(axis=1)
    return chroma / max(np.linalg.norm(chroma), 1e-9), mfcc


def tempo_of(audio: np.ndarray, rate: int) -> float:
    import librosa

    tempo, _ = librosa.beat.beat_track(y=mono(audio, rate), sr=FEATURE_RATE)
    return float(np.atleast_1d(tempo)[0])
