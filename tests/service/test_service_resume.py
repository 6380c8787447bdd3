"""Crash and resume, idempotent job ids: what a backend retrying a job gets in the folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from service_helpers import CountingArranger, same_delivered_wav, snapshot

from gvmgen.engines import EngineRegistry
from gvmgen.pipeline import Scorer, score

HELPER = Path(__file__).with_name("counting_score.py")
WAIT_SECONDS = 120.0  # the killed run must reach its third cue within this


def _score_cli(timeline, out, calls, stall_from=None):
    env = dict(os.environ, GVMGEN_TEST_CALLS=str(calls))
    if stall_from is not None:
        env["GVMGEN_TEST_STALL_FROM"] = str(stall_from)
    argv = [sys.executable, str(HELPER), "score", str(timeline), "--out", str(out)]
    argv += ["--mode", "batch", "--engine", "arranger", "--job-id", "J1"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, process) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached its third cue"
        time.sleep(0.05)


def _seeds(calls: Path) -> list[int]:
    return sorted(int(line) for line in calls.read_text().split())


def test_a_killed_batch_resumes_without_redoing_finished_cues(three_cue_timeline, tmp_path):
    out = tmp_path / "out"
    first_calls, second_calls = tmp_path / "calls-1", tmp_path / "calls-2"
    checkpoints = out / ".staging-J1" / "cues" / "take-01"
    killed = _score_cli(three_cue_timeline, out, first_calls, stall_from=2)
    _wait_for(
        lambda: (
            (checkpoints / "cue-01.npz").exists()
            and (checkpoints / "cue-02.npz").exists()
            and first_calls.exists()
            and 2 in _seeds(first_calls)
        ),
        killed,
    )
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (out / "report.json").exists()  # nothing committed by the killed run
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []  # no empty take
    other = score({**_batch_request(three_cue_timeline, out), "job_id": "J9"})
    assert other.take == 2  # take 1 stays the killed job's, though nothing shows it

    resumed = _score_cli(three_cue_timeline, out, second_calls)
    _, err = resumed.communicate(timeout=WAIT_SECONDS)
    assert resumed.returncode == 0, err.decode()
    assert _seeds(second_calls) == [2]  # cues 1 and 2 came from their checkpoints
    assert sorted(p.name for p in (out / "takes").iterdir()) == ["take-01", "take-02"]

    reference = score(
        {
            "input": str(three_cue_timeline),
            "out_dir": str(tmp_path / "uninterrupted"),
            "engine": "arranger",
            "mode": "batch",
        }
    )
    wavs = sorted((out / "takes" / "take-01").glob("*.wav"))
    assert [w.name for w in wavs] == ["cue-01.wav", "cue-02.wav", "cue-03.wav"]
    for wav, expected in zip(wavs, reference.takes[0].wavs, strict=True):
        assert same_delivered_wav(wav, expected)
    assert not list(out.glob(".staging-*")) and not list(out.glob(".reservations/*"))


def test_the_same_job_id_again_returns_its_result_and_makes_no_take(cut_clip, tmp_path):
    engine = CountingArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    out = tmp_path / "out"
    request = {
        "input": str(cut_clip[0]),
        "out_dir": str(out),
        "engine": "arranger",
        "range": "0-6",
        "job_id": "job-7",
    }
    first = scorer.score(request)
    before = snapshot(out)
    again = scorer.score(request)
    assert again == first
    assert snapshot(out) == before  # no new take, nothing rewritten
    assert engine.seeds == [0]


def test_an_earlier_job_id_after_later_takes_returns_its_own_take(cut_clip, tmp_path):
    scorer = Scorer(EngineRegistry(engines={"arranger": CountingArranger()}))
    base = {"input": str(cut_clip[0]), "out_dir": str(tmp_path), "engine": "arranger"}
    first = scorer.score({**base, "range": "0-6", "job_id": "a"})
    later = scorer.score({**base, "mode": "regenerate", "job_id": "b"})
    again = scorer.score({**base, "range": "0-6", "job_id": "a"})
    assert (first.take, later.take, again.take) == (1, 2, 1)
    assert again.cues == first.cues and again.job_id == "a"
    assert [t.take for t in again.takes] == [1, 2]


def test_a_take_folder_on_disk_is_never_reused(cut_clip, tmp_path):
    out = tmp_path / "out"
    (out / "takes" / "take-01").mkdir(parents=True)  # left by hand, not in any report
    (out / "takes" / "take-01" / "mine.wav").write_bytes(b"the editor's file")
    result = score({"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger"})
    assert result.take == 2 and Path(result.cues[0].wav).parent.name == "take-02"
    assert (out / "takes" / "take-01" / "mine.wav").read_bytes() == b"the editor's file"


def test_a_job_id_reused_for_another_request_is_refused(three_cue_timeline, tmp_path):
    from gvmgen.errors import JobError

    out = tmp_path / "out"
    stage = out / ".staging-J2"
    stage.mkdir(parents=True)  # as a killed run of another request left it
    (stage / "job.json").write_text('{"fingerprint": "another request", "takes": [[1, 0]]}')
    before = snapshot(out)
    try:
        score({**_batch_request(three_cue_timeline, out), "job_id": "J2"})
    except JobError as error:
        assert error.code == "job_conflict" and error.field == "job_id"
    else:
        raise AssertionError("a job id used for another request was accepted")
    assert snapshot(out) == before  # the other request's checkpoints are not touched


def _batch_request(timeline, out) -> dict:
    return {"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"}


class _Planted:
    """A pickle that makes a folder when it is loaded: what a hostile checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_checkpoint_never_runs_code_and_a_bad_one_is_rendered_again(three_cue_timeline, tmp_path):
    import pickle

    out, marker = tmp_path / "out", tmp_path / "code-ran"
    cues = out / ".staging-J3" / "cues" / "take-01"
    cues.mkdir(parents=True)
    for name in ("cue-01.pkl", "cue-01.npz", "cue-01.json", "cue-01.wav"):
        (cues / name).write_bytes(pickle.dumps(_Planted(marker)))
    engine = CountingArranger()
    scorer = Scorer(EngineRegistry(engines={"arranger": engine}))
    result = scorer.score({**_batch_request(three_cue_timeline, out), "job_id": "J3"})
    assert not marker.exists()  # nothing in the staging folder was unpickled
    assert sorted(engine.seeds) == [0, 1, 2]  # the planted cue was rendered, not trusted
    reference = score(_batch_request(three_cue_timeline, tmp_path / "reference"))
    for wav, expected in zip(result.takes[0].wavs, reference.takes[0].wavs, strict=True):
        assert same_delivered_wav(wav, expected)


def test_checkpoints_load_without_pickle(three_cue_timeline, tmp_path):
    import numpy as np

    out = tmp_path / "out"
    calls = tmp_path / "calls"
    killed = _score_cli(three_cue_timeline, out, calls, stall_from=2)
    checkpoints = out / ".staging-J1" / "cues" / "take-01"
    _wait_for(
        lambda: (
            all((checkpoints / f"cue-0{i}.npz").exists() for i in (1, 2))
            and calls.exists()
            and 2 in _seeds(calls)
        ),
        killed,
    )
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    files = sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith("."))
    assert files == ["cue-01.npz", "cue-02.npz"]
    for name in files:
        with np.load(checkpoints / name, allow_pickle=False) as kept:
            assert kept["audio"].dtype == np.float32 and kept["audio"].shape[0] == 2
