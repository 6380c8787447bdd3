"""Mix bus: gains, panning, a reverb send, bus compression, headroom.

The renderer feeds the bus a few seconds at a time; `finish` then removes DC, fades the edges
and sets the peak once the whole cue is there.
"""

from __future__ import annotations

import numpy as np
from pedalboard import Compressor, Reverb

HEADROOM_PEAK = 0.89  # -1 dBFS: the loudness stage downstream has room to work
_FADE_SECONDS = 0.005  # fade in/out at the cue edges: no click where the audio starts or stops

# part: (gain, pan -1 left .. 1 right, reverb send). Tones are band-limited at the source and
# the pad is already detuned left/right, so parts need no filters or chorus of their own.
_CHANNELS: dict[str, tuple[float, float, float]] = {
    "pad": (0.16, 0.0, 0.4),
    "keys": (0.13, -0.3, 0.3),
    "bass": (0.42, 0.0, 0.0),
    "lead": (0.24, 0.2, 0.35),
    "pluck": (0.3, 0.2, 0.45),
    "kick": (0.75, 0.0, 0.0),
    "snare": (0.42, 0.05, 0.18),
    "hat": (0.1, 0.35, 0.05),
    "crash": (0.2, -0.3, 0.1),
    "tom": (0.4, -0.15, 0.12),
}


class MixBus:
    """The master section, fed chunk by chunk: reverb send and glue compression keep their state
    between chunks, so the result does not depend on the chunk size."""

    def __init__(self, sr: int):
        self.sr = sr
        self._reverb = Reverb(room_size=0.6, damping=0.5, wet_level=1.0, dry_level=0.0, width=1.0)
        self._glue = Compressor(threshold_db=-16.0, ratio=2.5, attack_ms=10.0, release_ms=150.0)

    def process(self, stems: dict[str, np.ndarray], length: int) -> np.ndarray:
        """The next `length` samples of the mix from stems (`[n]` mono or `[2, n]` stereo, at
        least `length` long) → float32 `[2, length]`, before `finish`."""
        dry, send = _sum_chunk(stems, 0, length)
        dry += self._reverb.process(send, self.sr, reset=False)
        return self._glue.process(dry, self.sr, reset=False)


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


def finish(out: np.ndarray, sr: int) -> np.ndarray:
    """Remove DC, fade the edges by a few ms, scale to the headroom peak."""
    out -= out.mean(axis=1, keepdims=True)
    fade = min(out.shape[1] // 2, int(_FADE_SECONDS * sr))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        out[:, :fade] *= ramp
        out[:, -fade:] *= ramp[::-1]
    peak = max(float(out.max()), -float(out.min()))
    if peak > 0:
        out *= np.float32(HEADROOM_PEAK / peak)
    return np.clip(out, -1.0, 1.0, out=out)
