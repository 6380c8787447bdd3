"""`kill -9` of the server while a batch job runs, then a restart on the same data dir: the job
completes, its finished cues are not generated again, no accepted job is lost, and no partial
output is ever visible in the output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import soundfile as sf
from gvmgen_backend.client import Client, find_endpoint

from gvmgen.outputs import STAGING_PREFIX

SERVER_SCRIPT = Path(__file__).with_name("counting_server.py")
STEPS, STEP_SECONDS = 10, 0.1  # one second per cue
OTHER_SEED = 100  # the queued job's engine calls, told apart from the batch's (seeds 0-3)


@pytest.fixture
def spawn(tmp_path):
    """spawn(data_dir, calls_file) -> Popen of a counting server; every one killed after."""
    processes: list[subprocess.Popen] = []

    def start(data_dir: Path, calls: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), str(data_dir), str(calls), str(STEPS),
             str(STEP_SECONDS)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        processes.append(process)
        line = process.stdout.readline()
        assert line.startswith("gvmgen serve: listening on tcp://127.0.0.1:"), line
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)


def _wait_for(condition, seconds: float = 60.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _visible_files(out: Path) -> set[str]:
    """What an editor browsing the folder sees (the staging folder is hidden and private)."""
    return {p.relative_to(out).as_posix() for p in out.rglob("*")
            if p.is_file() and not p.relative_to(out).as_posix().startswith(STAGING_PREFIX)}


def test_kill_9_mid_batch_then_restart_completes_without_redoing_cues(
    spawn, tmp_path, batch_timeline, clip
):
    data, calls, out = tmp_path / "data", tmp_path / "calls.txt", tmp_path / "out"
    server = spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        batch = client.request("submit", {
            "input": str(batch_timeline), "out_dir": str(out), "mode": "batch",
            "engine": "arranger", "key": uuid.uuid4().hex, "watch": False})[1]["job_id"]
        queued = client.request("submit", {
            "input": str(clip), "out_dir": str(tmp_path / "second"), "engine": "arranger",
            "seed": OTHER_SEED, "key": uuid.uuid4().hex, "watch": False})[1]["job_id"]
    stage = out / f"{STAGING_PREFIX}{batch}"
    _wait_for(lambda: len(list(stage.rglob("cue-02.*"))) == 1)  # two cues checkpointed
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    kept = {int(p.stem.split("-")[1]) - 1 for p in stage.rglob("cue-*.*")}
    first_run = _batch_calls(calls)
    assert not out.exists() or _visible_files(out) == set()  # nothing half-made shows

    calls.write_text("")
    spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        done = list(client.follow("watch", {"job_id": batch}, deadline=time.monotonic() + 90))
        second = list(client.follow("watch", {"job_id": queued},
                                    deadline=time.monotonic() + 90))
        _, status = client.request("status", {"job_id": batch})
    second_run = _batch_calls(calls)

    assert done[-1][0] == "done" and second[-1][0] == "done"  # no accepted job lost
    assert kept >= {0, 1} and first_run[: len(kept)] == sorted(kept)
    assert not kept & set(second_run), (kept, second_run)  # finished cues not redone
    assert sorted(second_run) == sorted(set(range(4)) - kept)  # the rest exactly once
    assert status["attempts"] == 2
    result = done[-1][1]["result"]
    assert [c["index"] for c in result["cues"]] == [0, 1, 2, 3]
    assert _visible_files(out) == {"score.otio", "report.json", "report.png",
                                   *(f"takes/take-01/cue-0{i}.wav" for i in range(1, 5))}
    assert sum(sf.info(c["wav"]).frames for c in result["cues"]) == 8 * 48000
    assert not stage.exists()


def _batch_calls(calls: Path) -> list[int]:
    return [int(s) for s in calls.read_text().split() if int(s) < OTHER_SEED]


def test_sigterm_mid_batch_exits_cleanly_and_the_next_start_resumes(spawn, tmp_path,
                                                                     batch_timeline):
    data, calls, out = tmp_path / "data", tmp_path / "calls.txt", tmp_path / "out"
    server = spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        batch = client.request("submit", {
            "input": str(batch_timeline), "out_dir": str(out), "mode": "batch",
            "engine": "arranger", "key": uuid.uuid4().hex, "watch": False})[1]["job_id"]
    stage = out / f"{STAGING_PREFIX}{batch}"
    _wait_for(lambda: len(list(stage.rglob("cue-01.*"))) == 1)
    server.send_signal(signal.SIGTERM)
    assert server.wait(20) == 0
    assert not (data / "server.json").exists()
    assert "stays at its last finished cue" in (data / "serve.log").read_text()
    kept = {int(p.stem.split("-")[1]) - 1 for p in stage.rglob("cue-*.*")}

    calls.write_text("")
    spawn(data, calls)
    with Client(find_endpoint(data)) as client:
        done = list(client.follow("watch", {"job_id": batch}, deadline=time.monotonic() + 90))
    assert done[-1][0] == "done"
    assert kept and not kept & set(_batch_calls(calls))
    assert sorted(_batch_calls(calls)) == sorted(set(range(4)) - kept)
