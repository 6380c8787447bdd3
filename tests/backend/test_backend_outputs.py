"""Writes cannot escape --out, odd folder names are refused up front, and a folder made
read-only mid-job fails the job cleanly and holds nothing for good (issue 21, rows 4, 11, 13).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from backend_helpers import follow_all, wait_for
from gvmgen_backend.client import Client, RequestRefused, find_endpoint
from test_backend_commit import leftovers, visible

from gvmgen.errors import OutputError
from gvmgen.outputs import STAGING_PREFIX


def _body(clip: Path, out) -> dict:
    return {"input": str(clip), "out_dir": str(out), "engine": "arranger", "key": uuid.uuid4().hex}


def _submit_and_follow(client, body: dict) -> tuple[str, dict]:
    return list(client.follow("submit", body, deadline=time.monotonic() + 90))[-1]


def _symlinked_takes(tmp_path: Path) -> tuple[Path, Path]:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "takes").symlink_to(elsewhere)
    return out, elsewhere


def _refuses_the_link(event: tuple[str, dict], out: Path, elsewhere: Path) -> None:
    kind, body = event
    assert kind == "failed", event
    error = body["error"]
    assert error["code"] == "output_not_writable" and error["field"] == "out_dir"
    assert str(out / "takes") in error["message"] and "symbolic link" in error["message"]
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    assert visible(out) == {"takes"} and leftovers(out) == []  # the link, as it was


def test_a_symlinked_takes_folder_is_refused_by_a_root_server(server, clip, tmp_path):
    """Row 4 as root: permissions would let root write anywhere; the link is refused anyway."""
    out, elsewhere = _symlinked_takes(tmp_path)
    with server.client() as client:
        _refuses_the_link(_submit_and_follow(client, _body(clip, out)), out, elsewhere)


def test_a_symlinked_takes_folder_is_refused_by_a_server_without_root_powers(spawn, tmp_path, clip):
    """Row 4 as a user bound by file permissions, with a link to a folder it may write."""
    out, elsewhere = _symlinked_takes(tmp_path)
    data = tmp_path / "data"
    spawn(data, tmp_path / "calls", steps=0, powerless=True)
    with Client(find_endpoint(data)) as client:
        _refuses_the_link(_submit_and_follow(client, _body(clip, out)), out, elsewhere)


def test_symlinked_stage_report_and_output_files_are_refused(clip, tmp_path):
    """The other names a job writes through: its stage, report.json and score.otio."""
    from gvmgen.pipeline import score

    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "keep.txt").write_text("mine")
    request = {"input": str(clip), "engine": "arranger", "job_id": "J1"}

    stage_out = tmp_path / "stage-link"
    stage_out.mkdir()
    (stage_out / f"{STAGING_PREFIX}J1").symlink_to(secret)
    with pytest.raises(OutputError, match="symbolic link"):
        score({**request, "out_dir": str(stage_out)})

    report_out = tmp_path / "report-link"
    report_out.mkdir()
    (report_out / "report.json").symlink_to(secret / "keep.txt")
    with pytest.raises(OutputError, match="symbolic link"):
        score({**request, "out_dir": str(report_out)})

    otio_out = tmp_path / "otio-link"
    otio_out.mkdir()
    (otio_out / "score.otio").symlink_to(secret / "score.otio")
    with pytest.raises(OutputError, match="symbolic link"):
        score({**request, "out_dir": str(otio_out)})
    assert leftovers(otio_out) == [] and visible(otio_out) == {"score.otio"}

    assert sorted(p.name for p in secret.iterdir()) == ["keep.txt"]
    assert (secret / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("out_dir", "words"),
    [
        ("/tmp/a\x00b", "NUL"),
        ("/tmp/" + "x" * 4000, "characters long"),
        ("/tmp/" + "y" * 300 + "/out", "longer than 255 bytes"),
        ("{missing}/../out", "does not exist"),
        ("{missing}/deeper/out", "does not exist"),
        ("../../escape", "leaves the data dir's outputs folder"),
    ],
)
def test_odd_out_dir_values_are_refused_up_front(server, clip, tmp_path, out_dir, words):
    """Row 13: each is invalid_request naming out_dir, and no job is stored."""
    out_dir = out_dir.format(missing=tmp_path / "missing")
    with server.client() as client, pytest.raises(RequestRefused) as refused:
        client.request("submit", _body(clip, out_dir))
    error = refused.value.error
    assert (error["code"], error["field"]) == ("invalid_request", "out_dir"), error
    assert words in error["message"]
    assert not (tmp_path / "missing").exists()
    with server.client() as client:
        assert client.request("list", {})[1]["jobs"] == []


def test_out_dir_through_a_link_and_dots_is_the_folder_the_os_means(server, clip, tmp_path):
    """Normalised before checking, as the file system reads it: `link/..` is the link
    target's parent, not the folder holding the link."""
    real_parent = tmp_path / "real" / "inner"
    real_parent.mkdir(parents=True)
    (tmp_path / "link").symlink_to(real_parent)
    body = _body(clip, f"{tmp_path}/link/../scored")
    with server.client() as client:
        done = follow_all(client, "submit", body)[-1]
    assert done[0] == "done"
    assert Path(done[1]["result"]["cues"][0]["wav"]).is_relative_to(tmp_path / "real" / "scored")
    assert not (tmp_path / "scored").exists()


def test_a_folder_made_read_only_mid_job_fails_cleanly_and_the_next_job_reclaims_it(
    spawn, tmp_path, batch_timeline
):
    """Row 11: the job fails with output_not_writable; once the folder is writable again the
    next job in it reclaims the failed job's stage (a log line) and makes take 1."""
    data, calls, out = tmp_path / "data", tmp_path / "calls", tmp_path / "out"
    spawn(data, calls, powerless=True)
    body = {
        "input": str(batch_timeline),
        "out_dir": str(out),
        "mode": "batch",
        "engine": "arranger",
        "key": uuid.uuid4().hex,
    }
    with Client(find_endpoint(data)) as client:
        job = client.request("submit", {**body, "watch": False})[1]["job_id"]
        wait_for(lambda: list((out / f"{STAGING_PREFIX}{job}").rglob("cue-01.npz")))
        out.chmod(0o555)
        try:
            failed = list(client.follow("watch", {"job_id": job}, time.monotonic() + 90))[-1]
        finally:
            out.chmod(0o755)
        assert failed[0] == "failed", failed
        assert failed[1]["error"]["code"] == "output_not_writable"
        assert str(out) in failed[1]["error"]["message"]
        assert visible(out) == set()

        again = follow_all(client, "submit", {**body, "key": uuid.uuid4().hex}, 90)[-1]
    assert again[0] == "done" and again[1]["result"]["take"] == 1
    assert leftovers(out) == []
    assert f"reclaimed the staging folder of job {job}" in (data / "serve.log").read_text()


def test_recover_reclaims_by_store_state_and_age_and_never_what_a_resume_needs(tmp_path, caplog):
    """Stages of jobs finished in the store, or untouched past the keep days, go (a log line
    each), with their reservations; a recent unknown stage, one kept for a resume, one of a
    queued job and one locked by its running job stay; a reservation nobody holds goes."""
    import json
    import logging
    import os

    from gvmgen.outputs import RESERVATIONS, folder_lock, recover

    out = tmp_path / "out"
    month_ago = time.time() - 40 * 86400
    for job, take, old in [
        ("done1", 1, False),
        ("old2", 2, True),
        ("fresh3", 3, False),
        ("resume4", 4, True),
        ("queued5", 5, True),
        ("running6", 6, True),
    ]:
        stage = out / f"{STAGING_PREFIX}{job}"
        (stage / "cues").mkdir(parents=True)
        (stage / "job.json").write_text(json.dumps({"fingerprint": "f", "takes": [[take, 0]]}))
        (out / RESERVATIONS / f"take-{take:02d}").mkdir(parents=True)
        if old:
            for path in (stage / "job.json", stage / "cues", stage):
                os.utime(path, (month_ago, month_ago))
    (out / RESERVATIONS / "take-07").mkdir()  # its job's stage is gone
    states = {"done1": "done", "queued5": "queued", "running6": "running"}
    running = folder_lock(out / f"{STAGING_PREFIX}running6")  # its job holds it
    with caplog.at_level(logging.INFO, "gvmgen.outputs"), running:
        lines = recover(out, states.get, keep_days=30, keep={"resume4"})
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)) == [
        f"{STAGING_PREFIX}{job}" for job in ("fresh3", "queued5", "resume4", "running6")
    ]
    assert sorted(p.name for p in (out / RESERVATIONS).iterdir()) == [
        "take-03",
        "take-04",
        "take-05",
        "take-06",
    ]
    assert len(lines) == 3 and lines == [r.getMessage() for r in caplog.records]
    assert "job done1" in lines[0] and "the job is done in the job store" in lines[0]
    assert "job old2" in lines[1] and "untouched for 40 days" in lines[1]
    assert "take 7" in lines[2] and "no job holds it" in lines[2]
