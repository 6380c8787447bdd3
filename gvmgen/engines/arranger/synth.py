"""Instruments: each note rendered as a numpy array (band-limited wavetables, FM, noise).

Tonal parts return `[2, n]` (pad: detuned left/right) or `[n]` (mono, panned in the mix);
drums are mono one-shots, identical for every hit of a kind, so they are rendered once and
scaled. Notes ring past their held length by their release; callers add them into stems.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gvmgen.engines.arranger.score import GM_CRASH, GM_OPEN_HAT, GM_SNARE, GM_TOMS

_TABLE_SIZE = 4096
_MAX_HARMONICS = 24
_VIBRATO_DELAY = 0.25  # seconds before a held lead note starts to wobble
_DRUM_NOISE_SEED = 1234  # drum noise is the same every run: hits must be deterministic


def midi_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69) / 12.0)


@lru_cache(maxsize=64)
def _wavetable(shape: str, harmonics: int) -> np.ndarray:
    """One cycle, float32 `[_TABLE_SIZE]`, with only the harmonics that stay under Nyquist."""
    x = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    k = np.arange(1, harmonics + 1)[:, None]
    if shape == "saw":
        amps = 1.0 / k
    elif shape == "square":
        amps = (k % 2) / k
    elif shape == "sine":
        amps = (k == 1) * 1.0
    else:  # triangle
        amps = (k % 2) * (-1.0) ** ((k - 1) // 2) / k**2
    wave = (amps * np.sin(2 * np.pi * k * x)).sum(axis=0)
    return (wave / np.abs(wave).max()).astype(np.float32)


_PHASE_BITS = 32
_INDEX_SHIFT = np.uint32(_PHASE_BITS - int(np.log2(_TABLE_SIZE)))


def phase_ramp(freq: float, n: int, sr: int, offset: float = 0.0) -> np.ndarray:
    """Oscillator phase as 32-bit fixed point, uint32 `[n]`: wraps around exactly once a cycle."""
    increment = np.uint32(round(freq / sr * 2**_PHASE_BITS) % 2**_PHASE_BITS)
    return _ramp(n) * increment + np.uint32(int(offset * 2**_PHASE_BITS) % 2**_PHASE_BITS)


def _ramp(n: int) -> np.ndarray:
    """0, 1, …, n-1 as uint32 (a view of a shared read-only array that grows on demand)."""
    global _RAMP
    ramp = _RAMP  # one read: another thread may swap the global meanwhile
    if len(ramp) < n:
        ramp = np.arange(max(n, 2 * len(ramp)), dtype=np.uint32)
        ramp.flags.writeable = False
        _RAMP = ramp
    return ramp[:n]


_RAMP = np.arange(0, dtype=np.uint32)


def oscillator(shape: str, phase: np.ndarray, freq: float, sr: int, limit: int = 99) -> np.ndarray:
    """Wavetable lookup at fixed-point `phase` (uint32 `[n]`) → float32 `[n]`."""
    harmonics = max(1, min(limit, _MAX_HARMONICS, int(0.45 * sr / freq)))
    return np.take(_wavetable(shape, harmonics), phase >> _INDEX_SHIFT)


def envelope(n_held: int, sr: int, attack: float, decay: float, sustain: float, release: float):
    """ADSR amplitude, float32 `[n_held + release samples]`; release starts at `n_held`."""
    a, d, r = (max(1, int(x * sr)) for x in (attack, decay, release))
    held = max(n_held, 1)
    env = np.full(held + r, sustain, np.float32)
    rise = min(a, held)
    env[:rise] = np.arange(rise, dtype=np.float32) / a
    fall = min(a + d, held) - a
    if fall > 0:
        env[a : a + fall] = 1.0 - (1.0 - sustain) * np.arange(fall, dtype=np.float32) / d
    env[held:] = env[held - 1] * np.linspace(1.0, 0.0, r, dtype=np.float32)
    return env


def pad(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Two saws detuned ±7 cents, one per side, over a centred soft triangle. `[2, n]`."""
    env = envelope(n_held, sr, 0.35, 0.6, 0.75, 0.7)
    n, f = len(env), midi_hz(pitch)
    centre = 0.6 * oscillator("triangle", phase_ramp(f, n, sr), f, sr)
    f_left, f_right = f * 2 ** (-7 / 1200), f * 2 ** (7 / 1200)
    left = oscillator("saw", phase_ramp(f_left, n, sr, 0.13), f, sr, limit=12) + centre
    right = oscillator("saw", phase_ramp(f_right, n, sr, 0.61), f, sr, limit=12) + centre
    return np.stack([left, right]) * env


def keys(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Electric piano: a 1:1 FM tine whose brightness decays, plus a bell partial. `[n]`."""
    env = envelope(n_held, sr, 0.003, 0.05, 1.0, 0.3)
    n, f = len(env), midi_hz(pitch)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    carrier = np.float32(2 * np.pi * f) * t
    index = np.float32(2.2) * np.exp(t * np.float32(-1 / 0.25))
    tone = np.sin(carrier + index * np.sin(carrier))
    ring = min(n, int(0.4 * sr))  # the bell partial is gone after 0.4 s: skip the rest
    tone[:ring] += 0.25 * np.sin(4.0 * carrier[:ring]) * np.exp(t[:ring] * np.float32(-1 / 0.08))
    decay = np.exp(t * np.float32(-1 / (1.6 if pitch < 60 else 1.1)))
    return tone * decay * env


def bass(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Round electric bass: sine fundamental, a few saw harmonics that fade. `[n]`."""
    env = envelope(n_held, sr, 0.004, 0.25, 0.7, 0.06)
    n, f = len(env), midi_hz(pitch)
    phase = phase_ramp(f, n, sr)
    body = oscillator("sine", phase, f, sr)
    fade = np.exp(np.arange(n, dtype=np.float32) * np.float32(-1.0 / (0.3 * sr)))
    edge = oscillator("saw", phase, f, sr, limit=6) * fade
    return (body + 0.45 * edge) * env


def lead(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Lead: square/triangle blend with a vibrato that fades in on held notes. `[n]`."""
    env = envelope(n_held, sr, 0.012, 0.15, 0.7, 0.18)
    n, f = len(env), midi_hz(pitch)
    if n_held <= _VIBRATO_DELAY * sr:
        phase = phase_ramp(f, n, sr)
    else:  # fixed-point phase increments summed with uint32 wrap-around: exact cycles
        t = np.arange(n, dtype=np.float32) / np.float32(sr)
        depth = 0.006 * np.clip((t - _VIBRATO_DELAY) / 0.3, 0.0, 1.0)
        wobble = 1.0 + depth * np.sin(np.float32(2 * np.pi * 5.3) * t)
        phase = np.cumsum(
            (wobble * np.float32(f / sr * 2**_PHASE_BITS)).astype(np.uint32), dtype=np.uint32
        )
    tone = 0.5 * oscillator("square", phase, f, sr, limit=14)
    tone += oscillator("triangle", phase, f, sr)
    return tone * env


def pluck(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Harp-like pluck: six harmonics, the higher ones dying away faster. `[n]`."""
    n = min(n_held + int(0.3 * sr), int(2.5 * sr))
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    cycle = np.float32(2 * np.pi * midi_hz(pitch)) * t
    tone = np.zeros(n, np.float32)
    for k in range(1, 7):
        if k * midi_hz(pitch) < 0.45 * sr:
            tone += np.sin(k * cycle) * np.exp(t * np.float32(-k / 0.9)) / k
    damp = envelope(n_held, sr, 0.002, 0.01, 1.0, 0.3)[:n]
    return tapered(tone * damp, sr)


TONAL = {"pad": pad, "keys": keys, "bass": bass, "lead": lead, "pluck": pluck}


def tapered(x: np.ndarray, sr: int, seconds: float = 0.03) -> np.ndarray:
    """`x` with its last `seconds` faded to zero (a half cosine): a sound cut off while still
    ringing would otherwise end in a click."""
    n = min(x.shape[-1], int(seconds * sr))
    if n:
        x[..., -n:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    return x


@lru_cache(maxsize=16)
def drum_hit(part: str, pitch: int, sr: int) -> np.ndarray:
    """One drum hit at full velocity, float32 `[n]` (cached: every hit of a kind is alike)."""
    return tapered(_drum(part, pitch, sr).astype(np.float32), sr)


def _drum(part: str, pitch: int, sr: int) -> np.ndarray:
    noise = np.random.default_rng(_DRUM_NOISE_SEED + pitch).standard_normal(3 * sr)
    noise = noise.astype(np.float32)
    if part == "kick":
        return _kick(sr, noise)
    if part == "snare":
        return _snare(sr, noise, rim=pitch != GM_SNARE)
    if part == "hat":
        return _hat(sr, noise, open_=pitch == GM_OPEN_HAT)
    if part == "crash" or pitch == GM_CRASH:
        return _crash(sr, noise)
    return _tom(sr, noise, GM_TOMS.index(pitch) if pitch in GM_TOMS else 1)


def _time(seconds: float, sr: int) -> np.ndarray:
    return np.arange(int(seconds * sr), dtype=np.float32) / sr


def _highpass(x: np.ndarray, times: int = 1) -> np.ndarray:
    """Cheap high-pass: repeated first differences (+6 dB/octave each)."""
    for _ in range(times):
        x = np.diff(x, prepend=x[:1])
    return x


def _soften(x: np.ndarray, width: int) -> np.ndarray:
    """Cheap low-pass: a `width`-sample moving average (first null at sr / width)."""
    return np.convolve(x, np.full(width, 1.0 / width, np.float32), mode="same").astype(np.float32)


def _kick(sr: int, noise: np.ndarray) -> np.ndarray:
    """Pitch-swept sine (150 → 48 Hz) with a short click on top: the beat's anchor."""
    t = _time(0.7, sr)
    freq = 48.0 + 105.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.22)
    click = _soften(_highpass(noise[: len(t)], 2), 4) * np.exp(-t / 0.003) * 0.5
    return np.tanh(1.6 * (body + click)) / np.tanh(1.6)


def _snare(sr: int, noise: np.ndarray, rim: bool) -> np.ndarray:
    """Two drum-head modes plus a band of noise for the wires; a side stick is mostly wood."""
    t = _time(0.35, sr)
    head = (185.0, 330.0) if not rim else (420.0, 810.0)
    tone = (np.sin(2 * np.pi * head[0] * t) + 0.5 * np.sin(2 * np.pi * head[1] * t)) * np.exp(
        -t / (0.05 if not rim else 0.025)
    )
    wires = _soften(_highpass(noise[: len(t)], 1), 4) * np.exp(-t / (0.02 if rim else 0.13))
    hit = 0.5 * tone + (0.35 if rim else 0.8) * wires
    return hit / np.abs(hit).max()


def _hat(sr: int, noise: np.ndarray, open_: bool) -> np.ndarray:
    t = _time(0.5 if open_ else 0.12, sr)
    hiss = _soften(_highpass(noise[: len(t)], 2), 2) * np.exp(-t / (0.2 if open_ else 0.022))
    return hiss / np.abs(hiss).max()


def _crash(sr: int, noise: np.ndarray) -> np.ndarray:
    """High-passed noise with a few inharmonic metallic partials, ringing ~2 s."""
    t = _time(2.5, sr)
    metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (347.0, 461.0, 587.0, 733.0, 1187.0))
    wash = _soften(_highpass(noise[: len(t)], 2), 2) + 0.04 * _highpass(metal, 1)
    attack = np.clip(t / 0.002, 0.0, 1.0)
    hit = wash * attack * np.exp(-t / 0.8)
    return (hit / np.abs(hit).max()).astype(np.float32)


def _tom(sr: int, noise: np.ndarray, which: int) -> np.ndarray:
    t = _time(0.4, sr)
    base = (90.0, 125.0, 170.0)[which]
    freq = base * (1.0 + 0.5 * np.exp(-t / 0.04))
    body = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.2)
    hit = body + 0.15 * _highpass(noise[: len(t)], 1) * np.exp(-t / 0.02)
    return hit / np.abs(hit).max()


# Acoustic-like voices (issue 19: richer timbres than wavetables and noise). Each is a small
# physical or spectral model: partials that decay at their own rates, a little inharmonicity,
# detuned unisons that beat, and the noise an instrument makes besides its tone (hammer, bow).
_NOISE = np.random.default_rng(_DRUM_NOISE_SEED).standard_normal(6 * 48000).astype(np.float32)


def _noise(n: int, offset: int = 0) -> np.ndarray:
    start = offset % (len(_NOISE) - n) if n < len(_NOISE) else 0
    return _NOISE[start : start + n] if n <= len(_NOISE) else np.resize(_NOISE, n)


def _one_pole_lowpass(x: np.ndarray, cutoff: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    a = float(np.exp(-2 * np.pi * min(cutoff, 0.45 * sr) / sr))
    return lfilter([1 - a], [1, -a], x).astype(np.float32)


def _partials(
    f: float, n: int, sr: int, amps, decays, inharmonic: float = 0.0, detune_cents: float = 0.0
) -> np.ndarray:
    """Sum of partials k = 1.. with amplitudes `amps[k-1]`, each decaying with time constant
    `decays[k-1]` s, stretched by inharmonicity B (f_k = k f sqrt(1 + B k²)); with
    `detune_cents`, each partial is a pair of strings that beat. `[n]` float32."""
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    out = np.zeros(n, np.float32)
    for k, (amp, decay) in enumerate(zip(amps, decays, strict=True), start=1):
        fk = k * f * np.sqrt(1.0 + inharmonic * k * k)
        if fk >= 0.45 * sr or amp == 0:
            continue
        m = min(n, int(7.0 * decay * sr))  # gone 60 dB down: stop computing it
        env = np.exp(t[:m] * np.float32(-1.0 / decay))
        tone = np.sin(np.float32(2 * np.pi * fk) * t[:m])
        if detune_cents:
            spread = fk * (2 ** (detune_cents / 1200) - 1)
            tone = 0.5 * tone + 0.5 * np.sin(np.float32(2 * np.pi * (fk + spread)) * t[:m] + 0.7)
        out[:m] += np.float32(amp) * env * tone
    return out


def piano(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Piano: inharmonic partials, the higher dying faster, string pairs that beat, a hammer's
    knock; the damper ends the note 0.12 s after release. `[n]`."""
    return _damped(_piano_tone(pitch, sr), n_held, sr, 0.12, 0.03)


@lru_cache(maxsize=128)
def _piano_tone(pitch: int, sr: int) -> np.ndarray:
    """The undamped string, as long as it rings (cached: a note is this, cut by its damper)."""
    f = midi_hz(pitch)
    sustain = float(np.clip(5.0 * 2 ** (-(pitch - 36) / 18), 0.6, 6.0))
    n = int(min(3.0 * sustain, 6.0) * sr)
    k = np.arange(1, 11)
    amps = (1.0 / k**1.1) * np.abs(np.sin(np.pi * k / 7.3))  # struck at ~1/7 of the string
    tone = _partials(f, n, sr, amps, sustain / (1 + 0.7 * (k - 1)), 0.0003, 1.1)
    knock = min(n, int(0.02 * sr))
    thump = _one_pole_lowpass(_noise(knock, pitch * 997), 1200.0, sr)
    tone[:knock] += 0.25 * thump * np.linspace(1.0, 0.0, knock, dtype=np.float32)
    tone[:32] *= np.linspace(0.0, 1.0, 32, dtype=np.float32)
    tone.flags.writeable = False
    return tone


def _damped(tone: np.ndarray, n_held: int, sr: int, release: float, tau: float) -> np.ndarray:
    """`tone` held `n_held` samples, then damped (time constant `tau`) over `release` s."""
    n = min(n_held + int(release * sr), len(tone))
    out = tone[:n].copy()
    if n > n_held:
        fall = np.exp(-np.arange(n - n_held, dtype=np.float32) / np.float32(tau * sr))
        out[n_held:] *= fall
    return tapered(out, sr, 0.01)


@lru_cache(maxsize=8)
def _bow_noise(sr: int) -> np.ndarray:
    """A few seconds of soft, dark noise that strings mix under their tone."""
    noise = _one_pole_lowpass(_noise(4 * sr, 7919), 1800.0, sr)
    noise.flags.writeable = False
    return noise


def strings(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """String section: three detuned saws per side, their harmonics stopped where a soft
    low-pass would take them, a slow bow attack, and bow noise. `[2, n]`."""
    env = envelope(n_held, sr, 0.28, 0.4, 0.85, 0.55)
    n, f = len(env), midi_hz(pitch)
    harmonics = max(2, int(min(3000.0, 600.0 + 2.0 * f) / f))
    bow = _bow_noise(sr)
    sides = []
    for side, cents in enumerate(((-9.0, 3.0, 11.0), (-4.0, 7.0, -12.0))):
        mix = np.zeros(n, np.float32)
        for i, c in enumerate(cents):
            fc = f * 2 ** (c / 1200)
            mix += oscillator(
                "saw", phase_ramp(fc, n, sr, 0.17 * i + 0.4 * side), fc, sr, harmonics
            )
        start = (pitch * 4409 + side * 22050) % max(1, len(bow) - n)
        noise = bow[start : start + n] if n <= len(bow) else np.resize(bow, n)
        sides.append(mix / 3 + 0.03 * noise)
    return np.stack(sides) * env


def strings_lead(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Solo violin-like line: a saw with delayed vibrato, its brightness a body's. `[n]`."""
    env = envelope(n_held, sr, 0.06, 0.2, 0.8, 0.25)
    n, f = len(env), midi_hz(pitch)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    depth = 0.004 * np.clip((t - 0.2) / 0.3, 0.0, 1.0)
    wobble = 1.0 + depth * np.sin(np.float32(2 * np.pi * 5.5) * t)
    phase = np.cumsum(
        (wobble * np.float32(f / sr * 2**_PHASE_BITS)).astype(np.uint32), dtype=np.uint32
    )
    tone = oscillator("saw", phase, f, sr, limit=max(3, int(3500.0 / f)))
    bow = _bow_noise(sr)
    start = (pitch * 2203) % max(1, len(bow) - n)
    noise = bow[start : start + n] if n <= len(bow) else np.resize(bow, n)
    return (tone + 0.05 * noise) * env


def harp(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Harp or guitar pluck: bright partials (plucked near the end of the string) that decay,
    the highest fastest, and a short finger noise. `[n]`."""
    return _damped(_harp_tone(pitch, sr), n_held + int(0.5 * sr), sr, 0.3, 0.08)


@lru_cache(maxsize=128)
def _harp_tone(pitch: int, sr: int) -> np.ndarray:
    f = midi_hz(pitch)
    n = int(3.0 * sr)
    k = np.arange(1, 11)
    amps = np.abs(np.sin(np.pi * k * 0.18)) / k
    decay = float(np.clip(2.2 * 2 ** (-(pitch - 48) / 24), 0.4, 2.5))
    tone = _partials(f, n, sr, amps, decay / (1 + 0.5 * (k - 1)), 0.00005)
    pluck_noise = int(0.008 * sr)
    tone[:pluck_noise] += 0.15 * _noise(pluck_noise, pitch * 13)
    tone[:16] *= np.linspace(0.0, 1.0, 16, dtype=np.float32)
    tone.flags.writeable = False
    return tone


def bell(pitch: int, n_held: int, sr: int) -> np.ndarray:
    """Vibraphone-like mallet: partials at 1, 3.9 and 9.8 times the fundamental with their own
    decays, a soft motor tremolo; the damper bar stops it 0.6 s after release. `[n]`."""
    return _damped(_bell_tone(pitch, sr), n_held, sr, 0.6, 0.15)


@lru_cache(maxsize=128)
def _bell_tone(pitch: int, sr: int) -> np.ndarray:
    n = int(4.0 * sr)
    f = midi_hz(pitch)
    t = np.arange(n, dtype=np.float32) / np.float32(sr)
    tone = np.zeros(n, np.float32)
    for ratio, amp, decay in ((1.0, 1.0, 1.8), (3.93, 0.35, 0.5), (9.8, 0.12, 0.12)):
        if ratio * f < 0.45 * sr:
            tone += amp * np.sin(np.float32(2 * np.pi * ratio * f) * t) * np.exp(-t / decay)
    tone *= 1.0 - 0.15 * (0.5 + 0.5 * np.sin(np.float32(2 * np.pi * 5.0) * t))
    tone[:16] *= np.linspace(0.0, 1.0, 16, dtype=np.float32)
    tone.flags.writeable = False
    return tone


TONAL.update(
    {"piano": piano, "strings": strings, "strings_lead": strings_lead, "harp": harp, "bell": bell}
)
