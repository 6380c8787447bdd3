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
from dataclasses import dataclass, replace

import numpy as np

from gvmgen.engines.arranger.takes import PIN_LOSS, TEMPO_LANE_STEP

MIN_ANCHOR_GAP = 1.5  # seconds: a cut this far after the previous anchor becomes one
MIN_ENDING_GAP = 0.35  # s: an anchor cut closer than this before an ending's downbeat gives way
MAX_BEAT_BEND = 0.06  # a closer cut goes on a beat if the beats around it bend this little
MAX_TEMPO_STEP = 0.05  # largest tempo change between neighbouring stretches, as a ratio
_TEMPO_SEARCH_STEP = 0.25  # BPM
_DEVIATION_WEIGHT = 1.0  # cost per unit |log(period / base period)|
_STEP_WEIGHT = 0.5  # cost per unit |log| tempo change between stretches
_STEP_PENALTY = 20.0  # cost per unit |log| change beyond MAX_TEMPO_STEP
MAX_TEMPO_DEVIATION = 0.10  # farthest a stretch's tempo should stray from the base, as a ratio
_DEVIATION_PENALTY = 20.0  # cost per unit |log| beyond MAX_TEMPO_DEVIATION
_SHORT_BAR_COST = {0: 0.0, 2: 0.02, 3: 0.03, 1: 0.05}  # by beats % 4: prefer whole bars
_LANE_WIDEN = (0.8, 1.25)  # other takes' tempos may leave the mood's range by this much
_OUTSIDE_WEIGHT = 2.0  # cost per unit |log| outside the mood's range
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
        pinned_by: "cuts" when a take asked for another tempo lane and the cuts pinned the
            tempo instead; None otherwise.
    """

    beats: np.ndarray
    bar_starts: np.ndarray
    anchors: np.ndarray
    tempo: float
    pinned_by: str | None = None  # why a take's tempo lane could not be used ("cuts")

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
    lane: int = 0,
    end_anchor: bool | None = None,
    widen: bool = True,
) -> Grid:
    """The beat grid for a cue: downbeats on every cut `min_gap` after the previous anchor.

    Args:
        duration: cue length, seconds.
        cuts: cut times, seconds from cue start, `[M]`.
        tempo_range: (slowest, fastest) base tempo to consider, BPM.
        min_gap: shortest stretch, seconds, between anchors.
        max_deviation: farthest a stretch's tempo should stray from the base, as a ratio (an
            editor's single tempo narrows it).
        lane: a take's tempo lane (see `tempo_lanes`); 0 is the best tempo for the cuts.
        end_anchor: whether the cue end is a downbeat (see `anchor_times`).
        widen: other takes' lanes may leave `tempo_range` (no editor bounds it).
    """
    cuts = np.sort(np.asarray(cuts, dtype=np.float64))
    anchors = anchor_times(duration, cuts, min_gap, end_anchor)
    stretches = np.diff(anchors)
    wide = widen and lane > 0 and tempo_range[1] / tempo_range[0] > 1 + TEMPO_LANE_STEP
    search = _LANE_WIDEN if wide else (1.0, 1.0)
    candidates = []
    for bpm in np.arange(
        tempo_range[0] * search[0], tempo_range[1] * search[1] + 1e-9, _TEMPO_SEARCH_STEP
    ):
        counts, cost = _beat_counts(stretches, 60.0 / bpm, max_deviation)
        cost += 1e-4 * abs(bpm - np.mean(tempo_range))  # ties go to the middle of the range
        cost += _OUTSIDE_WEIGHT * _outside(bpm, tempo_range)
        heard = 60.0 * sum(counts) / float(np.sum(stretches)) if counts else bpm
        candidates.append((cost, float(bpm), counts, heard))
    lanes = tempo_lanes(candidates, lane + 1)
    best = _grid_from_counts(anchors, lanes[0][2], cuts, duration, lanes[0][1])
    if lane == 0:
        return best
    if len(lanes) <= lane:  # every count the cuts allow is within 8 % of the best tempo
        return replace(best, pinned_by="cuts" if wide else "tempo")
    other = _grid_from_counts(anchors, lanes[lane][2], cuts, duration, lanes[lane][1])
    if _cuts_on_beats(other, cuts) < _cuts_on_beats(best, cuts) - PIN_LOSS:
        return replace(best, pinned_by="cuts")
    return other


def tempo_lanes(candidates: list[tuple], count: int) -> list[tuple]:
    """Up to `count` candidates `(cost, bpm, counts, heard bpm)`: the cheapest, then each next
    the cheapest whose heard tempo (beats over seconds, as the counts make it) is at least
    `TEMPO_LANE_STEP` from every lane chosen before."""
    lanes: list[tuple] = []
    for candidate in sorted(candidates, key=lambda c: c[0]):
        far = all(
            abs(np.log(candidate[3] / lane[3])) >= np.log1p(TEMPO_LANE_STEP) for lane in lanes
        )
        if far:
            lanes.append(candidate)
            if len(lanes) == count:
                break
    return lanes


def _outside(bpm: float, tempo_range: tuple[float, float]) -> float:
    """|log| distance of `bpm` outside `tempo_range` (0 inside)."""
    return max(0.0, np.log(tempo_range[0] / bpm), np.log(bpm / tempo_range[1]))


def _cuts_on_beats(grid: Grid, cuts: np.ndarray) -> float:
    """Share of `cuts` the grid puts exactly on a beat (the metre ceiling of this grid)."""
    if len(cuts) == 0:
        return 1.0
    return float(np.mean(np.abs(cuts[:, None] - grid.beats[None, :]).min(axis=1) < 1e-6))


def anchor_times(
    duration: float, cuts: np.ndarray, min_gap: float, end_anchor: bool | None = None
) -> np.ndarray:
    """Cue start, each cut ≥ `min_gap` after the previous anchor, and the cue end: if far
    enough (`end_anchor` None), always (True: an ending lands there; an anchor cut too close
    before it gives way) or never (False: the music runs on at its tempo to the end)."""
    anchors = [0.0]
    for cut in np.sort(np.asarray(cuts, dtype=np.float64)):
        if cut - anchors[-1] >= min_gap and cut < duration:
            anchors.append(float(cut))
    if end_anchor:  # a cut just before an ending's downbeat keeps its own (the beats between bend)
        while len(anchors) > 1 and duration - anchors[-1] < MIN_ENDING_GAP:
            anchors.pop()
    far = duration - anchors[-1] >= min_gap
    if (end_anchor is None and far) or (end_anchor and duration > anchors[-1]):
        anchors.append(float(duration))
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
