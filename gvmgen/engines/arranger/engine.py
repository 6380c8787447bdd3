"""`ArrangerEngine`: the built-in procedural music engine (no weights, CPU, faster than real time).

`generate` = `compose` (picture and cuts → `Score`) + `render` (`Score` → audio). The score's beat
grid is exact (anchor cuts sit on downbeats to the sample), so callers that want it use
`generate_with_score` (thread-safe), or read `last_score` after `generate`. The pipeline calls
`generate_with_beats`: the same grid as the aligner's `BeatGrid`, each beat at the time the
aligner's tracker will measure it.
"""

from __future__ import annotations

import threading

import numpy as np

from gvmgen.engines.arranger.compose import compose
from gvmgen.engines.arranger.form import MIN_ANCHOR_GAP
from gvmgen.engines.arranger.heard import heard_beat_times
from gvmgen.engines.arranger.render import render_score, render_stems
from gvmgen.engines.arranger.score import Score
from gvmgen.engines.arranger.steering import STEERED
from gvmgen.engines.base import CueConditioning, ProgressFn, check_cancel
from gvmgen.errors import InputError
from gvmgen.progress import report, scaled

_LOWEST_RATE = 16000  # below this the hats and cymbals would fold over


class ArrangerEngine:
    """Procedural score for a cue: downbeats on the cuts, mood from the picture.

    Args:
        sample_rate: Hz of the audio returned (default 48 kHz, the delivery rate).
        min_anchor_gap: a cut at least this many seconds after the previous anchored one lands
            exactly on a downbeat; closer cuts are left to the aligner.
    """

    name = "arranger"
    window_seconds = float("inf")  # any length in one go
    needs_gpu = False
    takes_prompt_audio = False
    composes_endings = True  # its music ends as `CueConditioning.ending` asks, by itself
    steered_controls = STEERED  # the editor's mood, intensity and tempo shape the composition

    def __init__(self, sample_rate: int = 48000, min_anchor_gap: float = MIN_ANCHOR_GAP):
        if int(sample_rate) != sample_rate or sample_rate < _LOWEST_RATE:
            raise InputError(
                f"sample_rate must be an integer ≥ {_LOWEST_RATE} Hz, got {sample_rate}"
            )
        if not min_anchor_gap > 0:
            raise InputError(f"min_anchor_gap must be positive seconds, got {min_anchor_gap}")
        self.sample_rate = int(sample_rate)
        self.min_anchor_gap = float(min_anchor_gap)
        self.last_score: Score | None = None  # the score behind the latest `generate`

    def compose(self, cue: CueConditioning, seed: int) -> Score:
        """The notes, beat grid and sections for `cue`; deterministic per (cue, seed)."""
        return compose(cue, int(seed), self.min_anchor_gap)

    def render(
        self,
        score: Score,
        duration: float | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """Audio of `score`: float32 `[2, round(duration * sample_rate)]` in [-1, 1]."""
        return render_score(score, self.sample_rate, duration, progress, cancel)

    def stems(
        self, score: Score, duration: float | None = None, cancel: threading.Event | None = None
    ) -> dict[str, np.ndarray]:
        """The stems of `score` (drums, bass, harmony, melody), each `[2, N]`, summing to
        `render(score)`."""
        return render_stems(score, self.sample_rate, duration, None, cancel)

    def generate_stems_with_beats(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ):
        """`generate_with_beats` as stems: ({drums, bass, harmony, melody: `[2, N]`}, the beat
        grid); the stems sum to the mix `generate` makes for the same cue and seed."""
        from gvmgen.align.beats import BeatGrid

        check_cancel(cancel)
        report(progress, 0.0, "composing")
        score = self.compose(cue, seed)
        stems = render_stems(
            score, self.sample_rate, cue.duration, scaled(progress, 0.0, 0.9), cancel
        )
        report(progress, 0.9, "placing the beats where they are heard")
        heard = heard_beat_times(sum(stems.values()), self.sample_rate, score.beat_times)
        downbeats = np.isin(score.beat_times, score.downbeat_times)
        report(progress, 1.0, "done")
        return stems, BeatGrid.from_times(heard, downbeats)

    def generate_with_score(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[np.ndarray, Score]:
        """Music for `cue` and the score it was rendered from (thread-safe: no shared state)."""
        check_cancel(cancel)
        if progress is not None:
            progress(0.0, "composing")
        score = self.compose(cue, seed)
        check_cancel(cancel)
        audio = self.render(score, cue.duration, progress, cancel)
        if progress is not None:
            progress(1.0, "done")
        return audio, score

    def generate_with_beats(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ):
        """Music for `cue` and its composed beat grid as the aligner's `BeatGrid`.

        Every composed beat and downbeat is there (none missed, none doubled), each at the time
        the aligner's tracker will hear it (~20–35 ms after the attack; see `heard`): the
        alignment is re-measured with that tracker, so a plan made on the exact grid would land
        every cut that far from a measured beat. The exact grid stays in `last_score`.
        """
        from gvmgen.align.beats import BeatGrid

        audio, score = self.generate_with_score(cue, seed, scaled(progress, 0.0, 0.9), cancel)
        self.last_score = score
        report(progress, 0.9, "placing the beats where they are heard")
        check_cancel(cancel)
        heard = heard_beat_times(audio, self.sample_rate, score.beat_times)
        downbeats = np.isin(score.beat_times, score.downbeat_times)
        report(progress, 1.0, "done")
        return audio, BeatGrid.from_times(heard, downbeats)

    def generate(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """Music for `cue`: float32 `[2, round(cue.duration * sample_rate)]` in [-1, 1].

        Deterministic for a given cue and seed; the score is kept in `last_score`.
        """
        audio, self.last_score = self.generate_with_score(cue, seed, progress, cancel)
        return audio
