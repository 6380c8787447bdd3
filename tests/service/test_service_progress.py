"""The progress leaf: whole-job fractions from parts, delivered on the calling thread."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from gvmgen.errors import Cancelled
from gvmgen.progress import Parts, Pump, Update, check_cancel
from gvmgen.schema import CueMetrics


def test_parts_add_up_by_their_weights():
    parts = Parts({"a": 1.0, "b": 3.0}, start=0.2, end=0.6)
    assert parts.advance("b", 0.5) == pytest.approx(0.2 + 0.4 * 0.75 * 0.5)
    assert parts.advance("a", 1.0) == pytest.approx(0.2 + 0.1 + 0.15)
    assert parts.advance("b", 1.5) == pytest.approx(0.6)  # a part is at most done


def test_a_resumed_job_starts_where_it_had_reached():
    """The Pump is the one place the bar is kept from going back, a resumed job's included:
    its kept cues are reported again from the start."""
    seen = []
    pump = Pump(lambda update, eta: seen.append(update.fraction), start=0.4)

    def work() -> None:
        for fraction in (0.1, 0.3, 0.6, 0.5):
            pump.post(Update("generate", fraction, "again"))

    pump.run(work)
    assert seen == [0.4, 0.4, 0.6, 0.6]


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


def test_adding_a_stage_to_the_progress_table_is_one_line(cut_clip, tmp_path, monkeypatch):
    """One more line in the job's table and one in a cue's: every step moves to make room,
    the fraction still only grows and ends at 1.0 (nothing is posted in the new stages)."""
    from gvmgen import progress
    from gvmgen.pipeline import score

    job = list(progress.STAGE_WEIGHTS["job"])
    job.insert(job.index(("render", 75)) + 1, ("duck", 20))  # the one line
    cue = list(progress.STAGE_WEIGHTS["cue on a CPU"])
    cue.insert(cue.index(("align", 50)) + 1, ("ending", 30))  # the one line
    monkeypatch.setitem(progress.STAGE_WEIGHTS, "job", tuple(job))
    monkeypatch.setitem(progress.STAGE_WEIGHTS, "cue on a CPU", tuple(cue))
    events = []
    request = {"input": str(cut_clip[0]), "out_dir": str(tmp_path), "engine": "arranger"}
    score({**request, "range": "0-6"}, on_event=events.append)
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    duck = progress.span("job", "duck")
    assert duck == pytest.approx((85 / 120, 105 / 120))  # after timeline, cuts, plan, render
    assert not [f for f in fractions if duck[0] + 1e-9 < f < duck[1] - 1e-9]
    (measuring,) = {e.fraction for e in events if e.message == "measuring and writing"}
    assert measuring == pytest.approx(duck[1])
    render = progress.span("job", "render")
    ending = progress.span("cue on a CPU", "ending")
    (levelling,) = {e.fraction for e in events if e.message.endswith("levelling: resampling")}
    assert levelling == pytest.approx(render[0] + (render[1] - render[0]) * ending[1])
