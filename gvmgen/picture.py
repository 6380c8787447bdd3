"""The report picture: a strip of the scored range an editor reads at a glance.

Lanes, top to bottom: cues (name, take, hit rate), the music's level, beats BEFORE alignment
(grey) and AFTER (green) against the cuts (red; a ring marks a cut no beat reached), and the
time-stretch curve (0 in the middle, the ± bound dashed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gvmgen.atomic import atomic_path

WIDTH, MARGIN = 1600, 70
LANES = {"cues": (40, 80), "level": (90, 160), "beats": (170, 250), "stretch": (260, 340)}
HEIGHT = 380
COLOURS = {
    "bg": (24, 26, 31),
    "text": (220, 222, 228),
    "grid": (60, 64, 72),
    "cut": (235, 80, 80),
    "before": (130, 134, 142),
    "after": (90, 210, 120),
    "level": (110, 150, 230),
    "stretch": (240, 190, 80),
    "cue_a": (52, 58, 84),
    "cue_b": (70, 60, 90),
}


def draw_report(run, cues, target: Path) -> Path:
    """Draw the first take of this run to `target` (PNG)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), COLOURS["bg"])
    draw = ImageDraw.Draw(image)
    scale = _Scale(run.analysis.duration)
    _title(draw, run)
    _cue_lane(draw, scale, run, cues)
    _level_lane(draw, scale, cues)
    _beat_lane(draw, scale, run, cues)
    _stretch_lane(draw, scale, run, cues)
    _time_axis(draw, scale)
    with atomic_path(target) as tmp:
        image.save(tmp, format="PNG")
    return target


class _Scale:
    def __init__(self, duration: float):
        self.duration = max(duration, 1e-6)

    def x(self, seconds: float) -> int:
        return round(MARGIN + (WIDTH - 2 * MARGIN) * seconds / self.duration)


def _title(draw, run) -> None:
    text = (
        f"{Path(run.request.input).name}   engine: {run.choice.engine.name}   "
        f"{len(run.cues)} cue(s)   {len(run.analysis.cuts)} cut(s)   "
        f"max stretch ±{run.request.max_stretch:.0%}"
    )
    draw.text((MARGIN, 12), text, fill=COLOURS["text"])
    for name, (top, bottom) in LANES.items():
        draw.text((6, (top + bottom) // 2 - 6), name, fill=COLOURS["before"])


def _cue_lane(draw, scale: _Scale, run, cues) -> None:
    top, bottom = LANES["cues"]
    for cue, rendered in zip(run.cues, cues, strict=True):
        start, duration = run.cue_seconds(cue)
        x0, x1 = scale.x(start), scale.x(start + duration)
        fill = COLOURS["cue_a"] if cue.index % 2 == 0 else COLOURS["cue_b"]
        draw.rectangle([x0, top, max(x0 + 1, x1 - 1), bottom], fill=fill)
        draw.text((x0 + 4, top + 4), cue.name, fill=COLOURS["text"])
        draw.text(
            (x0 + 4, top + 20),
            f"seed {rendered.seed}  {rendered.tempo:.0f} bpm",
            fill=COLOURS["before"],
        )


def _level_lane(draw, scale: _Scale, cues) -> None:
    top, bottom = LANES["level"]
    track = np.concatenate([c.audio for c in cues], axis=1).mean(axis=0)
    columns = WIDTH - 2 * MARGIN
    edges = np.linspace(0, len(track), columns + 1).astype(int)
    middle, half = (top + bottom) / 2, (bottom - top) / 2
    for i in range(columns):
        chunk = track[edges[i] : max(edges[i] + 1, edges[i + 1])]
        peak = float(np.abs(chunk).max()) if len(chunk) else 0.0
        draw.line(
            [MARGIN + i, middle - peak * half, MARGIN + i, middle + peak * half],
            fill=COLOURS["level"],
        )


def _beat_lane(draw, scale: _Scale, run, cues) -> None:
    top, bottom = LANES["beats"]
    middle = (top + bottom) // 2
    for cue, rendered in zip(run.cues, cues, strict=True):
        start, duration = run.cue_seconds(cue)
        _ticks(
            draw,
            scale,
            start,
            duration,
            rendered.alignment.beats_before.times,
            (top, middle - 2),
            COLOURS["before"],
        )
        _ticks(
            draw,
            scale,
            start,
            duration,
            rendered.alignment.beats_after.times,
            (middle + 2, bottom),
            COLOURS["after"],
        )
        unhit = {round(u.time, 3) for u in rendered.alignment.plan.unhit}
        for cut in rendered.alignment.plan.cuts:
            x = scale.x(start + cut)
            draw.line([x, LANES["cues"][1], x, bottom], fill=COLOURS["cut"], width=2)
            if round(float(cut), 3) in unhit:
                draw.ellipse([x - 5, bottom - 5, x + 5, bottom + 5], outline=COLOURS["cut"])


def _ticks(draw, scale, start, duration, times, span, colour) -> None:
    for t in np.asarray(times):
        if 0 <= t < duration:
            x = scale.x(start + float(t))
            draw.line([x, span[0], x, span[1]], fill=colour)


def _stretch_lane(draw, scale: _Scale, run, cues) -> None:
    top, bottom = LANES["stretch"]
    middle, bound = (top + bottom) / 2, max(run.request.max_stretch, 1e-6)
    per_unit = (bottom - top) / 2 / (bound * 1.25)
    for y in (middle - bound * per_unit, middle + bound * per_unit):
        for x in range(MARGIN, WIDTH - MARGIN, 12):
            draw.line([x, y, x + 5, y], fill=COLOURS["grid"])
    draw.line([MARGIN, middle, WIDTH - MARGIN, middle], fill=COLOURS["grid"])
    for cue, rendered in zip(run.cues, cues, strict=True):
        start = run.cue_seconds(cue)[0]
        for piece in rendered.alignment.plan.pieces:
            y = middle - (piece.tempo_factor - 1.0) * per_unit
            x0, x1 = scale.x(start + piece.target_start), scale.x(start + piece.target_end)
            draw.line([x0, y, max(x0, x1 - 1), y], fill=COLOURS["stretch"], width=3)


def _time_axis(draw, scale: _Scale) -> None:
    step = _tick_step(scale.duration)
    for i in range(int(scale.duration // step) + 1):
        x = scale.x(i * step)
        draw.line([x, HEIGHT - 34, x, HEIGHT - 28], fill=COLOURS["grid"])
        draw.text((x - 8, HEIGHT - 24), f"{i * step:g}s", fill=COLOURS["before"])


def _tick_step(duration: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300):
        if duration / step <= 20:
            return step
    return 600
