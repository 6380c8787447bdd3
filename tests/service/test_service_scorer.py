"""The Scorer a worker holds: warm engines, typed progress, cancellation, batched takes."""

from __future__ import annotations

import json
import threading
import time

import pytest
import soundfile as sf
from service_helpers import CountingArranger

import gvmgen.engines as engines
from gvmgen.engines import EngineRegistry
from gvmgen.errors import Cancelled
from gvmgen.pipeline import Scorer, score
from gvmgen.schema import STAGES, ProgressEvent


def _batch(timeline, out) -> dict:
    return {"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"}


def test_progress_is_typed_monotonic_and_on_the_calling_thread(three_cue_timeline, tmp_path):
    events, threads = [], set()

    def on_event(event):
        events.append(event)
        threads.add(threading.get_ident())

    score(_batch(three_cue_timeline, tmp_path / "o"), on_event=on_event)
    assert all(isinstance(e, ProgressEvent) for e in events)
    assert threads == {threading.get_ident()}
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert events[-1].stage == "done" and {e.job_id for e in events} == {events[0].job_id}
    assert {e.stage for e in events} <= set(STAGES)
    for stage in ("generate", "align", "level", "write"):  # each stage heard, for every cue
        assert {e.cue for e in events if e.stage == stage} - {None} == {0, 1, 2}, stage
    aligning = [e for e in events if e.stage == "align" and e.cue == 0]
    assert len({e.message for e in aligning}) >= 3  # sub-steps, not one line per cue
    assert all(e.take == 1 for e in events if e.cue is not None)


def test_cancel_during_alignment_stops_and_leaves_nothing(three_cue_timeline, tmp_path):
    cancel = threading.Event()
    out = tmp_path / "c"
    after = []

    def on_event(event):
        if cancel.is_set():
            after.append(event)
        elif event.stage == "align":
            cancel.set()

    began = time.monotonic()
    with pytest.raises(Cancelled):
        score(_batch(three_cue_timeline, out), on_event=on_event, cancel=cancel)
    print(f"returned {time.monotonic() - began:.2f} s after the cancel")  # bench/ times it
    assert not out.exists()  # no WAV, no report, no staging folder, no reserved take
    assert not [e for e in after if e.stage in ("write", "done")]


def test_one_warm_engine_serves_consecutive_jobs(cut_clip, tmp_path, monkeypatch):
    from gvmgen.engines.gvmgen_engine import build_debug_engine

    loads = []

    def load(models_dir, device="auto"):
        loads.append(models_dir)
        return build_debug_engine(seed=0)

    monkeypatch.setattr(engines, "_gvmgen", load)
    scorer = Scorer()
    request = {"input": str(cut_clip[0]), "engine": "gvmgen", "range": "0-2"}
    first = scorer.score({**request, "out_dir": str(tmp_path / "1")})
    second = scorer.score({**request, "out_dir": str(tmp_path / "2")})
    assert len(loads) == 1  # weights loaded once for both jobs
    assert first.engine == second.engine == "gvmgen"
    assert scorer.engines.loaded() == ["gvmgen"]


def test_the_registry_keeps_a_handed_in_engine(cut_clip, tmp_path):
    engine = CountingArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    for name in ("a", "b"):
        out = str(tmp_path / name)
        scorer.score(
            {"input": str(cut_clip[0]), "out_dir": out, "engine": "arranger", "range": "0-3"}
        )
    assert engine.seeds == [0, 0]  # the same instance made both jobs' music


def test_gvmgen_takes_are_made_in_one_batched_pass(cut_clip, tmp_path):
    from gvmgen.engines.gvmgen_engine import build_debug_engine

    engine = build_debug_engine(seed=0)
    batches = []
    generate_takes = engine.generate_takes

    def recording(cue, seeds, progress=None, cancel=None, prompts=None):
        batches.append(list(seeds))
        return generate_takes(cue, seeds, progress, cancel, prompts)

    engine.generate_takes = recording
    result = Scorer(EngineRegistry(engines={"gvmgen": engine})).score(
        {
            "input": str(cut_clip[0]),
            "out_dir": str(tmp_path / "t"),
            "engine": "gvmgen",
            "range": "0-2.5",
            "takes": 2,
        }
    )
    assert batches == [[0, 1]]  # one cue, both takes in one pass
    assert [t.take for t in result.takes] == [1, 2]
    on_disk = json.loads((tmp_path / "t" / "report.json").read_text())["takes"]
    assert on_disk[0]["loudness_lufs"] == result.loudness_lufs == result.takes[0].loudness_lufs
    assert isinstance(on_disk[1]["loudness_lufs"], float)
    for take in result.takes:  # every take measured, not only the first
        assert len(take.cues) == 1 and take.cues[0].take == take.take
        assert sf.info(take.wavs[0]).frames == round(take.cues[0].duration * 48000)


def test_cuda_out_of_memory_is_a_structured_error(monkeypatch):
    import torch

    from gvmgen.engines.base import CueConditioning
    from gvmgen.engines.gvmgen_engine import build_debug_engine
    from gvmgen.errors import EngineError, OutOfMemory

    engine = build_debug_engine(seed=0)

    def out_of_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.generator, "generate", out_of_memory)
    with pytest.raises(OutOfMemory) as caught:
        engine.generate_takes(CueConditioning(duration=1.0), [0, 1, 2, 3])
    assert isinstance(caught.value, EngineError)
    assert caught.value.to_dict()["code"] == "out_of_memory"
    assert "4 take(s)" in str(caught.value) and caught.value.hint
