"""What the music must hit first, and how much any plan can hit at all.

A cue's sync points are ranked as an editor ranks them (`Priority`): the editor's `hit` markers,
then the timeline's edit points, then the cuts our detector finds inside a clip, then dissolves
at their middle. `sync_weights` turns the ranks into the planner's worth of each hit so that it
spends its metre budget in that order: one point outweighs every point ranked below it together,
and a dissolve weighs so little that the plan takes a beat there only where it costs nothing.

`metre_ceiling` is the most of a cue's cuts any plan that keeps the metre could put on a beat:
the longest chain of cuts whose every gap is a whole number of beats of the music's tempo within
±6 % (and ±100 ms, a hit's tolerance at either end). Fast cutting cannot be hit at a musical
tempo, so hit rates are judged against this, not against every cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np


class Priority(IntEnum):
    """The rank of a sync point: lower is more important."""

    MUST_HIT = 1  # a timeline marker whose name or note begins with the word "hit"
    EDIT = 2  # an edit point between two clips of the timeline
    SHOT = 3  # a hard cut our detector finds inside a clip (or a video)
    DISSOLVE = 4  # the middle of a dissolve or fade: never counted in hit rates

    @property
    def label(self) -> str:
        return {1: "must-hit", 2: "edit", 3: "shot", 4: "dissolve"}[int(self)]

    @property
    def counted(self) -> bool:
        """Whether a hit rate counts this point (dissolves only colour the music)."""
        return self is not Priority.DISSOLVE


KIND_PRIORITY = {"edit": Priority.EDIT, "shot": Priority.SHOT, "gradual": Priority.DISSOLVE}
DISSOLVE_WEIGHT = 0.05  # a beat on a dissolve's middle is worth less than any splice costs
TIER_MARGIN = 2.0  # a point outweighs twice everything below it (flash weights included)
CEILING_STRETCH = 0.06
CEILING_SLACK = 0.100  # s: a hit's ±50 ms at both ends of a gap


def sync_weights(priorities: Sequence[Priority]) -> np.ndarray:
    """Worth of hitting each point `[M]`, by priority: a point of one rank outweighs all the
    points ranked below it together; a lone rank (a video's shots) weighs 1 per point."""
    ranks = np.array([int(p) for p in priorities], dtype=int)
    weights, below = np.zeros(len(ranks)), 0.0
    for rank in sorted(Priority, reverse=True):
        worth = DISSOLVE_WEIGHT if rank is Priority.DISSOLVE else max(1.0, TIER_MARGIN * below)
        weights[ranks == rank] = worth
        below += worth * np.count_nonzero(ranks == rank)
    return weights


def metre_ceiling(
    times: np.ndarray,
    period: float,
    max_stretch: float = CEILING_STRETCH,
    slack: float = CEILING_SLACK,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Which of `times` `[M]` (sorted, s) the longest metre-keeping chain holds `[M]` bool:
    every two consecutive members a whole number n ≥ 1 of beats of `period` apart at a tempo
    within ±`max_stretch`, give or take `slack` seconds. Ties go to the heavier chain
    (`weights`, e.g. must-hits first). An upper bound: one steady tempo, any splice, the first
    hit free; a plan reaching more would be luck."""
    times = np.asarray(times, dtype=np.float64)
    count = len(times)
    if count == 0 or period <= 0:
        return np.zeros(count, dtype=bool)
    worth = np.ones(count) + 1e-3 * (np.ones(count) if weights is None else np.asarray(weights))
    best, back = worth.copy(), np.full(count, -1)
    for j in range(count):
        for i in range(j):
            if best[i] + worth[j] > best[j] and whole_beats_apart(
                times[j] - times[i], period, max_stretch, slack
            ):
                best[j], back[j] = best[i] + worth[j], i
    chain, j = np.zeros(count, dtype=bool), int(np.argmax(best))
    while j >= 0:
        chain[j], j = True, int(back[j])
    return chain


def whole_beats_apart(gap: float, period: float, max_stretch: float, slack: float) -> bool:
    """Whether n ≥ 1 beats of `period` at a tempo within ±`max_stretch` fill `gap` (s), give or
    take `slack`."""
    shortest, longest = period / (1 + max_stretch), period / (1 - max_stretch)
    n = np.arange(1, int((gap + slack) / shortest) + 1)
    return bool(np.any((n * shortest - slack <= gap) & (gap <= n * longest + slack)))


def take_fit(cues: Sequence[tuple[Sequence[dict], Sequence[Priority], float, float]]) -> tuple:
    """How well one take's beat grid fits its cues' sync points, as a sort key (larger is
    better): the measured hits by their priority's worth, then the less stretch used.

    `cues`: per cue, (its measured rows `{"hit": …}` in time order, their priorities, the
    largest stretch its plan used, its duration in seconds)."""
    worth, stretch = 0.0, 0.0
    for rows, priorities, used, seconds in cues:
        weights = sync_weights(priorities)
        worth += sum(
            w
            for w, row, p in zip(weights, rows, priorities, strict=True)
            if p.counted and row["hit"]
        )
        stretch += used * seconds
    return (round(worth, 6), -round(stretch, 6))


def fit_ranks(keys: Sequence[tuple]) -> list[int]:
    """1 for the best-fitting take, 2 for the next…; ties keep the takes' order."""
    order = sorted(range(len(keys)), key=lambda i: (tuple(-x for x in keys[i]), i))
    ranks = [0] * len(keys)
    for rank, i in enumerate(order, start=1):
        ranks[i] = rank
    return ranks
