"""What a warp plan is made of. Times are seconds: `source` in the music, `target` in the cue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Anchor:
    """The beat at `source` lands on cut `cut_index` at `target` (within the anchor slack)."""

    cut_index: int
    target: float
    source: float
    downbeat: bool


@dataclass(frozen=True)
class Piece:
    """A contiguous stretch of music `[source_start, source_end)` played over
    `[target_start, target_end)` at one constant tempo factor."""

    source_start: float
    source_end: float
    target_start: float
    target_end: float

    @property
    def tempo_factor(self) -> float:
        """Source seconds per output second: 1.05 plays 5 % faster."""
        span = self.target_end - self.target_start
        return (self.source_end - self.source_start) / span if span > 0 else 1.0

    @property
    def stretch(self) -> float:
        """Tempo change as a fraction, |factor − 1| (0.05 = 5 %)."""
        return abs(self.tempo_factor - 1.0)


@dataclass(frozen=True)
class Splice:
    """At output time `target` the music jumps from `source_from` to `source_to`.

    `beats` is the jump in beats: positive skips music, negative repeats it.
    """

    target: float
    source_from: float
    source_to: float
    beats: float


@dataclass(frozen=True)
class UnhitCut:
    """A cut the plan does not hit, and why (e.g. closer than a beat to a hit cut)."""

    index: int
    time: float
    reason: str
    alternative: str | None = None  # for a must-hit: "move the marker 4 frames later, or …"


@dataclass(frozen=True)
class AlignmentPlan:
    """Anchors (source → target), pieces with their stretch, splices and the cuts not hit."""

    cuts: np.ndarray  # [M] seconds, sorted
    duration: float  # output length, seconds
    source_duration: float
    stretch_bound: float  # the ±max_stretch the plan was made under
    anchors: tuple[Anchor, ...]
    pieces: tuple[Piece, ...]
    splices: tuple[Splice, ...]
    unhit: tuple[UnhitCut, ...]

    @property
    def max_stretch(self) -> float:
        """Largest tempo change of any piece (fraction)."""
        return max((p.stretch for p in self.pieces), default=0.0)

    @property
    def mean_stretch(self) -> float:
        """Tempo change averaged over the output's duration (fraction)."""
        spans = np.array([p.target_end - p.target_start for p in self.pieces])
        if not len(spans) or spans.sum() <= 0:
            return 0.0
        stretches = np.array([p.stretch for p in self.pieces])
        return float((stretches * spans).sum() / spans.sum())

    def to_dict(self) -> dict:
        """JSON-ready summary (seconds; stretch as fractions)."""
        return {
            "duration": self.duration,
            "in_point": self.pieces[0].source_start if self.pieces else 0.0,
            "max_stretch": self.max_stretch,
            "mean_stretch": self.mean_stretch,
            "anchors": [vars(a) for a in self.anchors],
            "splices": [vars(s) for s in self.splices],
            "unhit": [vars(u) for u in self.unhit],
            "pieces": [{**vars(p), "tempo_factor": p.tempo_factor} for p in self.pieces],
        }
