"""The Scorer's hooks for a service: `at_cue_boundary` runs before each cue begins (then the
pause is looked at), and `max_cue_seconds` caps the cues a retry after running out of memory
makes. What the user gets is checked: the report's cues, the WAVs and the staged checkpoints."""

from __future__ import annotations

import json
import threading

import pytest
import soundfile as sf
from service_helpers import CountingArranger

from gvmgen.engines import EngineRegistry
from gvmgen.errors import Paused
from gvmgen.outputs import STAGING_PREFIX
from gvmgen.pipeline import Scorer


class InOrderArranger(CountingArranger):
    """Cues one after another, as GVMGen goes: "before the next cue" is exact."""

    takes_prompt_audio = True


def _request(timeline, out, **more) -> dict:
    return {"input": str(timeline), "out_dir": str(out), "engine": "arranger", **more}


def test_the_hook_runs_before_each_cue_and_a_pause_it_sets_stops_there(
    three_cue_timeline, tmp_path
):
    engine = InOrderArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    pause, seen = threading.Event(), []

    def at_cue_boundary() -> None:
        seen.append(list(engine.seeds))  # the cues made before this boundary
        if len(seen) == 2:
            pause.set()  # e.g. the server stopping while an interactive job ran here

    out = tmp_path / "out"
    request = _request(three_cue_timeline, out, mode="batch", job_id="J1")
    with pytest.raises(Paused):
        scorer.score(request, pause=pause, at_cue_boundary=at_cue_boundary)
    assert seen == [[], [0]] and engine.seeds == [0]  # cue 2 never began
    kept = sorted(p.name for p in (out / f"{STAGING_PREFIX}J1" / "cues" / "take-01").iterdir())
    assert kept == ["cue-01.npz"]
    calls = []
    result = scorer.score(request, at_cue_boundary=lambda: calls.append(list(engine.seeds)))
    assert calls == [[0], [0], [0, 1]]  # cue 1 kept from the checkpoint, then 2 and 3 made
    assert [c.index for c in result.cues] == [0, 1, 2]


def test_max_cue_seconds_cuts_long_cues_into_equal_parts(cut_clip, tmp_path):
    out = tmp_path / "out"
    scorer = Scorer()
    result = scorer.score(_request(cut_clip[0], out, range="0-9"), max_cue_seconds=4.0)
    cues = [(c.name, c.start, c.duration) for c in result.cues]
    assert cues == [("cue 1 (1/3)", 0.0, 3.0), ("cue 1 (2/3)", 3.0, 3.0), ("cue 1 (3/3)", 6.0, 3.0)]
    lengths = [sf.info(w).frames for w in result.takes[0].wavs]
    assert lengths == [144000, 144000, 144000]  # 3 s at 48 kHz each, end to end
    report = json.loads((out / "report.json").read_text())
    assert [c["record_in"] for c in report["cues"]] == ["00:00:00:00", "00:00:03:00", "00:00:06:00"]


def test_a_job_staged_before_the_request_record_still_resumes(
    three_cue_timeline, tmp_path, monkeypatch
):
    """A staging folder keyed by the older fingerprint (the input's path and some options),
    as a run of an earlier version left it: the same request resumes it; another does not."""
    import gvmgen.pipeline as pipeline
    from gvmgen.errors import JobError

    plans = []
    staging_key = pipeline._staging_key
    monkeypatch.setattr(
        pipeline, "_staging_key", lambda plan, job: plans.append(plan) or staging_key(plan, job)
    )
    engine = InOrderArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    pause, out = threading.Event(), tmp_path / "out"
    request = _request(three_cue_timeline, out, mode="batch", job_id="J1")
    with pytest.raises(Paused):
        scorer.score(request, pause=pause, at_cue_boundary=lambda: engine.seeds and pause.set())
    state_file = out / f"{STAGING_PREFIX}J1" / "job.json"
    state = json.loads(state_file.read_text())
    state["fingerprint"] = pipeline._older_fingerprint(plans[-1])  # as the older run wrote it
    state_file.write_text(json.dumps(state))
    with pytest.raises(JobError, match="another request"):
        scorer.score({**request, "seed": 5})  # not what was staged
    result = scorer.score(request)
    assert engine.seeds == [0, 1, 2] and len(result.cues) == 3  # cue 1 kept, not made again
