"""report.json and report.png say the same thing as the progress line (issue 13): one cut
count everywhere, every cut listed with its record timecode, kind and whether it was a target;
the picture stays readable on a long batch."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest
from PIL import Image
from score_plans import generated_plan

from gvmgen.align import AlignmentMetrics, AlignmentPlan, AlignmentResult, BeatGrid, Piece, UnhitCut
from gvmgen.cues import Cue
from gvmgen.pipeline import score
from gvmgen.rendering import RenderedCue

RATE = 25


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A timeline over a clip with hard cuts and a dissolve, a `cue` marker on the cut at 150."""
    from gvmgen.media.synth import make_test_clip

    folder = tmp_path_factory.mktemp("report")
    clip = make_test_clip(
        folder / "dz.mp4",
        rate=Fraction(RATE),
        duration=12.0,
        cut_frames=(53, 150, 262),
        dissolves=((190, 12),),
        size=(96, 54),
    )
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    whole = tr(rt(0, RATE), rt(300, RATE))
    item = otio.schema.Clip("dz", otio.schema.ExternalReference(str(clip), whole), whole)
    item.markers.append(otio.schema.Marker("cue B", tr(rt(150, RATE), rt(0, RATE))))
    track = otio.schema.Track("V1")
    track.append(item)
    timeline = otio.schema.Timeline("cut", global_start_time=rt(3600 * RATE, RATE))
    timeline.tracks.append(track)
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    messages = []
    out = folder / "out"
    score(
        {"input": str(path), "out_dir": str(out), "engine": "arranger"},
        on_event=lambda e: messages.append(e.message),
    )
    return json.loads((out / "report.json").read_text()), out / "report.png", messages


def test_one_cut_count_in_the_progress_line_report_json_and_report_png(scored):
    report, picture, messages = scored
    (line,) = [m for m in messages if re.match(r"\d+ cuts in", m)]
    count = int(line.split()[0])
    assert count == len(report["cuts"]) == int(Image.open(picture).text["gvmgen.cuts"]) == 4
    kinds = [c["kind"] for c in report["cuts"]]
    assert kinds == ["shot", "shot", "gradual", "shot"]


def test_every_cut_has_its_timecode_kind_and_whether_it_was_a_target(scored):
    report, _, _ = scored
    cuts = {c["record"]: c for c in report["cuts"]}
    assert set(cuts) == {"01:00:02:03", "01:00:06:00", "01:00:07:20", "01:00:10:12"}
    assert cuts["01:00:06:00"]["target"] is False  # the cue boundary (the "cue B" marker)
    assert cuts["01:00:07:20"]["target"] is False  # a dissolve colours, it is not a hit point
    assert [c["cue"] for c in report["cuts"]] == [0, 1, 1, 1]
    per_cue = {(h["time"], cue["index"]): h["hit"] for cue in report["cues"] for h in cue["cuts"]}
    for cut in report["cuts"]:
        if cut["target"]:
            start = report["cues"][cut["cue"]]["start"]
            (hit,) = [
                h
                for (t, i), h in per_cue.items()
                if i == cut["cue"] and abs(t - (cut["time"] - start)) < 1e-3
            ]
            assert cut["hit"] is hit
        else:
            assert cut["hit"] is None


# --- a long batch, drawn from a run made here (no scoring: the picture alone) ------------


def _long_run(minutes: int = 12, cues: int = 12, cuts: int = 494):
    """A plan and its rendered take as draw_report reads them: 12 one-minute cues, 494 cuts,
    beats every 0.5 s, one cut in seven missed (no scoring: made here)."""
    rng = np.random.default_rng(0)
    frames = np.sort(rng.choice(np.arange(20, minutes * 60 * RATE - 20), cuts, replace=False))
    per = minutes * 60 * RATE // cues
    plan_cues = [Cue(i, f"cue {i + 1}", i * per, (i + 1) * per) for i in range(cues)]
    plan = generated_plan(minutes * 60 * RATE, frames, plan_cues, rate=RATE, input="long.otio")
    rendered = []
    for cue in plan_cues:
        length = (cue.end - cue.start) / RATE
        inside = [f / RATE - cue.start / RATE for f in frames if cue.start < f < cue.end]
        aimed = AlignmentPlan(
            cuts=np.array(inside),
            duration=length,
            source_duration=length * 1.03,
            stretch_bound=0.06,
            anchors=(),
            pieces=(Piece(0.0, length * 1.03, 0.0, length),),
            splices=(),
            unhit=tuple(UnhitCut(i, t, "closer than a beat") for i, t in enumerate(inside[::7])),
        )
        times = np.arange(0, length, 0.5)
        beats = BeatGrid(times, np.arange(len(times)) % 4 == 0, 120.0, np.ones(len(times)), 0.9)
        metrics = AlignmentMetrics(0.9, 0.9, 0.9, 0.03, 0.03, 0, 0.0, 0, [])
        audio = np.zeros((2, int(length * 48000)), np.float32)
        alignment = AlignmentResult(audio, aimed, metrics, beats, beats)
        rendered.append(RenderedCue(audio, cue.index, 120.0, alignment))
    return plan, rendered


def test_a_long_batch_gets_an_overview_and_a_panel_per_cue(tmp_path):
    from gvmgen.picture import PANEL_LANES, draw_report

    plan, rendered = _long_run()
    path = draw_report(plan, rendered, tmp_path / "report.png")
    image = Image.open(path)
    assert image.text["gvmgen.cuts"] == "494" and image.text["gvmgen.cues"] == "12"
    rows = 6  # 12 one-minute cues, two panels a row
    assert image.height > rows * sum(PANEL_LANES.values())
    pixels = np.asarray(image.convert("RGB")).astype(int)
    red = np.abs(pixels - (235, 80, 80)).sum(axis=2) < 30  # the cut colour
    assert red.mean(axis=1).max() < 0.3  # no row is a red block: cuts spread over panels


# --- what an editor reads: text, rests, ticks, markers, hits (issue 18, item 9) -------------

NTSC = 24000 / 1001


def _take(plan, beat_every: float = 0.5):
    """Rendered cues for `plan`: beats every `beat_every` s from each music cue's start (so a
    cut on a multiple of it has a beat exactly on it), rests as rendering makes them."""
    from gvmgen.rendering import rest

    rendered = []
    for cue in plan.cues:
        if cue.silent:
            rendered.append(rest(cue, plan.rate, 0.06, 0))
            continue
        start, length = plan.cue_seconds(cue)
        inside = [c.time - start for c in plan.analysis.cuts if start < c.time < start + length]
        aimed = AlignmentPlan(
            np.array(inside), length, length, 0.06, (), (Piece(0.0, length, 0.0, length),), (), ()
        )
        times = np.arange(0.0, length, beat_every)
        beats = BeatGrid(times, np.arange(len(times)) % 4 == 0, 120.0, np.ones(len(times)), 0.9)
        metrics = AlignmentMetrics(1.0, 1.0, 1.0, 0.0, 0.0, 0, 0.0, 0, [])
        audio = np.full((2, int(length * 48000)), 0.1, np.float32)
        alignment = AlignmentResult(audio, aimed, metrics, beats, beats)
        rendered.append(RenderedCue(audio, cue.index, 120.0, alignment))
    return rendered


def _with_markers(plan, *markers):
    """`plan` whose edit holds `markers`: (name, seconds, colour)."""
    import dataclasses

    from gvmgen.timeline.markers import TimelineMarker

    rt = otio.opentime.RationalTime
    found = [
        TimelineMarker(name, rt(round(t * plan.rate), plan.rate), rt(0, plan.rate), colour, "")
        for name, t, colour in markers
    ]
    return dataclasses.replace(plan, edit=dataclasses.replace(plan.edit, markers=found))


def _drawn(monkeypatch, tmp_path, plan, rendered):
    """Draw `plan`; the PNG's pixels, and every text drawn with the font it was drawn in."""
    from PIL import ImageDraw

    from gvmgen.picture import draw_report

    texts, draw_text = [], ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):
        texts.append((text, kwargs.get("font")))
        return draw_text(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    path = draw_report(plan, rendered, tmp_path / "report.png")
    return np.asarray(Image.open(path).convert("RGB")).astype(int), texts


def _speed_effects_batch(**request):
    """18 cues at 23.976 from 01:00:00:00, 13 of them rests (a cut with long holds and gaps)."""
    cues, frame, rate = [], 0, NTSC
    for i in range(18):
        silent = i % 4 != 0 and i != 17  # music at 0, 4, 8, 12, 16 and 17
        length = (25 if silent else 40) * 24
        cues.append(Cue(i, f"cue {i + 1}", frame, frame + length, silent=silent))
        frame += length
    cut_frames = [
        round(s * rate)
        for c in cues
        if not c.silent
        for s in np.arange(c.start / rate + 4.0, c.end / rate - 1.0, 4.0)
    ]
    return generated_plan(frame, cut_frames, cues, rate=rate, **request)


def test_rests_get_no_panel_but_one_line_saying_where_they_are(monkeypatch, tmp_path):
    plan = _speed_effects_batch(input="speed effects.otio")
    _, texts = _drawn(monkeypatch, tmp_path, plan, _take(plan))
    music = [c.name for c in plan.cues if not c.silent]
    titles = [t for t, _ in texts if re.match(r"cue \d+ {3}\d\d:", t)]
    assert [t.split("   ")[0] for t in titles] == music  # a panel for each music cue, no other
    start = next(i for i, (t, _) in enumerate(texts) if t.startswith("rests"))
    rests = " ".join(t for t, _ in texts[start : start + 4])
    assert all(f"{c.name} 01:" in rests for c in plan.cues if c.silent)


def test_timecode_ticks_at_23976_land_on_round_timecodes(monkeypatch, tmp_path):
    plan = _speed_effects_batch()
    _, texts = _drawn(monkeypatch, tmp_path, plan, _take(plan))
    ticks = [t for t, font in texts if re.fullmatch(r"\d\d:\d\d:\d\d:\d\d", t) and font.size == 11]
    assert len(ticks) > 20
    assert all(t.endswith((":00", ":12")) for t in ticks), ticks
    assert "01:06:00:00" in ticks  # the overview's last round minute


def test_markers_other_than_cue_markers_are_drawn_with_their_names(monkeypatch, tmp_path):
    plan = _with_markers(
        generated_plan(60 * RATE, [100, 400, 900], [Cue(0, "cue 1", 0, 60 * RATE)]),
        ("hit: door slam", 20.0, "CYAN"),
        ("VFX note", 41.0, "YELLOW"),
        ("cue 2", 50.0, "RED"),
    )
    pixels, texts = _drawn(monkeypatch, tmp_path, plan, _take(plan))
    drawn = {t for t, _ in texts}
    assert {"hit: door slam", "VFX note"} <= drawn and "cue 2" not in drawn
    for colour in ((90, 210, 220), (235, 210, 80)):  # CYAN and YELLOW as the picture draws them
        assert (np.abs(pixels - colour).sum(axis=2) < 10).sum() > 20


def test_a_beat_exactly_on_a_cut_shows_over_the_cut_line(monkeypatch, tmp_path):
    cut_frames = [100, 250, 400, 650]  # 4, 10, 16 and 26 s: each on a beat (every 0.5 s)
    plan = generated_plan(30 * RATE, cut_frames, [Cue(0, "cue 1", 0, 30 * RATE)])
    pixels, _ = _drawn(monkeypatch, tmp_path, plan, _take(plan))
    red = np.abs(pixels - (235, 80, 80)).sum(axis=2) < 30
    green = np.abs(pixels - (90, 210, 120)).sum(axis=2) < 30
    lines = np.flatnonzero(red.sum(axis=0) > 40)  # the cut lines' columns
    groups = np.split(lines, np.flatnonzero(np.diff(lines) > 1) + 1)
    assert len(groups) == len(cut_frames)
    for columns in groups:  # green beat pixels inside each red line's own columns
        assert green[:, columns].sum() > 10, f"the beat at x={columns} hides under its cut"


def test_accented_letters_and_dashes_draw_as_letters_not_boxes(monkeypatch, tmp_path):
    plan = generated_plan(10 * RATE, [100], [Cue(0, "cue 1", 0, 10 * RATE)], input="Scène – 1.otio")
    _, texts = _drawn(monkeypatch, tmp_path, plan, _take(plan))
    (title, font) = next((t, f) for t, f in texts if t.startswith("Scène – 1.otio"))
    missing = _glyph(font, "\U0010fffd")  # a code point no font has: its box
    assert all(_glyph(font, ch) != missing for ch in "é–±…"), title


def _glyph(font, text: str) -> bytes:
    mask = font.getmask(text)
    return bytes(mask) + bytes(str(mask.size), "ascii")
