"""The report picture: the scored range as an editor reads it at a glance.

* a header: input, record in–out, engine, cue and cut counts (how many the music aimed at and
  hit), the time-stretch actually used against its limit;
* a legend for every mark;
* a strip of the whole range — cues, the editor's markers (all but `cue` markers, which show
  as cue edges), cuts, the music's level, the time-stretch with its scale, record timecodes
  along the bottom on round values (01:00:10:00, not the 01:00:09:23 that 10 s is at 23.976);
* for a range longer than `DETAIL_SECONDS`, per-cue panels (long cues in parts of at most
  `PANEL_SECONDS`) with the beats before (grey) and after (green) alignment against the cuts,
  so a 12-minute batch stays readable where one strip would merge its cuts into a block. Rests
  get no panel (there is nothing in one to read): one line lists them. A beat on a cut is drawn
  over the cut's line, wider, so a hit reads as green on red.

Text is drawn in DejaVu Sans, shipped in gvmgen/fonts (Bitstream Vera and Arev licences,
LICENSE-DejaVu.txt there): Pillow's built-in font draws é, – or ± as empty boxes.

The counts are those of report.json (`ScoreResult.cuts`); the PNG also carries them as text
chunks (`gvmgen.cuts`, `gvmgen.cues`) for tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import opentimelineio as otio
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from gvmgen.analysis import range_timecodes
from gvmgen.atomic import atomic_path
from gvmgen.conditioning import cue_cut_times
from gvmgen.cues import Cue
from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.rendering import RenderedCue, take_track
from gvmgen.schema import CueReport, ScoreResult
from gvmgen.score_plan import ScorePlan
from gvmgen.timeline.markers import is_cue_marker
from gvmgen.timeline.ranges import timecode

WIDTH, LEFT, RIGHT = 1600, 96, 24
DETAIL_SECONDS = 90.0  # up to this long, one detailed strip says it all
PANEL_SECONDS = 60.0  # the longest stretch of time one detail panel shows
MAX_PANELS = 40
COLOURS = {
    "bg": (24, 26, 31),
    "panel": (32, 35, 42),
    "text": (224, 226, 232),
    "dim": (140, 144, 152),
    "grid": (66, 70, 80),
    "cut": (235, 80, 80),
    "cut_other": (120, 100, 104),
    "hit": (90, 210, 120),
    "before": (130, 134, 142),
    "after": (90, 210, 120),
    "level": (110, 150, 230),
    "stretch": (240, 190, 80),
    "cue_a": (52, 58, 84),
    "cue_b": (70, 60, 90),
    "silent": (40, 42, 48),
    "marker": (200, 150, 240),  # a marker without a colour of its own
    "must": (255, 210, 60),  # the editor's `hit` markers: drawn apart from every other cut
    "unsure": (170, 170, 180),  # a cut the measurement cannot call hit or missed
    "dialogue": (200, 170, 90),  # speech in the range's own sound: the music ducks there
}
# OTIO's marker colours (as the NLEs export them) → how they draw on the dark background
MARKER_COLOURS = {
    "RED": (250, 100, 140),  # rose: apart from the cuts' red
    "PINK": (240, 140, 190),
    "ORANGE": (240, 150, 70),
    "YELLOW": (235, 210, 80),
    "GREEN": (110, 210, 110),
    "CYAN": (90, 210, 220),
    "BLUE": (110, 150, 240),
    "PURPLE": (180, 130, 240),
    "MAGENTA": (230, 110, 230),
    "WHITE": (230, 230, 230),
    "BLACK": (150, 150, 150),  # black would not show
}
BEAT_ON_CUT_SECONDS = 0.05  # an aligned beat this close to an aimed-at cut is that cut's hit
FONT = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"


@dataclass
class _CueView:
    """One cue in seconds from the range start (beats and pieces moved there too)."""

    index: int
    name: str
    start: float
    end: float
    seed: int
    tempo: float
    before: np.ndarray
    after: np.ndarray
    pieces: list[tuple[float, float, float]]  # (start, end, tempo factor)
    unhit: set[float]
    silent: bool = False
    hit_rate: float | None = None
    stretch_used: float = 0.0


@dataclass
class _CutView:
    time: float  # seconds from the range start
    target: bool
    hit: bool | None
    must: bool = False  # a must-hit: the editor's `hit` marker
    certain: bool | None = None  # False: drawn as uncertain, not as a confident hit or miss


@dataclass(frozen=True)
class _MarkerView:
    time: float  # seconds from the range start
    name: str
    colour: tuple[int, int, int]


@dataclass(frozen=True)
class _Clock:
    """The scored range's record timecodes: seconds from its start ↔ the NLE's timecode."""

    rate: float  # the timeline's exact rate (23.976 is 24000/1001)
    start: int  # the range's first frame, counted from 00:00:00:00 (global start included)
    drop_frame: bool

    def label(self, seconds: float) -> str:
        return self._timecode(self.start + round(seconds * self.rate))

    def ticks(self, t0: float, t1: float, step: float) -> list[tuple[float, str]]:
        """(seconds from the range start, timecode) of the round record timecodes — every
        `step` seconds of timecode — between `t0` and `t1`. At 23.976 a timecode second is 24
        frames, not 1 s, so the ticks are placed by their frame, not by the clock."""
        base = round(self.rate)
        per = self.rate if self.drop_frame else base  # drop-frame timecode keeps to the clock
        first = math.ceil((self.start + t0 * self.rate) / per / step - 1e-9)
        last = math.floor((self.start + t1 * self.rate) / per / step + 1e-9)
        found = []
        for k in range(first, last + 1):
            frame = self._frame(k * step, base)
            seconds = (frame - self.start) / self.rate
            if t0 - 1e-9 <= seconds <= t1 + 1e-9:
                found.append((seconds, self._timecode(frame)))
        return found

    def _frame(self, timecode_seconds: float, base: int) -> int:
        """The frame whose timecode reads `timecode_seconds` (…:SS:00, or …:SS:12 at a half)."""
        whole = math.floor(timecode_seconds)
        hours, rest = divmod(whole, 3600)
        text = (
            f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{';' if self.drop_frame else ':'}"
            f"{round((timecode_seconds - whole) * base):02d}"
        )
        return round(otio.opentime.from_timecode(text, self.rate).value)

    def _timecode(self, frame: int) -> str:
        return timecode(otio.opentime.RationalTime(frame, self.rate), self.rate, self.drop_frame)


@dataclass
class _View:
    """Everything the picture shows, gathered once."""

    title: str
    duration: float
    bound: float  # the ±stretch limit
    cues: list[_CueView]
    cuts: list[_CutView]
    markers: list[_MarkerView]  # the editor's markers but `cue` ones
    level: np.ndarray  # [N] mono at `level_rate`
    level_rate: int
    clock: _Clock
    dialogue: list[tuple[float, float]] = field(default_factory=list)  # where the music ducks
    duck_db: float | None = None

    def timecode(self, seconds: float) -> str:
        return self.clock.label(seconds)


@dataclass(frozen=True)
class _Frame:
    """A rectangle of the picture showing the times [t0, t1)."""

    left: int
    right: int
    t0: float
    t1: float
    cue: int | None = None  # the cue a detail panel shows

    def x(self, seconds: float) -> float:
        span = max(self.t1 - self.t0, 1e-6)
        return self.left + (self.right - self.left) * (seconds - self.t0) / span

    def holds(self, seconds: float) -> bool:
        return self.t0 <= seconds <= self.t1


def draw_report(
    plan: ScorePlan,
    rendered: list[RenderedCue],
    target: Path,
    result: ScoreResult | None = None,
) -> Path:
    """Draw one take of the job (`rendered`: its cues, as joined) to `target` (PNG).

    :param result: the job's `ScoreResult` (for hit rates, the cut list and the stretch
        measured on the delivered audio); without it the plan's own figures are shown.
    """
    view = _gather(plan, rendered, result)
    panels = _detail_frames(view) if view.duration > DETAIL_SECONDS else []
    fonts = _fonts()
    rests = _rest_lines(view, fonts[13]) if panels else []
    height = _height(view, panels) + RESTS_LINE * len(rests)
    image = Image.new("RGB", (WIDTH, height), COLOURS["bg"])
    draw = ImageDraw.Draw(image)
    y = _header(draw, view, fonts)
    y = _legend(draw, y, fonts, overview=bool(panels))
    y = _strip(draw, view, y, fonts, detailed=not panels)
    for line in rests:
        draw.text((LEFT, y), line, fill=COLOURS["dim"], font=fonts[13])
        y += RESTS_LINE
    _panels(draw, view, panels, y, fonts)
    info = PngInfo()
    info.add_text("gvmgen.cuts", str(len(view.cuts)))
    info.add_text("gvmgen.cues", str(len(view.cues)))
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG", pnginfo=info)
    return target


# --- gathering ----------------------------------------------------------------------------


def _gather(plan: ScorePlan, rendered: list[RenderedCue], result: ScoreResult | None) -> _View:
    reports = {c.index: c for c in result.cues} if result is not None else {}
    cues = [
        _cue_view(plan, cue, r, reports.get(cue.index))
        for cue, r in zip(plan.cues, rendered, strict=True)
    ]
    cuts = _cut_views(plan, result, cues)
    track = take_track(plan.cues, rendered, plan.rate).mean(axis=0)
    range_in, range_out = range_timecodes(plan.edit)
    targets = [c for c in cuts if c.target]
    hits = sum(1 for c in targets if c.hit)
    used = max((c.stretch_used for c in cues), default=0.0)
    title = (
        f"{Path(plan.request.input).name}   {range_in} - {range_out}   "
        f"engine {plan.engine.name}   {len(cues)} cue(s)   {len(cuts)} cut(s): "
        f"{len(targets)} aimed at, {hits} hit within 50 ms   "
        f"stretch used: max {used:.1%} (limit ±{plan.request.max_stretch:.0%})"
    )
    return _View(
        title=title,
        duration=max(float(plan.analysis.duration), 1e-6),
        bound=max(float(plan.request.max_stretch), 1e-6),
        cues=cues,
        cuts=cuts,
        markers=_marker_views(plan),
        level=track,
        level_rate=DELIVERY_RATE,
        clock=_clock(plan),
        dialogue=list(plan.dialogue) if plan.request.ducking else [],
        duck_db=plan.request.ducking,
    )


def _clock(plan: ScorePlan) -> _Clock:
    edit = plan.edit
    start = edit.global_start + edit.range.start_time
    return _Clock(float(edit.rate), round(start.value), bool(edit.drop_frame))


def _marker_views(plan: ScorePlan) -> list[_MarkerView]:
    """The editor's markers in the range, but `cue` markers (the cue lane shows those)."""
    return [
        _MarkerView(
            float(m.time.to_seconds()),
            m.name or m.comment,
            MARKER_COLOURS.get(m.color.upper(), COLOURS["marker"]),
        )
        for m in plan.edit.markers
        if not is_cue_marker(m)
    ]


def _cue_view(
    plan: ScorePlan, cue: Cue, rendered: RenderedCue, report: CueReport | None
) -> _CueView:
    start, duration = plan.cue_seconds(cue)
    alignment = rendered.alignment
    plan = alignment.plan
    pieces = [(start + p.target_start, start + p.target_end, p.tempo_factor) for p in plan.pieces]
    planned = max((abs(f - 1.0) for _, _, f in pieces), default=0.0)
    return _CueView(
        index=cue.index,
        name=cue.name,
        start=start,
        end=start + duration,
        seed=rendered.seed,
        tempo=float(rendered.tempo),
        before=start + _inside(alignment.beats_before.times, duration),
        after=start + _inside(alignment.beats_after.times, duration),
        pieces=pieces,
        unhit={round(start + float(u.time), 3) for u in plan.unhit},
        silent=cue.silent,
        hit_rate=_measured_rate(report),
        stretch_used=float(report.max_stretch) if report is not None else planned,
    )


def _inside(times, duration: float) -> np.ndarray:
    times = np.asarray(times, np.float64)
    return times[(times >= 0) & (times < duration)]


def _cut_views(plan: ScorePlan, result: ScoreResult | None, cues: list[_CueView]) -> list[_CutView]:
    """The report's cut list; without a result, the analysis' cuts against the plans."""
    if result is not None:
        return [
            _CutView(c.time, c.target, c.hit, c.priority == "must-hit", c.certain)
            for c in result.cuts
        ]

    views = []
    for cut in plan.analysis.cuts:
        cue = next((c for c in cues if c.start <= cut.time < c.end), cues[-1])
        aimed = cue_cut_times(plan.analysis, cue.start, cue.end - cue.start) + cue.start
        target = bool(np.any(np.abs(aimed - cut.time) < 1e-6))
        hit = round(float(cut.time), 3) not in cue.unhit if target else None
        views.append(_CutView(float(cut.time), target, hit))
    return views


# --- layout -------------------------------------------------------------------------------

HEADER, LEGEND = 54, 30
STRIP_LANES = {"cues": 40, "markers": 18, "cuts": 22, "level": 46, "stretch": 62, "axis": 26}
DETAIL_LANES = {"cues": 40, "markers": 18, "level": 46, "beats": 84, "stretch": 62, "axis": 26}
PANEL_LANES = {"title": 20, "beats": 70, "stretch": 50, "axis": 24}
PANEL_GAP = 14
RESTS_LINE = 22


DIALOGUE_LANE = 18


def _lanes(view: _View, detailed: bool) -> dict[str, int]:
    """The strip's lanes; a dialogue lane under the level when the music ducks somewhere."""
    lanes = dict(DETAIL_LANES if detailed else STRIP_LANES)
    if not view.dialogue:
        return lanes
    at = list(lanes).index("level") + 1
    items = list(lanes.items())
    return dict([*items[:at], ("dialogue", DIALOGUE_LANE), *items[at:]])


def _height(view: _View, panels: list[_Frame]) -> int:
    strip = sum(_lanes(view, detailed=not panels).values())
    rows = math.ceil(min(len(panels), MAX_PANELS) / 2)
    panel = sum(PANEL_LANES.values()) + PANEL_GAP
    more = 24 if len(panels) > MAX_PANELS else 0
    return HEADER + LEGEND + strip + 16 + rows * panel + more + 10


def _detail_frames(view: _View) -> list[_Frame]:
    """Per-cue panels (time spans); a cue longer than `PANEL_SECONDS` gets several, a rest
    none (no beat, no cut aimed at: `_rests` lists them on one line)."""
    half = (WIDTH - LEFT - RIGHT - 40) // 2
    spans = []
    for n, cue in enumerate(view.cues):
        if cue.silent:
            continue
        parts = max(1, math.ceil((cue.end - cue.start) / PANEL_SECONDS - 1e-9))
        step = (cue.end - cue.start) / parts
        spans += [(cue.start + i * step, cue.start + (i + 1) * step, n) for i in range(parts)]
    frames = []
    for i, (t0, t1, n) in enumerate(spans):
        left = LEFT + (i % 2) * (half + 40)
        frames.append(_Frame(left, left + half, t0, t1, n))
    return frames


def _fonts() -> dict:
    """DejaVu Sans at the picture's three sizes; Pillow's own font where FreeType is missing
    (then accented letters and dashes draw as boxes, but the picture is still drawn). Loaded
    per picture (a few ms): a FreeType face is not to be shared between threads."""
    try:
        return {size: ImageFont.truetype(str(FONT), size) for size in (11, 13, 15)}
    except (OSError, ImportError):
        return {size: ImageFont.load_default(size=size) for size in (11, 13, 15)}


# --- header and legend --------------------------------------------------------------------


def _header(draw, view: _View, fonts) -> int:
    draw.text((LEFT, 12), view.title, fill=COLOURS["text"], font=fonts[15])
    room, shown = WIDTH - LEFT - RIGHT - 160, []
    for i, cue in enumerate(view.cues):
        shown.append(f"{cue.name}: {'rest' if cue.silent else _rate_text(cue.hit_rate)}")
        if draw.textlength("   ".join(shown), font=fonts[13]) > room:
            shown[-1] = f"... {len(view.cues) - i} more cue(s)"
            break
    draw.text((LEFT, 34), "   ".join(shown), fill=COLOURS["dim"], font=fonts[13])
    return HEADER


def _measured_rate(report) -> float | None:
    """The report's ±50 ms rate; nan for a measured cue with no cut in it (None: no report)."""
    if report is None:
        return None
    return float("nan") if report.hit_rate_50ms is None else report.hit_rate_50ms


def _rate_text(rate: float | None) -> str:
    if rate is None:  # drawn without the measured report
        return "hits not measured"
    return "no cuts in range" if not math.isfinite(rate) else f"{rate:.0%} of cuts hit"


def _legend(draw, y: int, fonts, overview: bool) -> int:
    """What each mark means; the overview's cut ticks only when there is an overview."""
    items = [
        ("line", COLOURS["cut"], "cut the music aims at"),
        ("line", COLOURS["cut_other"], "cut it does not aim at (dissolve, cue edge)"),
        ("ring", COLOURS["cut"], "aimed at, no beat within 50 ms"),
        ("ring", COLOURS["unsure"], "? the measurement cannot tell"),
        ("diamond", COLOURS["must"], "must-hit (hit marker)"),
        ("tick", COLOURS["before"], "beat before alignment"),
        ("tick", COLOURS["after"], "beat after"),
        ("bar", COLOURS["stretch"], "time-stretch (+ faster, - slower)"),
        ("flag", COLOURS["marker"], "marker"),
    ]
    if overview:
        items[3:3] = [
            ("tick", COLOURS["hit"], "overview: cut hit"),
            ("tick", COLOURS["cut"], "missed"),
        ]
    x = LEFT
    for shape, colour, label in items:
        _swatch(draw, shape, colour, x, y + 4)
        draw.text((x + 16, y + 2), label, fill=COLOURS["dim"], font=fonts[13])
        x += 26 + int(draw.textlength(label, font=fonts[13]))
    return y + LEGEND


def _swatch(draw, shape: str, colour, x: int, y: int) -> None:
    if shape == "line":
        draw.line([x + 5, y - 2, x + 5, y + 14], fill=colour, width=2)
    elif shape == "ring":
        draw.ellipse([x, y + 1, x + 10, y + 11], outline=colour, width=2)
    elif shape == "tick":
        draw.line([x + 5, y + 1, x + 5, y + 11], fill=colour, width=1)
    elif shape == "diamond":
        draw.polygon([(x + 5, y), (x + 10, y + 6), (x + 5, y + 12), (x, y + 6)], fill=colour)
    elif shape == "flag":
        draw.polygon([(x + 1, y + 1), (x + 9, y + 1), (x + 5, y + 9)], fill=colour)
    else:
        draw.line([x, y + 6, x + 11, y + 6], fill=colour, width=3)


# --- the whole range ----------------------------------------------------------------------


def _strip(draw, view: _View, y: int, fonts, detailed: bool) -> int:
    """The whole range in one strip; `detailed` adds the beat lane (short ranges)."""
    frame = _Frame(LEFT, WIDTH - RIGHT, 0.0, view.duration)
    lanes = _lanes(view, detailed)
    if detailed:  # under the lanes they cross, so a beat on a cut stays visible over its line
        top = y + lanes["cues"] + lanes["markers"]
        _cut_lines(draw, view, frame, top, top + lanes["level"] + lanes["beats"])
    for name, height in lanes.items():
        if name not in ("axis", "markers"):
            draw.text((8, y + 4), name, fill=COLOURS["dim"], font=fonts[13])
        _LANES[name](draw, view, frame, y, y + height, fonts)
        y += height
    return y + 16


def _cue_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    for cue in view.cues:
        x0, x1 = frame.x(max(cue.start, frame.t0)), frame.x(min(cue.end, frame.t1))
        fill = (
            COLOURS["silent"] if cue.silent else (COLOURS["cue_a"], COLOURS["cue_b"])[cue.index % 2]
        )
        draw.rectangle([x0, top + 2, max(x0 + 1, x1 - 1), bottom - 4], fill=fill)
        label = f"{cue.name} (rest)" if cue.silent else cue.name
        if x1 - x0 > draw.textlength(label, font=fonts[13]) + 8:
            draw.text((x0 + 4, top + 4), label, fill=COLOURS["text"], font=fonts[13])
        detail = "" if cue.silent else f"seed {cue.seed}  {cue.tempo:.0f} bpm"
        if detail and x1 - x0 > draw.textlength(detail, font=fonts[11]) + 8:
            draw.text((x0 + 4, top + 20), detail, fill=COLOURS["dim"], font=fonts[11])


def _marker_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    """A flag per marker, a dotted line down the lane (a cut's line is solid), and its name
    where the room to the next marker allows, on a patch of background over what it crosses."""
    shown = [m for m in view.markers if frame.holds(m.time)]
    for i, marker in enumerate(shown):
        x = frame.x(marker.time)
        for y in range(top + 9, bottom, 4):
            draw.line([x, y, x, min(y + 1, bottom)], fill=marker.colour)
        draw.polygon([(x - 4, top + 1), (x + 4, top + 1), (x, top + 9)], fill=marker.colour)
        room = (frame.x(shown[i + 1].time) if i + 1 < len(shown) else frame.right) - x - 10
        label = _fitted(draw, marker.name, room, fonts[11])
        if label:
            width = draw.textlength(label, font=fonts[11])
            draw.rectangle([x + 5, top, x + 7 + width, top + 12], fill=COLOURS["panel"])
            draw.text((x + 6, top), label, fill=marker.colour, font=fonts[11])


def _fitted(draw, text: str, room: float, font) -> str:
    """`text`, or as much of it as fits in `room` pixels with an ellipsis ("" if none does)."""
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "…", font=font) > room:
        text = text[:-1]
    return text + "…" if text else ""


def _cuts_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    """One tick per cut: green hit, red missed, dim not aimed at."""
    for cut in view.cuts:
        if not frame.holds(cut.time):
            continue
        colour = COLOURS["cut_other"]
        if cut.target:
            colour = COLOURS["hit"] if cut.hit else COLOURS["cut"]
        x = frame.x(cut.time)
        draw.line([x, top + 3, x, bottom - 3], fill=colour, width=1)


def _level_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    columns = int(frame.right - frame.left)
    a = int(frame.t0 * view.level_rate)
    b = min(len(view.level), int(frame.t1 * view.level_rate))
    edges = np.linspace(a, b, columns + 1).astype(int)
    middle, half = (top + bottom) / 2, (bottom - top - 6) / 2
    for i in range(columns):
        chunk = view.level[edges[i] : max(edges[i] + 1, edges[i + 1])]
        peak = min(1.0, float(np.abs(chunk).max())) if len(chunk) else 0.0
        x = frame.left + i
        draw.line([x, middle - peak * half, x, middle + peak * half], fill=COLOURS["level"])


def _beat_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    middle = (top + bottom) // 2
    _scale_label(draw, frame, (top + middle) / 2, "before", fonts)
    _scale_label(draw, frame, (middle + bottom) / 2, "after", fonts)
    aimed = np.array(sorted(c.time for c in view.cuts if c.target))
    for cue in view.cues:
        _ticks(draw, frame, cue.before, top + 4, middle - 2, COLOURS["before"])
        _ticks(draw, frame, cue.after, middle + 2, bottom - 4, COLOURS["after"], aimed)


def _ticks(draw, frame: _Frame, times, top: int, bottom: int, colour, aimed=None) -> None:
    """A tick per beat; one on an aimed-at cut three pixels wide, over the cut's line."""
    for t in times:
        if frame.holds(float(t)):
            x = frame.x(float(t))
            on_cut = aimed is not None and _near(aimed, float(t), BEAT_ON_CUT_SECONDS)
            draw.line([x, top, x, bottom], fill=colour, width=3 if on_cut else 1)


def _near(sorted_times: np.ndarray, t: float, within: float) -> bool:
    i = int(np.searchsorted(sorted_times, t))
    return any(abs(sorted_times[j] - t) <= within for j in (i - 1, i) if 0 <= j < len(sorted_times))


def _cut_lines(draw, view: _View, frame: _Frame, top: int, bottom: int) -> None:
    """Cuts across the level and beat lanes; a ring where no beat reached a target."""
    unhit = {t for cue in view.cues for t in cue.unhit}
    for cut in view.cuts:
        if not frame.holds(cut.time):
            continue
        x = frame.x(cut.time)
        colour = COLOURS["cut"] if cut.target else COLOURS["cut_other"]
        draw.line([x, top, x, bottom], fill=colour, width=2 if cut.target else 1)
        if cut.must:
            draw.polygon([(x, top - 1), (x + 6, top + 6), (x, top + 13), (x - 6, top + 6)],
                         fill=COLOURS["must"])  # fmt: skip
        if cut.target and cut.certain is False:  # neither a confident hit nor a miss
            draw.ellipse([x - 6, bottom - 6, x + 6, bottom + 6], outline=COLOURS["unsure"])
            draw.text((x - 3, bottom - 20), "?", fill=COLOURS["unsure"])
        elif cut.target and (cut.hit is False or round(cut.time, 3) in unhit):
            draw.ellipse([x - 6, bottom - 6, x + 6, bottom + 6], outline=COLOURS["cut"], width=2)


def _stretch_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    """Tempo change per piece, 0 in the middle, the ± limit dashed and labelled."""
    middle = (top + bottom) / 2
    per_unit = (bottom - top - 10) / 2 / (view.bound * 1.25)
    for sign in (1, -1):
        y = middle - sign * view.bound * per_unit
        for x in range(int(frame.left), int(frame.right), 12):
            draw.line([x, y, x + 5, y], fill=COLOURS["grid"])
        _scale_label(draw, frame, y, f"{'+' if sign > 0 else '-'}{view.bound:.0%}", fonts)
    draw.line([frame.left, middle, frame.right, middle], fill=COLOURS["grid"])
    _scale_label(draw, frame, middle, "0", fonts)
    for cue in (c for c in view.cues if not c.silent):
        for t0, t1, factor in cue.pieces:
            if t1 < frame.t0 or t0 > frame.t1:
                continue
            y = middle - max(-1.25 * view.bound, min(1.25 * view.bound, factor - 1.0)) * per_unit
            x0, x1 = frame.x(max(t0, frame.t0)), frame.x(min(t1, frame.t1))
            draw.line([x0, y, max(x0, x1 - 1), y], fill=COLOURS["stretch"], width=3)


def _scale_label(draw, frame: _Frame, y: float, text: str, fonts) -> None:
    width = draw.textlength(text, font=fonts[11])
    draw.text((frame.left - 8 - width, y - 7), text, fill=COLOURS["dim"], font=fonts[11])


def _axis_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    """Record timecodes under the strip, at a round step that leaves room for each label."""
    label_width = draw.textlength("00:00:00:00", font=fonts[11]) + 24
    step = _tick_step((frame.t1 - frame.t0) * label_width / max(frame.right - frame.left, 1))
    for t, text in view.clock.ticks(frame.t0, frame.t1, step):
        x = frame.x(t)
        draw.line([x, top, x, top + 5], fill=COLOURS["grid"])
        width = draw.textlength(text, font=fonts[11])
        left = min(max(x - width / 2, frame.left - 8), frame.right - width + 8)
        draw.text((left, top + 7), text, fill=COLOURS["dim"], font=fonts[11])


def _tick_step(least: float) -> float:
    """The smallest round step (seconds of timecode) at least `least` long."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if step >= least:
            return float(step)
    return 7200.0


def _dialogue_lane(draw, view: _View, frame: _Frame, top: int, bottom: int, fonts) -> None:
    """Where the timeline's own dialogue is: the music is ducked there."""
    for start, end in view.dialogue:
        x0, x1 = frame.x(max(start, frame.t0)), frame.x(min(end, frame.t1))
        if x1 > x0:
            draw.rectangle([x0, top + 3, x1, bottom - 3], fill=COLOURS["dialogue"])
    if view.dialogue and view.duck_db is not None:  # the depth, inside the first region
        x0 = frame.x(max(view.dialogue[0][0], frame.t0))
        draw.text(
            (x0 + 3, top + 2), f"music {view.duck_db:g} dB", fill=COLOURS["bg"], font=fonts[11]
        )


_LANES = {
    "cues": _cue_lane,
    "dialogue": _dialogue_lane,
    "markers": _marker_lane,
    "cuts": _cuts_lane,
    "level": _level_lane,
    "beats": _beat_lane,
    "stretch": _stretch_lane,
    "axis": _axis_lane,
}


# --- per-cue panels -----------------------------------------------------------------------


def _rest_lines(view: _View, font) -> list[str]:
    """The rests, which get no panel, as lines of text: where each is and how long."""
    parts = [
        f"{c.name} {view.timecode(c.start)} - {view.timecode(c.end)} ({c.end - c.start:.0f} s)"
        for c in view.cues
        if c.silent
    ]
    if not parts:
        return []
    lines = ["rests, silence over gaps or black:"]
    for part in parts:
        joined = f"{lines[-1]}   {part}"
        if font.getlength(joined) <= WIDTH - LEFT - RIGHT:
            lines[-1] = joined
        else:
            lines.append(part)
    return lines


def _panels(draw, view: _View, frames: list[_Frame], y: int, fonts) -> None:
    height = sum(PANEL_LANES.values()) + PANEL_GAP
    for i, frame in enumerate(frames[:MAX_PANELS]):
        top = y + (i // 2) * height
        box = [frame.left - 4, top, frame.right + 4, top + height - PANEL_GAP]
        draw.rectangle(box, fill=COLOURS["panel"])
        _panel(draw, view, frame, top, fonts)
    if len(frames) > MAX_PANELS:
        bottom = y + math.ceil(MAX_PANELS / 2) * height
        note = f"… {len(frames) - MAX_PANELS} more panel(s) not drawn; every cut is in report.json"
        draw.text((LEFT, bottom), note, fill=COLOURS["dim"], font=fonts[13])


def _panel(draw, view: _View, frame: _Frame, top: int, fonts) -> None:
    cue = view.cues[frame.cue]
    rate = "rest" if cue.silent else _rate_text(cue.hit_rate)
    title = (
        f"{cue.name}   {view.timecode(frame.t0)} - {view.timecode(frame.t1)} "
        f"({frame.t1 - frame.t0:.0f} s)   {rate}   stretch used {cue.stretch_used:.1%}"
    )
    draw.text((frame.left, top + 3), title, fill=COLOURS["text"], font=fonts[13])
    y = top + PANEL_LANES["title"]
    _cut_lines(draw, view, frame, y, y + PANEL_LANES["beats"])  # under the beats: hits show
    _marker_lane(draw, view, frame, y, y + PANEL_LANES["beats"], fonts)
    for name in ("beats", "stretch", "axis"):
        height = PANEL_LANES[name]
        _LANES[name](draw, view, frame, y, y + height, fonts)
        y += height
