"""Pause: a server stopping asks the job to stop at its next cue boundary. The cue being
rendered is finished and checkpointed, nothing shows in the output folder, and the same job id
later renders only the cues after it, into WAVs identical to an uninterrupted run's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from service_helpers import CountingArranger, same_delivered_wav

from gvmgen.engines import EngineRegistry
from gvmgen.errors import GVMGenError, Paused
from gvmgen.outputs import STAGING_PREFIX
from gvmgen.pipeline import Scorer

HOLD_SECONDS = 30.0  # the second cue waits at most this long for the pause to be set


class HeldArranger(CountingArranger):
    """The arranger, whose calls for `held` seeds wait (bounded) until `pause` is set, so the
    pause lands while those cues are being rendered, never after them."""

    def __init__(self, pause: threading.Event | None = None, held=frozenset()):
        super().__init__()
        self.pause, self.held = pause, held

    def generate_with_beats(self, cue, seed, progress=None, cancel=None):
        if self.pause is not None and seed in self.held:
            progress(0.0, "composing")  # the cue's first step: the listener hears it is on
            assert self.pause.wait(HOLD_SECONDS), "the pause never came"
        return super().generate_with_beats(cue, seed, progress, cancel)


class InOrderArranger(HeldArranger):
    """Cues one after another (as GVMGen goes), so "the cue in progress" is exactly one."""

    takes_prompt_audio = True


def _request(timeline: Path, out: Path, job_id: str | None = None) -> dict:
    request = {"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"}
    return request if job_id is None else {**request, "job_id": job_id}


def _visible(out: Path) -> list[str]:
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if not any(part.startswith(".") for part in p.relative_to(out).parts)
    )


def test_a_pause_in_cue_2_keeps_it_and_the_rerun_renders_only_cue_3(three_cue_timeline, tmp_path):
    out, pause = tmp_path / "out", threading.Event()
    engine = InOrderArranger(pause, held={1})
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))

    def on_event(event) -> None:
        if event.cue == 1 and event.stage == "generate":
            pause.set()

    with pytest.raises(Paused) as paused:
        scorer.score(_request(three_cue_timeline, out, "P1"), on_event=on_event, pause=pause)
    assert isinstance(paused.value, GVMGenError) and paused.value.code == "paused"
    assert engine.seeds == [0, 1]  # cue 2 was finished, cue 3 never started
    assert _visible(out) == []  # no report, no takes/ entry
    checkpoints = out / f"{STAGING_PREFIX}P1" / "cues" / "take-01"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["cue-01.npz", "cue-02.npz"]

    engine.pause, engine.seeds = None, []
    resumed = scorer.score(_request(three_cue_timeline, out, "P1"))
    assert engine.seeds == [2]  # only the cue after the pause
    reference = Scorer(EngineRegistry(engines={"arranger": InOrderArranger()})).score(
        _request(three_cue_timeline, tmp_path / "uninterrupted")
    )
    assert [Path(w).name for w in resumed.takes[0].wavs] == [
        "cue-01.wav",
        "cue-02.wav",
        "cue-03.wav",
    ]
    for wav, expected in zip(resumed.takes[0].wavs, reference.takes[0].wavs, strict=True):
        assert same_delivered_wav(wav, expected)
    assert not list(out.glob(f"{STAGING_PREFIX}*"))


def test_a_pause_between_independent_cues_keeps_the_ones_begun(three_cue_timeline, tmp_path):
    """The arranger's cues render side by side (as many as there are cores, up to 4): every
    cue begun before the pause is finished and kept, and the rerun renders only the others."""
    out, pause = tmp_path / "out", threading.Event()
    engine = HeldArranger(pause, held={0, 1, 2})
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))

    def on_event(event) -> None:
        if event.stage == "generate":
            pause.set()

    with pytest.raises(Paused):
        scorer.score(_request(three_cue_timeline, out, "P2"), on_event=on_event, pause=pause)
    begun = set(engine.seeds)
    assert _visible(out) == [] and begun
    checkpoints = out / f"{STAGING_PREFIX}P2" / "cues" / "take-01"
    kept = {int(p.stem.removeprefix("cue-")) - 1 for p in checkpoints.glob("cue-*.npz")}
    assert kept == begun  # every cue begun was finished and checkpointed

    engine.pause, engine.seeds = None, []
    result = scorer.score(_request(three_cue_timeline, out, "P2"))
    assert sorted(engine.seeds) == sorted({0, 1, 2} - kept)
    assert [c.index for c in result.cues] == [0, 1, 2]


def test_a_pause_before_the_start_writes_nothing(three_cue_timeline, tmp_path):
    pause = threading.Event()
    pause.set()
    with pytest.raises(Paused):
        Scorer().score(_request(three_cue_timeline, tmp_path / "out", "P3"), pause=pause)
    assert not (tmp_path / "out").exists()
