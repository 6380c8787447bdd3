"""`kill -9` of the server while a batch job runs, then a restart on the same data dir: the job
completes, its finished cues are not generated again, no accepted job is lost, and no partial
output is ever visible in the output folder. SIGTERM instead: the cue in progress is finished,
the job goes back to the queue, and the process exits 0."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import soundfile as sf
from backend_helpers import BATCH_CUES, BATCH_SECONDS, GRACE, submit_batch, wait_for
from gvmgen_backend.client import Client, find_endpoint
from gvmgen_backend.datadir import STORE_NAME
from gvmgen_backend.store import JobStore

from gvmgen.outputs import STAGING_PREFIX

OTHER_SEED = 100  # the queued job's engine calls, told apart from the batch's


def _visible_files(out: Path) -> set[str]:
    """What an editor browsing the folder sees (the staging folder is hidden and private)."""
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not p.relative_to(out).as_posix().startswith(STAGING_PREFIX)
    }


def test_kill_9_mid_batch_then_restart_completes_without_redoing_cues(
    spawn, tmp_path, batch_timeline, clip
):
    data, calls, out = tmp_path / "data", tmp_path / "calls.txt", tmp_path / "out"
    server = spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        batch = client.request(
            "submit",
            {
                "input": str(batch_timeline),
                "out_dir": str(out),
                "mode": "batch",
                "engine": "arranger",
                "key": uuid.uuid4().hex,
                "watch": False,
            },
        )[1]["job_id"]
        queued = client.request(
            "submit",
            {
                "input": str(clip),
                "out_dir": str(tmp_path / "second"),
                "engine": "arranger",
                "seed": OTHER_SEED,
                "key": uuid.uuid4().hex,
                "watch": False,
            },
        )[1]["job_id"]
    stage = out / f"{STAGING_PREFIX}{batch}"
    wait_for(lambda: len(list(stage.rglob("cue-02.*"))) == 1)  # two cues checkpointed
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    kept = {int(p.stem.split("-")[1]) - 1 for p in stage.rglob("cue-*.*")}
    first_run = _batch_calls(calls)
    assert not out.exists() or _visible_files(out) == set()  # nothing half-made shows

    calls.write_text("")
    spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        done = list(client.follow("watch", {"job_id": batch}, deadline=time.monotonic() + 90))
        second = list(client.follow("watch", {"job_id": queued}, deadline=time.monotonic() + 90))
        _, status = client.request("status", {"job_id": batch})
    second_run = _batch_calls(calls)

    assert done[-1][0] == "done" and second[-1][0] == "done"  # no accepted job lost
    assert kept >= {0, 1} and first_run[: len(kept)] == sorted(kept)
    assert not kept & set(second_run), (kept, second_run)  # finished cues not redone
    assert sorted(second_run) == sorted(set(range(BATCH_CUES)) - kept)  # the rest exactly once
    assert status["attempts"] == 2
    result = done[-1][1]["result"]
    assert [c["index"] for c in result["cues"]] == list(range(BATCH_CUES))
    assert _visible_files(out) == {
        "score.otio",
        "report.json",
        "report.png",
        "cue_sheet.csv",
        *(f"takes/take-01/cue-0{i}.wav" for i in range(1, BATCH_CUES + 1)),
    }
    assert sum(sf.info(c["wav"]).frames for c in result["cues"]) == BATCH_SECONDS * 48000
    assert not stage.exists()


def _batch_calls(calls: Path) -> list[int]:
    text = calls.read_text() if calls.exists() else ""  # no call yet: no file yet
    return [int(s) for s in text.split() if int(s) < OTHER_SEED]


def _kept(stage: Path) -> set[int]:
    return {int(p.stem.split("-")[1]) - 1 for p in stage.rglob("cue-*.*")}


def _stored(data: Path, job_id: str) -> tuple:
    store = JobStore(data / STORE_NAME)
    try:
        return tuple(
            store.db.execute(
                "SELECT state, lease_owner, lease_until FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        )
    finally:
        store.close()


def _resume(spawn, data: Path, calls: Path, job_id: str) -> list:
    calls.write_text("")
    spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        return list(client.follow("watch", {"job_id": job_id}, deadline=time.monotonic() + 90))


def test_sigterm_mid_batch_finishes_the_cue_requeues_the_job_and_exits_0(
    spawn, tmp_path, batch_timeline
):
    data, calls, out = tmp_path / "data", tmp_path / "calls.txt", tmp_path / "out"
    server = spawn(data, calls)
    batch = submit_batch(data, batch_timeline, out)
    stage = out / f"{STAGING_PREFIX}{batch}"
    wait_for(lambda: 1 in _batch_calls(calls))  # cue 2 is being generated
    in_progress = max(_batch_calls(calls))
    server.send_signal(signal.SIGTERM)
    began = time.monotonic()
    assert server.wait(GRACE + 5) == 0
    assert time.monotonic() - began < GRACE  # it left at the cue boundary, not at the grace
    first_run, kept = _batch_calls(calls), _kept(stage)
    assert in_progress in kept  # the cue in progress at SIGTERM was finished and checkpointed
    assert kept == set(first_run) and len(kept) < BATCH_CUES  # every cue begun kept, none later
    assert _stored(data, batch) == ("queued", None, None)  # not failed, lease released
    assert not (data / "server.json").exists()
    assert "paused at a cue boundary" in (data / "serve.log").read_text()
    assert not out.exists() or _visible_files(out) == set()

    done = _resume(spawn, data, calls, batch)
    assert done[-1][0] == "done"
    assert sorted(_batch_calls(calls)) == sorted(set(range(BATCH_CUES)) - kept)  # only later cues
    assert min(_batch_calls(calls)) > in_progress
    assert not stage.exists()


def test_sigterm_past_the_grace_leaves_the_job_at_its_last_finished_cue(
    spawn, tmp_path, batch_timeline
):
    data, calls, out = tmp_path / "data", tmp_path / "calls.txt", tmp_path / "out"
    server = spawn(data, calls, grace=0.2)  # shorter than a cue: the cue cannot finish
    batch = submit_batch(data, batch_timeline, out)
    stage = out / f"{STAGING_PREFIX}{batch}"
    wait_for(lambda: len(list(stage.rglob("cue-01.*"))) == 1)
    # and the next cue begun: a signal between the checkpoint and the next engine call would
    # find the job at a cue boundary (seen on a quiet machine), which is the other test's case
    wait_for(lambda: 2 in _batch_calls(calls))
    server.send_signal(signal.SIGTERM)
    assert server.wait(20) == 0
    assert not (data / "server.json").exists()
    assert "stays at its last finished cue" in (data / "serve.log").read_text()
    kept = _kept(stage)

    done = _resume(spawn, data, calls, batch)
    assert done[-1][0] == "done"
    assert kept and not kept & set(_batch_calls(calls))
    assert sorted(_batch_calls(calls)) == sorted(set(range(BATCH_CUES)) - kept)
