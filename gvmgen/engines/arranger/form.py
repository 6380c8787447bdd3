"""Form: a beat grid whose downbeats fall on the cuts, and sections that change at scene changes.

The grid is a tempo map, constant between *anchors* (the cue start, every cut at least
`min_gap` seconds after the previous anchor, and the cue end). Each stretch between two anchors
holds a whole number of beats, so every anchor lands exactly on a downbeat; a stretch whose beat
count is not a multiple of four ends with one 2- or 3-beat bar. The beat counts are chosen
jointly (Viterbi over the stretches) for one base tempo: stay near it (no more than ~10 % away),
change by no more than a few % from stretch to stretch, prefer whole 4-beat bars. The base tempo
is searched on a fine grid inside the mood's tempo range. A cut too close to its neighbours to be
an anchor still lands on a beat when the beats around it need to bend by ≤ 6 % to reach it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

MIN_ANCHOR_GAP = 1.5  # seconds: a cut this far after the previous anchor becomes one
MAX_BEAT_BEND = 0.06  # a closer cut goes on a beat if the beats around it bend this little
MAX_TEMPO_STEP = 0.05  # largest tempo change between neighbouring stretches, as a ratio
_TEMPO_SEARCH_STEP = 0.25  # BPM
_DEVIATION_WEIGHT = 1.0  # cost per unit |log(period / base period)|
_STEP_WEIGHT = 0.5  # cost per unit |log| tempo change between stretches
_STEP_PENALTY = 20.0  # cost per unit |log| change beyond MAX_TEMPO_STEP
MAX_TEMPO_DEVIATION = 0.10  # farthest a stretch's tempo should stray from the base, as a ratio
_DEVIATION_PENALTY = 20.0  # cost per unit |log| beyond MAX_TEMPO_DEVIATION
_SHORT_BAR_COST = {0: 0.0, 2: 0.02, 3: 0.03, 1: 0.05}  # by beats % 4: prefer whole bars
_SECTION_MIN_BARS = 2
_SECTION_MAX_BARS = 16


@dataclass(frozen=True)
class Grid:
    """A tempo map as beats and bars.

    Attributes:
        beats: beat times, seconds, float64 `[B]`; runs past the cue end so every bar is whole.
        bar_starts: index into `beats` of each bar's downbeat, int64 `[bars + 1]`; the last
            entry closes the last bar.
        anchors: times placed exactly on downbeats (cue start, anchor cuts, cue end), `[A]`.
        tempo: base tempo, BPM.
    """

    beats: np.ndarray
    bar_starts: np.ndarray
    anchors: np.ndarray
    tempo: float

    @property
    def bar_count(self) -> int:
        return len(self.bar_starts) - 1

    def bar_start_time(self, bar: int) -> float:
        return float(self.beats[self.bar_starts[bar]])

    def bar_length(self, bar: int) -> int:
        """Beats in `bar`."""
        return int(self.bar_starts[bar + 1] - self.bar_starts[bar])

    def time_at(self, beat: np.ndarray | float) -> np.ndarray:
        """Seconds at fractional global beat positions (linear within a beat)."""
        index = np.arange(len(self.beats), dtype=np.float64)
        return np.interp(beat, index, self.beats)


def plan_grid(
    duration: float,
    cuts: np.ndarray,
    tempo_range: tuple[float, float],
    min_gap: float = MIN_ANCHOR_GAP,
    max_deviation: float = MAX_TEMPO_DEVIATION,
) -> Grid:
    """The beat grid for a cue: downbeats on every cut `min_gap` after the previous anchor.

    Args:
        duration: cue length, seconds.
        cuts: cut times, seconds from cue start, `[M]`.
        tempo_range: (slowest, fastest) base tempo to consider, BPM.
        min_gap: shortest stretch, seconds, between anchors.
        max_deviation: farthest a stretch's tempo should stray from the base, as a ratio (an
            editor's single tempo narrows it).
    """
    anchors = anchor_times(duration, cuts, min_gap)
    stretches = np.diff(anchors)
    best = None
    for bpm in np.arange(tempo_range[0], tempo_range[1] + 1e-9, _TEMPO_SEARCH_STEP):
        counts, cost = _beat_counts(stretches, 60.0 / bpm, max_deviation)
        cost += 1e-4 * abs(bpm - np.mean(tempo_range))  # ties go to the middle of the range
        if best is None or cost < best[0]:
            best = (cost, float(bpm), counts)
    _, bpm, counts = best
    cuts = np.sort(np.asarray(cuts, dtype=np.float64))
    return _grid_from_counts(anchors, counts, cuts, duration, bpm)


def anchor_times(duration: float, cuts: np.ndarray, min_gap: float) -> np.ndarray:
    """Cue start, each cut ≥ `min_gap` after the previous anchor, and the cue end if far enough."""
    anchors = [0.0]
    for cut in np.sort(np.asarray(cuts, dtype=np.float64)):
        if cut - anchors[-1] >= min_gap and cut < duration:
            anchors.append(float(cut))
    if duration - anchors[-1] >= min_gap:
        anchors.append(float(duration))  # the cue ends on a downbeat: joins crossfade there
    return np.asarray(anchors)


def _beat_counts(
    stretches: np.ndarray, period: float, max_deviation: float = MAX_TEMPO_DEVIATION
) -> tuple[list[int], float]:
    """Beats in each stretch for base beat `period` seconds (Viterbi), and the total cost."""
    if len(stretches) == 0:
        return [], 0.0
    cands = [_candidate_counts(d, period) for d in stretches]
    periods = [d / c for d, c in zip(stretches, cands, strict=True)]
    cost = _unary_cost(cands[0], periods[0], period, max_deviation)
    back = []
    for k in range(1, len(stretches)):
        step = np.abs(np.log(periods[k][None, :] / periods[k - 1][:, None]))
        pair = _STEP_WEIGHT * step + _STEP_PENALTY * np.maximum(0.0, step - MAX_TEMPO_STEP)
        total = cost[:, None] + pair
        back.append(np.argmin(total, axis=0))
        cost = total.min(axis=0) + _unary_cost(cands[k], periods[k], period, max_deviation)
    choice = int(np.argmin(cost))
    counts = [int(cands[-1][choice])]
    for k in range(len(stretches) - 1, 0, -1):
        choice = int(back[k - 1][choice])
        counts.append(int(cands[k - 1][choice]))
    return counts[::-1], float(cost.min())


def _candidate_counts(stretch: float, period: float) -> np.ndarray:
    """Beat counts worth trying for one stretch: around the base tempo, and whole bars."""
    ideal = stretch / period
    near = np.floor(ideal) + np.arange(-1, 3)
    bars = 4 * np.array([np.floor(ideal / 4), np.ceil(ideal / 4)])
    counts = np.unique(np.concatenate([near, bars]))
    return counts[counts >= 1]


def _unary_cost(
    counts: np.ndarray, periods: np.ndarray, period: float, max_deviation: float
) -> np.ndarray:
    short_bar = np.array([_SHORT_BAR_COST[int(c) % 4] for c in counts])
    deviation = np.abs(np.log(periods / period))
    beyond = np.maximum(0.0, deviation - max_deviation)
    return _DEVIATION_WEIGHT * deviation + _DEVIATION_PENALTY * beyond + short_bar


def _grid_from_counts(
    anchors: np.ndarray, counts: list[int], cuts: np.ndarray, duration: float, bpm: float
) -> Grid:
    """Lay out beats and bars: each stretch's beats (bent onto close cuts where they can be),
    then run on at the last tempo past the end."""
    beats: list[np.ndarray] = []
    bar_lengths: list[int] = []
    period = 60.0 / bpm
    for k, count in enumerate(counts):
        a, b = anchors[k], anchors[k + 1]
        period = (b - a) / count
        beats.append(_stretch_beats(a, b, count, cuts[(cuts > a) & (cuts < b)]))
        bar_lengths += _bar_lengths(count)
    tail_start = anchors[len(counts)]
    tail_bars = max(1, int(np.ceil((duration - tail_start) / (4 * period) + 1e-9)))
    beats.append(tail_start + period * np.arange(4 * tail_bars + 1))
    bar_lengths += [4] * tail_bars
    bar_starts = np.concatenate([[0], np.cumsum(bar_lengths)])
    return Grid(np.concatenate(beats), bar_starts.astype(np.int64), anchors, bpm)


def _stretch_beats(start: float, end: float, count: int, inner_cuts: np.ndarray) -> np.ndarray:
    """`count` beats from `start` to (not including) `end`, evenly spaced, except that a cut
    inside (too close to its neighbours to be an anchor) is put on the nearest beat when the
    beats before and after it need to bend by no more than `MAX_BEAT_BEND` to get there."""
    period = (end - start) / count
    points = [(start, 0)]  # (time, beat index) the beats must pass through
    for cut in inner_cuts:
        time, index = points[-1]
        beat = round(index + (cut - time) / period)
        if not index < beat < count:
            continue
        before = (cut - time) / (beat - index) / period
        after = (end - cut) / (count - beat) / period
        if max(abs(np.log(before)), abs(np.log(after))) <= MAX_BEAT_BEND:
            points.append((float(cut), beat))
    points.append((end, count))
    pieces = [
        t0 + (t1 - t0) / (i1 - i0) * np.arange(i1 - i0)
        for (t0, i0), (t1, i1) in itertools.pairwise(points)
    ]
    return np.concatenate(pieces)


def _bar_lengths(count: int) -> list[int]:
    """Split `count` beats into 4-beat bars and, at the end, one short bar (or 3 + 2)."""
    whole, rest = divmod(count, 4)
    if rest == 1 and whole >= 1:
        return [4] * (whole - 1) + [3, 2]
    return [4] * whole + ([rest] if rest else [])


def plan_sections(grid: Grid, duration: float, scene_changes: np.ndarray) -> list[tuple[int, bool]]:
    """Bars that open a section, with whether a scene change opens it.

    Sections start at bar 0, at every bar whose downbeat is a scene-change cut (unless the
    previous section would be shorter than 2 bars), and every 8 bars inside a section that would
    otherwise run past 16 bars, so long stretches of one picture still develop.

    Args:
        grid: the beat grid.
        duration: cue length, seconds; bars starting at or after it are ignored.
        scene_changes: anchor times where the picture changes a lot, seconds `[S]`.
    """
    bar_times = grid.beats[grid.bar_starts[:-1]]
    bars_in_cue = max(1, int(np.searchsorted(bar_times, duration - 1e-6)))
    starts: list[tuple[int, bool]] = [(0, False)]
    half = _SECTION_MAX_BARS // 2
    for bar in range(1, bars_in_cue):
        at_change = bool(np.any(np.abs(scene_changes - bar_times[bar]) < 1e-6))
        since = bar - starts[-1][0]
        if at_change and since >= _SECTION_MIN_BARS:
            starts.append((bar, True))
        elif since >= half and bars_in_cue - bar >= half // 2:
            horizon = bar_times[min(bar + half, bars_in_cue - 1)]
            ahead = scene_changes[(scene_changes > bar_times[bar] + 1e-6)]
            if since >= _SECTION_MAX_BARS or not np.any(ahead <= horizon + 1e-6):
                starts.append((bar, False))
    return starts
