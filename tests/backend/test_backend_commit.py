"""The commit is atomic as seen from --out, whatever the kill moment (issue 21, rows 1-3).

Each test kills a counting server (kill -9) at an exact moment of the commit, held there by a
test hook (hooks.py): a cue WAV half-written into the stage, a commit stopped between two
renames, a commit done but its stage not yet removed. Then it looks at the folder as an
editor would, restarts the server (or runs the next job in the folder), and checks what the
editor gets: the whole take once, no temp or partial file, nothing left behind.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import soundfile as sf
from backend_helpers import BATCH_CUES, submit_batch, wait_for
from gvmgen_backend.client import Client, find_endpoint

from gvmgen.atomic import is_temp_name
from gvmgen.outputs import RESERVATIONS, STAGING_PREFIX

CUES = {f"takes/take-01/cue-0{i}.wav" for i in range(1, BATCH_CUES + 1)}
EVERYTHING = {"score.otio", "report.json", "report.png", "cue_sheet.csv", *CUES}


def visible(out: Path) -> set[str]:
    """Every file an editor browsing --out sees: all but the hidden stage and reservations."""
    if not out.exists():
        return set()
    found = set()
    for path in out.rglob("*"):
        relative = path.relative_to(out)
        if relative.parts[0].startswith(STAGING_PREFIX) or relative.parts[0] == RESERVATIONS:
            continue
        if path.is_file() or path.is_symlink():
            found.add(relative.as_posix())
    return found


def leftovers(out: Path) -> list[str]:
    """Stages and reservations still in --out."""
    return sorted(
        p.name for p in out.iterdir() if p.name.startswith(STAGING_PREFIX) or p.name == RESERVATIONS
    )


def watch(data: Path, job_id: str) -> list:
    with Client(find_endpoint(data)) as client:
        return list(client.follow("watch", {"job_id": job_id}, deadline=time.monotonic() + 120))


def marks_of(marks: Path) -> list[str]:
    """The hooks' marks, without their times."""
    lines = marks.read_text().splitlines() if marks.exists() else []
    return [line.split(" ", 1)[1] for line in lines]


def kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def test_kill_9_while_a_cue_wav_is_written_leaves_no_temp_file_in_the_take(
    spawn, tmp_path, batch_timeline
):
    """Row 1: the half-written temp file stays in the stage, and the resumed job's take holds
    exactly its cues."""
    data, calls, out, marks = (tmp_path / n for n in ("data", "calls", "out", "marks"))
    server = spawn(data, calls, hooks={"marks": str(marks), "stall": "wav"}, steps=0)
    job = submit_batch(data, batch_timeline, out)
    wait_for(lambda: marks_of(marks))
    temp = Path(marks_of(marks)[0].removeprefix("writing "))
    assert temp.exists() and is_temp_name(temp.name)
    assert temp.is_relative_to(out / f"{STAGING_PREFIX}{job}")  # a temp file never leaves it
    assert visible(out) == set()
    kill(server)
    assert visible(out) == set()

    spawn(data, calls, steps=0)
    assert watch(data, job)[-1][0] == "done"
    assert visible(out) == EVERYTHING
    assert not any(is_temp_name(p.name) for p in out.rglob("*"))
    assert all(sf.info(out / wav).frames > 0 for wav in CUES)
    assert leftovers(out) == []


def test_kill_9_between_two_renames_shows_the_whole_take_and_a_restart_finishes_it(
    spawn, tmp_path, batch_timeline
):
    """Row 2: killed after the take folder was renamed in, before report.json: the folder
    shows the whole take (never a part of it) and no report; the restarted server finishes
    the commit before anything else, and the job is done without rendering a cue again."""
    data, calls, out, marks = (tmp_path / n for n in ("data", "calls", "out", "marks"))
    server = spawn(data, calls, hooks={"marks": str(marks), "slow_moves": 30.0}, steps=0)
    job = submit_batch(data, batch_timeline, out)
    wait_for(lambda: marks_of(marks), 90)
    assert marks_of(marks) == [f"moved {out / 'takes'}"]
    assert visible(out) == CUES  # the whole take: one rename made it appear
    kill(server)
    assert visible(out) == CUES

    calls.write_text("")
    spawn(data, calls, steps=0)
    assert visible(out) == EVERYTHING  # finished at start, before the job ran again
    assert watch(data, job)[-1][0] == "done"
    assert calls.read_text() == ""  # no cue rendered twice
    assert json.loads((out / "report.json").read_text())["job_id"] == job
    assert leftovers(out) == []
    assert "finished the commit job" in (data / "serve.log").read_text()


def test_a_half_made_commit_is_finished_by_the_next_run_in_the_folder(
    spawn, tmp_path, batch_timeline
):
    """Row 2, no restart: the next job in that folder finishes the killed job's commit first,
    so its report lists both takes."""
    from gvmgen.pipeline import score

    data, calls, out, marks = (tmp_path / n for n in ("data", "calls", "out", "marks"))
    server = spawn(data, calls, hooks={"marks": str(marks), "slow_moves": 30.0}, steps=0)
    job = submit_batch(data, batch_timeline, out)
    wait_for(lambda: marks_of(marks), 90)
    kill(server)

    request = {"input": str(batch_timeline), "out_dir": str(out), "engine": "arranger"}
    result = score({**request, "mode": "batch", "job_id": "next-run"})
    assert result.take == 2
    assert [t.job_id for t in result.takes] == [job, "next-run"]
    assert {
        f"takes/take-02/cue-0{i}.wav" for i in range(1, BATCH_CUES + 1)
    } | EVERYTHING == visible(out)
    assert leftovers(out) == []


def test_kill_9_during_cleanup_leaves_no_stage_or_reservation_after_restart(
    spawn, tmp_path, batch_timeline
):
    """Row 3: every file in place, the reservation dropped, the stage not yet removed: the
    restart removes the stage (with a log line), and the job is done as it was."""
    data, calls, out, marks = (tmp_path / n for n in ("data", "calls", "out", "marks"))
    server = spawn(data, calls, hooks={"marks": str(marks), "stall": "cleanup"}, steps=0)
    job = submit_batch(data, batch_timeline, out)
    wait_for(lambda: marks_of(marks), 90)
    assert visible(out) == EVERYTHING
    kill(server)
    assert leftovers(out) == [f"{STAGING_PREFIX}{job}"]

    calls.write_text("")
    spawn(data, calls, steps=0)
    assert leftovers(out) == []
    assert f"finished the commit job {job} began in {out}" in (data / "serve.log").read_text()
    done = watch(data, job)
    assert done[-1][0] == "done" and done[-1][1]["result"]["take"] == 1
    assert calls.read_text() == ""
    assert visible(out) == EVERYTHING
