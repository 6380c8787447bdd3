"""Rendering: a `Score` → stereo audio. Notes are synthesised one by one (numpy arrays, cached
when they recur) into per-part stems, a few seconds at a time, and mixed as they go."""

from __future__ import annotations

import threading

import numpy as np

from gvmgen.align.joins import ending_gain
from gvmgen.engines.arranger import mix, synth
from gvmgen.engines.arranger.score import DRUM_PARTS, STEMS, Score
from gvmgen.engines.base import ProgressFn, check_cancel

_CHUNK_SECONDS = 4.0  # rendered and mixed at a time: bounded memory, progress, cancellation
_RING_SECONDS = 1.0  # longest release or ring past a note's held length (crash: its 2.5 s hit)
_VELOCITY_CURVE = 1.6  # velocity → gain exponent: soft notes get softer faster
_LENGTH_QUANTUM = 256  # samples (5 ms at 48 kHz): held lengths this close share a rendering
_CACHE_BYTES = 192 * 2**20
STEREO_PARTS = ("pad", "strings")  # voices that make their own left and right


def render_score(
    score: Score,
    sr: int,
    duration: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Audio of `score`, float32 `[2, round(duration * sr)]` in [-1, 1] (duration defaults to the
    score's)."""
    parts = tuple(sorted({note.part for note in score.notes}))
    return _render_groups(score, sr, {"mix": parts}, duration, progress, cancel)["mix"]


def render_stems(
    score: Score,
    sr: int,
    duration: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, np.ndarray]:
    """The score's stems (`STEMS`: drums, bass, harmony, melody), each float32 `[2, N]`; they sum
    to `render_score`'s mix (the same gain curve, computed on the mix, scales every stem)."""
    return _render_groups(score, sr, STEMS, duration, progress, cancel)


def _render_groups(
    score: Score,
    sr: int,
    groups: dict[str, tuple[str, ...]],
    duration: float | None,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
) -> dict[str, np.ndarray]:
    """Works through the cue in chunks of a few seconds: the notes starting in a chunk are
    synthesised into per-part stems that reach past the chunk by the longest ring (the overhang
    is carried into the next chunk), and the chunk goes through the mix bus, group by group."""
    duration = score.duration if duration is None else duration
    n_samples = max(1, round(duration * sr))
    onsets = np.array([round(note.start * sr) for note in score.notes], dtype=np.int64)
    longest = max((note.duration for note in score.notes), default=0.0)
    overhang = int((longest + _RING_SECONDS) * sr) + int(2.5 * sr)
    chunk = int(_CHUNK_SECONDS * sr)
    bus, cache = mix.MixBus(sr, groups), _NoteCache()
    parts = sorted({note.part for note in score.notes})
    carried = {part: _silence(part, overhang) for part in parts}
    out = {name: np.zeros((2, n_samples), np.float32) for name in groups}
    for start in range(0, n_samples, chunk):
        check_cancel(cancel)
        length = min(chunk, n_samples - start)
        stems = {part: _silence(part, length + overhang) for part in parts}
        for part in parts:
            stems[part][..., :overhang] += carried[part]
        first, last = np.searchsorted(onsets, [start, start + length])
        for note, onset in zip(score.notes[first:last], onsets[first:last], strict=True):
            _add_note(stems[note.part], note, int(onset - start), sr, cache)
        for name, audio in bus.process(stems, length).items():
            out[name][:, start : start + length] = audio
        carried = {part: stem[..., length : length + overhang] for part, stem in stems.items()}
        if progress is not None:
            done = (start + length) / n_samples
            progress(done, f"rendered {(start + length) / sr:.0f} of {n_samples / sr:.0f} s")
    ride = mix.ride_gain(score.downbeat_times, score.ride_db, n_samples, sr)
    ride *= ending_gain(n_samples, sr, score.ending, score.final_time)
    return mix.master(out, sr, ride)


def _silence(part: str, length: int) -> np.ndarray:
    """An empty stem: pads and strings are stereo `[2, length]`, every other part mono."""
    return np.zeros((2, length) if part in STEREO_PARTS else length, np.float32)


class _NoteCache:
    """Rendered tonal notes by (part, pitch, held length rounded to `_LENGTH_QUANTUM` samples).

    Progressions repeat, so most notes recur; the budget bounds memory on long cues.
    """

    def __init__(self, budget_bytes: int = _CACHE_BYTES):
        self._notes: dict[tuple[str, int, int], np.ndarray] = {}
        self._bytes, self._budget = 0, budget_bytes

    def get(self, part: str, pitch: int, n_held: int, sr: int) -> np.ndarray:
        key = (part, pitch, max(1, round(n_held / _LENGTH_QUANTUM)) * _LENGTH_QUANTUM)
        audio = self._notes.get(key)
        if audio is None:
            audio = synth.TONAL[part](pitch, key[2], sr)
            if self._bytes + audio.nbytes > self._budget:
                self._notes.clear()
                self._bytes = 0
            self._notes[key] = audio
            self._bytes += audio.nbytes
        return audio


def _add_note(stem: np.ndarray, note, start: int, sr: int, cache: _NoteCache) -> None:
    """Synthesise `note` and add it into `stem` from sample `start`, cut at the stem's end."""
    length = stem.shape[-1]
    gain = note.velocity**_VELOCITY_CURVE
    if note.part in DRUM_PARTS:
        audio = synth.drum_hit(note.part, note.pitch, sr)
    else:
        audio = cache.get(note.part, note.pitch, round(note.duration * sr), sr)
    stop = min(length, start + audio.shape[-1])
    stem[..., start:stop] += gain * audio[..., : stop - start]
