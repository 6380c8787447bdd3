"""Cancel inside cut detection: one long bare video stops within a few frames, not at its end."""

from __future__ import annotations

import threading

import pytest

import gvmgen.analysis as analysis
import gvmgen.media.cuts as cuts
from gvmgen.errors import Cancelled
from gvmgen.pipeline import score

WAIT_SECONDS = 30.0  # the decode waits at most this long for the job to see the cancel


def test_a_cancel_during_the_decode_stops_it_before_its_end(cut_clip, tmp_path, monkeypatch):
    cancel, seen = threading.Event(), {"frames": 0, "analysis_cancel": None}
    detect_shots, decode_from = cuts.detect_shots, cuts.decode_from

    def watched_detect_shots(*args, **kwargs):
        seen["analysis_cancel"] = kwargs.get("cancel")  # the job's own stop event, if passed
        return detect_shots(*args, **kwargs)

    def counted_decode(*args, **kwargs):
        for item in decode_from(*args, **kwargs):
            seen["frames"] += 1
            if seen["frames"] == 2:  # the job has been told to stop before frame 3 decodes
                (seen["analysis_cancel"] or cancel).wait(WAIT_SECONDS)
            yield item

    monkeypatch.setattr(analysis, "detect_shots", watched_detect_shots)  # where it is called
    monkeypatch.setattr(cuts, "decode_from", counted_decode)

    def on_event(event) -> None:
        if event.stage == "cuts":
            cancel.set()

    out = tmp_path / "out"
    request = {"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger"}
    with pytest.raises(Cancelled):
        score(request, on_event=on_event, cancel=cancel)
    total = round(12.0 * float(cut_clip[1]))
    assert seen["analysis_cancel"] is not None  # the job's own stop event reached the decode
    assert 1 <= seen["frames"] <= 2 + cuts.CANCEL_EVERY_FRAMES < total
    assert not out.exists()  # nothing was written


def test_cut_detection_reports_progress_inside_one_video(cut_clip):
    heard = []
    cuts.detect_shots(cut_clip[0], progress=lambda f, m: heard.append((f, m)))
    fractions = [f for f, _ in heard]
    assert len(heard) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
