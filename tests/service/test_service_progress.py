"""The progress leaf: whole-job fractions from parts, delivered on the calling thread."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from gvmgen.errors import Cancelled
from gvmgen.progress import Parts, Pump, Update, check_cancel
from gvmgen.schema import CueMetrics


def test_parts_add_up_and_never_go_back():
    parts = Parts({"a": 1.0, "b": 3.0}, start=0.2, end=0.6)
    assert parts.advance("b", 0.5) == pytest.approx(0.2 + 0.4 * 0.75 * 0.5)
    assert parts.advance("b", 0.1) == pytest.approx(0.2 + 0.4 * 0.75 * 0.5)  # late, lower
    assert parts.advance("a", 1.0) == pytest.approx(0.2 + 0.1 + 0.15)
    assert parts.advance("b", 1.0) == pytest.approx(0.6)


def test_pump_delivers_in_order_on_the_calling_thread_and_clamps():
    seen = []
    pump = Pump(lambda update, eta: seen.append((update, threading.get_ident())))

    def work() -> str:
        for fraction in (0.1, 0.5, 0.3, 0.9):  # a straggler thread reports 0.3 late
            pump.post(Update("generate", fraction, f"at {fraction}"))
        return "finished"

    assert pump.run(work) == "finished"
    assert [u.fraction for u, _ in seen] == [0.1, 0.5, 0.5, 0.9]
    assert [u.message for u, _ in seen][2] == "at 0.3"
    assert {thread for _, thread in seen} == {threading.get_ident()}


def test_pump_repeats_the_latest_step_when_the_work_is_quiet():
    seen = []
    pump = Pump(lambda update, eta: seen.append(update))
    pump.HEARTBEAT = 0.01
    release = threading.Event()

    def work() -> None:
        pump.post(Update("align", 0.4, "aligning"))
        release.wait(timeout=10)

    def on_repeat(update, eta):
        seen.append(update)
        if len(seen) >= 3:
            release.set()

    pump.deliver = on_repeat
    pump.run(work)
    assert len(seen) >= 3 and {u.message for u in seen} == {"aligning"}


def test_cancel_reaches_the_work_and_its_error_comes_back():
    cancel = threading.Event()
    pump = Pump(lambda update, eta: cancel.set())

    def work() -> None:
        pump.post(Update("cuts", 0.05, "cuts"))
        for _ in range(1000):  # bounded: stops at the first check after the cancel
            check_cancel(pump.stop)
            pump.stop.wait(0.01)
        raise AssertionError("the cancel never arrived")

    with pytest.raises(Cancelled):
        pump.run(work, cancel)


def test_every_measured_field_of_alignment_metrics_reaches_the_report():
    """AlignmentMetrics is defined once (gvmgen.align); the report carries it by name."""
    from gvmgen.align import AlignmentMetrics

    measured = {f.name for f in dataclasses.fields(AlignmentMetrics)}
    carried = set(CueMetrics.model_fields) | {"per_cut"}  # per_cut arrives as `cuts`
    left_out = {"duration_error"}  # zero by construction: the WAV is the cue's exact length
    assert measured - left_out <= carried, measured - left_out - carried


def test_writing_the_outputs_reports_each_file_and_around_the_picture(cut_clip, tmp_path):
    from gvmgen.pipeline import score

    events = []
    score(
        {
            "input": str(cut_clip[0]),
            "out_dir": str(tmp_path / "out"),
            "engine": "arranger",
            "range": "0-6",
        },
        on_event=events.append,
    )
    writing = [e for e in events if e.stage == "write"]
    messages = list(dict.fromkeys(e.message for e in writing))  # heartbeats repeat the latest
    for expected in (
        "drawing report.png",
        "wrote report.png",
        "wrote score.otio",
        "wrote report.json",
    ):
        assert expected in messages, messages
    drawing, drawn = messages.index("drawing report.png"), messages.index("wrote report.png")
    assert drawing < drawn
    fractions = [e.fraction for e in writing]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    assert events[-1].stage == "done" and events[-1].fraction == 1.0
