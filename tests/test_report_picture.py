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
