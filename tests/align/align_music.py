"""Synthetic music with known beats: kick on every beat (accented on the bar), hats on the
eighths, a chord that changes every bar. Pure numpy, deterministic."""

from __future__ import annotations

import numpy as np

CHORDS = (
    (220.0, 277.2, 329.6),
    (196.0, 246.9, 293.7),
    (174.6, 220.0, 261.6),
    (164.8, 207.7, 246.9),
)


def beat_times(bpm: float, duration: float, offset: float = 0.25) -> np.ndarray:
    """Where the kicks start, seconds."""
    return np.arange(offset, duration - 0.05, 60.0 / bpm)


def make_music(bpm: float, duration: float, rate: int = 44100, seed: int = 0) -> np.ndarray:
    """Stereo float32 `[2, round(duration * rate)]`, peaking around −6 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(round(duration * rate))
    mix = np.zeros(n)
    period = 60.0 / bpm
    for i, t in enumerate(beat_times(bpm, duration)):
        _add(mix, _kick(rate, accent=1.0 if i % 4 == 0 else 0.7), t, rate)
        _add(mix, _hat(rate, rng, 0.15), t, rate)
        _add(mix, _hat(rate, rng, 0.08), t + period / 2, rate)
        if i % 4 == 0:
            _add(mix, _chord(rate, CHORDS[(i // 4) % 4], 4 * period), t, rate)
    mix *= 0.5 / max(np.abs(mix).max(), 1e-9)
    return np.stack([mix, 0.9 * mix]).astype(np.float32)


def _add(mix: np.ndarray, sound: np.ndarray, t: float, rate: int) -> None:
    first = int(round(t * rate))
    last = min(first + len(sound), len(mix))
    if last > first:
        mix[first:last] += sound[: last - first]


def _kick(rate: int, accent: float) -> np.ndarray:
    t = np.arange(int(0.25 * rate)) / rate
    phase = 2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)  # 110 → 50 Hz sweep
    attack = np.minimum(t / 0.002, 1.0)  # 2 ms: a kick, not a click
    return accent * attack * np.exp(-t * 14) * np.sin(phase)


def _hat(rate: int, rng: np.random.Generator, level: float) -> np.ndarray:
    t = np.arange(int(0.05 * rate)) / rate
    noise = np.diff(rng.standard_normal(len(t) + 1))  # tilted up: hats are bright
    return level * np.minimum(t / 0.001, 1.0) * np.exp(-t * 80) * noise


def _chord(rate: int, freqs, length: float) -> np.ndarray:
    t = np.arange(int(length * rate)) / rate
    envelope = np.minimum(t / 0.02, 1.0) * np.minimum((length - t) / 0.05, 1.0)
    tones = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    return 0.12 * envelope * tones


def make_click_track(bpm: float, duration: float, rate: int = 44100) -> np.ndarray:
    """Stereo float32 `[2, N]`: a 10 ms 1.5 kHz blip on every beat (accented on the bar)."""
    mix = np.zeros(int(round(duration * rate)))
    t = np.arange(int(0.010 * rate)) / rate
    blip = np.sin(2 * np.pi * 1500 * t) * np.hanning(len(t))
    for i, start in enumerate(beat_times(bpm, duration)):
        _add(mix, (0.5 if i % 4 == 0 else 0.3) * blip, start, rate)
    return np.stack([mix, mix]).astype(np.float32)


def make_busy_hats_music(bpm: float, duration: float, rate: int = 44100) -> np.ndarray:
    """Double-tempo-prone music `[2, N]`: a kick on every beat, loud hi-hats on every half beat
    (2× the kick, as bright and as dense as a tracker's favourite pulse), a chord every bar."""
    rng = np.random.default_rng(1)
    mix = np.zeros(int(round(duration * rate)))
    period = 60.0 / bpm
    for i, t in enumerate(beat_times(bpm, duration)):
        _add(mix, _kick(rate, accent=1.0 if i % 4 == 0 else 0.8), t, rate)
        _add(mix, _hat(rate, rng, 0.5), t, rate)
        _add(mix, _hat(rate, rng, 0.5), t + period / 2, rate)
        if i % 4 == 0:
            _add(mix, _chord(rate, CHORDS[(i // 4) % 4], 4 * period), t, rate)
    mix *= 0.5 / max(np.abs(mix).max(), 1e-9)
    return np.stack([mix, mix]).astype(np.float32)


def kick_attacks(audio: np.ndarray, rate: int) -> np.ndarray:
    """Where kicks start in `audio` `[C, N]` (s): the steepest rises of the < 120 Hz energy.

    An independent reading of the output (a different band and method from the product's
    tracker), for tests that must judge the delivered audio rather than the plan.
    """
    from scipy.signal import butter, sosfilt

    low = sosfilt(butter(4, 120.0, btype="low", fs=rate, output="sos"), audio.mean(axis=0))
    hop, width = rate // 1000, rate // 50  # 1 ms steps, 20 ms windows (a 50 Hz cycle)
    power = np.concatenate([[0.0], np.cumsum(low.astype(np.float64) ** 2)])
    starts = np.arange(0, len(low) - width, hop)
    level = 10 * np.log10((power[starts + width] - power[starts]) / width + 1e-12)
    before = np.concatenate([np.full(40, level[0]), level[:-40]])  # 40 ms earlier
    jumps = np.flatnonzero((level - before > 12.0) & (level > level.max() - 30.0))
    attacks, last = [], -np.inf
    for frame in jumps:  # one kick per jump, kicks ≥ 0.3 s apart
        if frame - last > 300:
            rise = np.diff(level[max(frame - 40, 0) : frame + 10])
            attacks.append(max(frame - 40, 0) + int(np.argmax(rise)) + 1)
            last = frame
    # a window's energy rises fastest when its leading edge is inside the kick's 2 ms ramp,
    # 4 ms (measured on known kicks) after the kick starts
    return (starts[np.array(attacks, dtype=int)] + width) / rate - 0.004


def make_sustained_music(bpm: float, duration: float, rate: int = 44100, seed: int = 0):
    """`make_music` over a pad that sounds from the first sample to the last: music without a
    moment of digital silence, so any silence in what is delivered was made by the product."""
    audio = make_music(bpm, duration, rate, seed)
    t = np.arange(audio.shape[1]) / rate
    pad = 0.04 * (np.cos(2 * np.pi * 110.0 * t) + 0.5 * np.cos(2 * np.pi * 165.0 * t))
    return (audio + pad[None, :]).astype(np.float32)


def longest_silence(audio: np.ndarray, rate: int, floor: float = 1e-5) -> float:
    """Seconds of the longest run where every channel of `audio` `[C, N]` is below `floor`
    (≈ −100 dBFS: digital silence), read off the samples alone."""
    quiet = np.all(np.abs(audio) < floor, axis=0).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max()) / rate if len(runs) else 0.0


def make_band_music(bpm: float, duration: float, rate: int = 44100, seed: int = 2) -> np.ndarray:
    """A band whose every attack is known `[2, N]`: kick on beats 1 and 3, snare on 2 and 4,
    hats on the eighths, a bass note on every beat (its attack with the beat's), a chord a bar.
    For calibrating a beat tracker's own lag: its beats should sit on `beat_times`."""
    rng = np.random.default_rng(seed)
    mix = np.zeros(int(round(duration * rate)))
    period = 60.0 / bpm
    for i, t in enumerate(beat_times(bpm, duration)):
        if i % 2 == 0:
            _add(mix, _kick(rate, accent=1.0 if i % 4 == 0 else 0.8), t, rate)
        else:
            _add(mix, _snare(rate, rng), t, rate)
        _add(mix, _bass(rate, (55.0, 55.0, 49.0, 41.2)[(i // 4) % 4], 0.9 * period), t, rate)
        _add(mix, _hat(rate, rng, 0.12), t, rate)
        _add(mix, _hat(rate, rng, 0.07), t + period / 2, rate)
        if i % 4 == 0:
            _add(mix, _chord(rate, CHORDS[(i // 4) % 4], 4 * period), t, rate)
    mix *= 0.5 / max(np.abs(mix).max(), 1e-9)
    return np.stack([mix, 0.95 * mix]).astype(np.float32)


def _snare(rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(0.18 * rate)) / rate
    body = np.sin(2 * np.pi * 190 * t) * np.exp(-t * 30)
    noise = rng.standard_normal(len(t)) * np.exp(-t * 22)
    return 0.6 * np.minimum(t / 0.001, 1.0) * (0.5 * body + 0.5 * noise)


def _bass(rate: int, freq: float, length: float) -> np.ndarray:
    t = np.arange(int(length * rate)) / rate
    envelope = np.minimum(t / 0.004, 1.0) * np.exp(-t * 3) * np.minimum((length - t) / 0.02, 1.0)
    return 0.35 * envelope * np.sin(2 * np.pi * freq * t)
