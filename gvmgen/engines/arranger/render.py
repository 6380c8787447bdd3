"""Rendering: a `Score` → stereo audio. Notes are synthesised one by one into per-part stems
(bar by bar, so progress and cancellation work at bar granularity), then mixed."""

from __future__ import annotations

import threading

import numpy as np

from gvmgen.engines.arranger import mix, synth
from gvmgen.engines.arranger.score import DRUM_PARTS, Score
from gvmgen.engines.base import ProgressFn, check_cancel

_TAIL_SECONDS = 3.0  # room in the stems for notes ringing past the cue end (cut off later)
_RENDER_SHARE = 0.7  # fraction of the progress bar spent on notes; the rest is the mix
_VELOCITY_CURVE = 1.6  # velocity → gain exponent: soft notes get softer faster
_LENGTH_QUANTUM = 256  # samples (5 ms at 48 kHz): held lengths this close share a rendering
_CACHE_BYTES = 192 * 2**20


def render_score(
    score: Score,
    sr: int,
    duration: float | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Audio of `score`, float32 `[2, round(duration * sr)]` in [-1, 1] (duration defaults to the
    score's)."""
    duration = score.duration if duration is None else duration
    n_samples = max(1, round(duration * sr))
    stems = _render_stems(score, sr, n_samples, progress, cancel)
    report = None
    if progress is not None:

        def report(done: float) -> None:
            progress(_RENDER_SHARE + (1 - _RENDER_SHARE) * done, "mixing")

    return mix.mix(stems, sr, n_samples, report, cancel)


def _render_stems(score, sr, n_samples, progress, cancel) -> dict[str, np.ndarray]:
    """Every note into its part's stem (mono `[n]`; the pad stereo `[2, n]`), bar by bar."""
    length = n_samples + int(_TAIL_SECONDS * sr)
    parts = {note.part for note in score.notes}
    stems = {p: np.zeros((2, length) if p == "pad" else length, np.float32) for p in parts}
    bar_ends = np.append(score.downbeat_times[1:], np.inf)
    onsets = np.array([note.start for note in score.notes])
    first = 0
    cache = _NoteCache()
    for bar, bar_end in enumerate(bar_ends):
        check_cancel(cancel)
        last = int(np.searchsorted(onsets, bar_end, side="left"))
        for note in score.notes[first:last]:
            _add_note(stems[note.part], note, sr, length, cache)
        first = last
        if progress is not None:
            progress(_RENDER_SHARE * (bar + 1) / len(bar_ends), f"bar {bar + 1}/{len(bar_ends)}")
    return stems


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


def _add_note(stem: np.ndarray, note, sr: int, length: int, cache: _NoteCache) -> None:
    """Synthesise `note` and add it into `stem` at its onset, cut at the stem's end."""
    start = round(note.start * sr)
    if start >= length:
        return
    gain = note.velocity**_VELOCITY_CURVE
    if note.part in DRUM_PARTS:
        audio = synth.drum_hit(note.part, note.pitch, sr)
    else:
        audio = cache.get(note.part, note.pitch, round(note.duration * sr), sr)
    stop = min(length, start + audio.shape[-1])
    stem[..., start:stop] += gain * audio[..., : stop - start]
