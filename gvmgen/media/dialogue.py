"""Where people speak in the range's own sound: the regions the music ducks under.

Silero VAD (MIT; its TorchScript model ships inside the `silero-vad` wheel, so nothing is
downloaded) reads 16 kHz mono in 32 ms windows and gives a speech probability per window; its
own `get_speech_timestamps` turns them into regions with hysteresis. Chosen over WebRTC's GMM
VAD by measurement (docs/BENCHMARKS.md, "Dialogue"): on the speech fixture under a music bed
WebRTC marks the music as speech, and on the shared clips (music only) it fires throughout.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np

VAD_RATE = 16_000  # Hz: what the model reads
THRESHOLD = 0.5  # speech probability a window needs (the model's documented default)
MIN_SPEECH = 0.25  # s: shorter blips (a cough, a door) are not dialogue
MIN_SILENCE = 0.3  # s: shorter pauses stay inside one region (the ducker bridges more)
PAD = 0.05  # s either side of each region (the model's onsets are a window late)
_MODEL_LOCK = threading.Lock()
_MODEL = None


@dataclass(frozen=True)
class SpeechRegion:
    """Speech from `start` to `end`, seconds on the range's clock."""

    start: float
    end: float

    def as_tuple(self) -> tuple[float, float]:
        return (self.start, self.end)


def find_speech(audio: np.ndarray, sample_rate: int) -> list[SpeechRegion]:
    """Speech regions in `audio` `[C, N]` (any rate), in time order; [] for silence."""
    import torch

    mono = _mono_16k(audio, sample_rate)
    if mono.size < VAD_RATE // 10 or not np.any(np.abs(mono) > 1e-4):
        return []
    from silero_vad import get_speech_timestamps

    with _MODEL_LOCK, torch.inference_mode():  # the JIT model keeps state between windows
        model = _model()
        model.reset_states()
        found = get_speech_timestamps(
            torch.from_numpy(mono),
            model,
            threshold=THRESHOLD,
            sampling_rate=VAD_RATE,
            min_speech_duration_ms=int(MIN_SPEECH * 1000),
            min_silence_duration_ms=int(MIN_SILENCE * 1000),
            speech_pad_ms=int(PAD * 1000),
        )
    return [SpeechRegion(s["start"] / VAD_RATE, s["end"] / VAD_RATE) for s in found]


def _mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    from gvmgen.media.audio import resample

    mono = np.asarray(audio, dtype=np.float32).mean(axis=0, keepdims=True)
    return np.ascontiguousarray(resample(mono, sample_rate, VAD_RATE)[0], dtype=np.float32)


def _model():
    """The packaged TorchScript model, loaded once per process (~2 MB, ~50 ms)."""
    global _MODEL
    if _MODEL is None:
        from silero_vad import load_silero_vad

        with warnings.catch_warnings():  # its loader's own deprecations, not ours to act on
            warnings.simplefilter("ignore", DeprecationWarning)
            _MODEL = load_silero_vad(onnx=False)
    return _MODEL
