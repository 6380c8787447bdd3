"""Mix bus: gains, panning, a reverb send, glue compression, a level ride, headroom.

The renderer feeds the bus a few seconds at a time, one group of parts at a time (the whole mix,
or each stem); `master` then computes one gain curve on the summed mix (glue compression and the
score's level ride) and applies it, DC removal, edge fades and one peak scale to every group
alike, so the stems always sum to the mix.
"""

from __future__ import annotations

import numpy as np
from pedalboard import Reverb

HEADROOM_PEAK = 0.89  # -1 dBFS: the loudness stage downstream has room to work
_FADE_SECONDS = 0.005  # fade in/out at the cue edges: no click where the audio starts or stops
# Glue compression: gentle, slow enough to keep the attacks and the level ride.
GLUE_THRESHOLD_DB, GLUE_RATIO, GLUE_ATTACK, GLUE_RELEASE = -16.0, 2.0, 0.01, 0.2
_GLUE_BLOCK = 0.005  # s between level readings
_RIDE_BLOCK = 256  # samples between points of the level ride's curve

# part: (gain, pan -1 left .. 1 right, reverb send). Tones are band-limited at the source and
# the pads and strings are already spread left/right, so parts need no filters of their own.
_CHANNELS: dict[str, tuple[float, float, float]] = {
    "pad": (0.16, 0.0, 0.4),
    "keys": (0.13, -0.3, 0.3),
    "strings": (0.2, 0.0, 0.45),
    "piano": (0.16, -0.25, 0.3),
    "bass": (0.42, 0.0, 0.0),
    "lead": (0.24, 0.2, 0.35),
    "pluck": (0.3, 0.2, 0.45),
    "strings_lead": (0.22, 0.2, 0.4),
    "harp": (0.26, 0.25, 0.45),
    "bell": (0.22, 0.2, 0.4),
    "kick": (0.75, 0.0, 0.0),
    "snare": (0.42, 0.05, 0.18),
    "hat": (0.1, 0.35, 0.05),
    "crash": (0.2, -0.3, 0.1),
    "tom": (0.4, -0.15, 0.12),
}


class MixBus:
    """Panning and the reverb send of each group of parts, fed chunk by chunk: each group's
    reverb keeps its state between chunks, so the result does not depend on the chunk size.
    The reverb is linear, so the groups' reverbs sum to the reverb of the whole."""

    def __init__(self, sr: int, groups: dict[str, tuple[str, ...]]):
        self.sr = sr
        self.groups = groups
        self._reverbs = {
            name: Reverb(room_size=0.6, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)
            for name in groups
        }

    def process(self, stems: dict[str, np.ndarray], length: int) -> dict[str, np.ndarray]:
        """The next `length` samples of each group from part stems (`[n]` mono or `[2, n]`
        stereo, at least `length` long) → {group: float32 `[2, length]`}."""
        out = {}
        for name, parts in self.groups.items():
            dry, send = _sum_chunk({p: stems[p] for p in parts if p in stems}, 0, length)
            dry += self._reverbs[name].process(send, self.sr, reset=False)
            out[name] = dry
        return out


def _sum_chunk(stems, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Dry stereo sum and reverb send of `[start, stop)`, each `[2, stop - start]`."""
    dry = np.zeros((2, stop - start), np.float32)
    send = np.zeros_like(dry)
    for part, stem in stems.items():
        gain, pan, send_level = _CHANNELS[part]
        audio = stem[..., start:stop]
        angle = (pan + 1.0) * np.pi / 4  # constant-power pan; stereo stems keep their image
        sides = (np.cos(angle), np.sin(angle)) if audio.ndim == 1 else (np.sqrt(0.5),) * 2
        for channel, side in enumerate(sides):
            signal = audio if audio.ndim == 1 else audio[channel]
            dry[channel] += np.float32(gain * side * np.sqrt(2.0)) * signal
            if send_level:
                send[channel] += np.float32(gain * side * np.sqrt(2.0) * send_level) * signal
    return dry, send


def glue_gain(mix: np.ndarray, sr: int) -> np.ndarray:
    """Gain of a gentle bus compressor on `mix` `[2, N]` → float32 `[N]` (≤ 1): level every
    5 ms, reduction above the threshold, smoothed with attack and release."""
    n = mix.shape[1]
    block = max(1, int(_GLUE_BLOCK * sr))
    blocks = -(-n // block)
    power = np.zeros(blocks * block, np.float32)
    power[:n] = (mix.astype(np.float32) ** 2).mean(axis=0)
    level = 10 * np.log10(power.reshape(blocks, block).mean(axis=1) + 1e-12)
    target = np.maximum(level - GLUE_THRESHOLD_DB, 0.0) * (1.0 - 1.0 / GLUE_RATIO)
    attack = np.exp(-block / (GLUE_ATTACK * sr))
    release = np.exp(-block / (GLUE_RELEASE * sr))
    reduction = np.empty(blocks)
    state = 0.0
    for i, want in enumerate(target.tolist()):
        coeff = attack if want > state else release
        state = coeff * state + (1.0 - coeff) * want
        reduction[i] = state
    return upsampled(10 ** (-reduction / 20), block, n)


def ride_gain(times: np.ndarray, ride_db: np.ndarray, n: int, sr: int) -> np.ndarray:
    """The level ride as a gain `[n]`: each bar's level at its middle, linear in dB between;
    `times` are the bars' downbeats."""
    if len(ride_db) == 0:
        return np.ones(n, np.float32)
    ends = np.append(times[1:], times[-1] + (times[-1] - times[-2] if len(times) > 1 else 2.0))
    middles = 0.5 * (times + ends) * sr
    block = _RIDE_BLOCK
    starts = np.arange(-(-n // block)) * block
    return upsampled(10 ** (np.interp(starts, middles, ride_db) / 20), block, n)


def upsampled(values: np.ndarray, block: int, n: int) -> np.ndarray:
    """Values given at the start of every `block` samples → `[n]` float32, linear between."""
    values = np.asarray(values, dtype=np.float32)
    following = np.append(values[1:], values[-1])
    ramp = np.arange(block, dtype=np.float32) / np.float32(block)
    curve = values[:, None] + (following - values)[:, None] * ramp[None, :]
    return curve.reshape(-1)[:n]


def master(groups: dict[str, np.ndarray], sr: int, ride: np.ndarray) -> dict[str, np.ndarray]:
    """Every group through the same gain curve (glue on the sum, then the ride `[N]`), DC
    removed, edges faded, scaled by one factor so the sum peaks at the headroom. In place."""
    mix = sum(groups.values())
    gain = glue_gain(mix, sr) * ride
    n = mix.shape[1]
    fade = min(n // 2, int(_FADE_SECONDS * sr))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        gain[:fade] *= ramp
        gain[-fade:] *= ramp[::-1]
    for audio in groups.values():
        audio -= audio.mean(axis=1, keepdims=True)
        audio *= gain
    mix = sum(groups.values())
    peak = max(float(mix.max()), -float(mix.min()))
    scale = np.float32(HEADROOM_PEAK / peak) if peak > 0 else np.float32(1.0)
    for audio in groups.values():
        audio *= scale
    return groups
