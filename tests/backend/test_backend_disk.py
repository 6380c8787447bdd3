"""A full disk is `output_not_writable`, with the space needed and free, said up front when
the job's scratch cannot fit, and nothing left behind (issue 21, row 10).

The disk's free space is made small by a tmpfs of 1 MB where the tests may mount one (as
root with CAP_SYS_ADMIN), and by a patched free-space reading everywhere; a write that fails
for want of space is a real ENOSPC on the tmpfs, and a patched checkpoint write elsewhere.
"""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from backend_helpers import follow_all

from gvmgen import outputs


def _body(clip: Path, out: Path) -> dict:
    return {"input": str(clip), "out_dir": str(out), "engine": "arranger", "key": uuid.uuid4().hex}


def _full_disk_failure(server, clip: Path, out: Path) -> dict:
    with server.client() as client:
        event = follow_all(client, "submit", _body(clip, out))[-1]
        assert client.request("ping", {})[0] == "pong"  # the server serves on
    assert event[0] == "failed", event
    error = event[1]["error"]
    assert (error["code"], error["field"]) == ("output_not_writable", "out_dir"), error
    assert "the disk is full" in error["message"] and "free" in error["message"]
    return error


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str):
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if mounted.returncode != 0 or shutil.which("umount") is None:
        pytest.skip("cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_job_its_disk_cannot_hold_is_refused_up_front(server, clip, tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "free_bytes", lambda folder: 5_000_000)
    out = tmp_path / "out"
    error = _full_disk_failure(server, clip, out)
    assert re.search(r"about \d+ MB needed, 5 MB free", error["message"]), error
    assert not out.exists()  # nothing was written, not even the folder


def test_a_disk_filling_up_mid_job_fails_it_cleanly(server, clip, tmp_path, monkeypatch):
    """The estimate said yes; the disk filled up anyway (another program): the checkpoint
    write fails with ENOSPC, and the job fails as output_not_writable, leaving nothing."""
    out = tmp_path / "out"
    monkeypatch.setattr(outputs, "free_bytes", lambda folder: 0 if folder == out else 10**12)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs, "check_space", lambda folder, needed: None)
    monkeypatch.setattr(outputs.Job, "save_cue", no_space)
    error = _full_disk_failure(server, clip, out)
    assert "0 kB free" in error["message"]
    assert not out.exists()


def test_a_real_full_disk_up_front_and_mid_job(server, clip, tmp_path, monkeypatch):
    with _tmpfs(tmp_path / "small", "1m") as small:
        error = _full_disk_failure(server, clip, small / "out")
        assert "MB needed" in error["message"] and "free)" in error["message"]
        assert list(small.iterdir()) == []

        monkeypatch.setattr(outputs, "check_space", lambda folder, needed: None)
        _full_disk_failure(server, clip, small / "out")  # a real ENOSPC while writing
        assert list(small.iterdir()) == []  # the stage and the folder it made, gone


@pytest.mark.parametrize("options", [{"takes": 3}, {"takes": 2, "stems": True}])
def test_the_estimate_covers_what_a_job_holds_at_its_peak(clip, tmp_path, monkeypatch, options):
    """Its WAVs (stems too), checkpoints and outputs, all in the stage just before the
    commit; and not so far above it that a disk that could hold the job is refused."""
    from gvmgen.pipeline import score

    estimates, peaks = [], []
    check, commit = outputs.check_space, outputs.Job.commit

    def recording_check(folder, needed):
        estimates.append(needed)
        return check(folder, needed)

    def measuring_commit(job):
        peaks.append(sum(p.stat().st_size for p in job.stage.rglob("*") if p.is_file()))
        return commit(job)

    monkeypatch.setattr(outputs, "check_space", recording_check)
    monkeypatch.setattr(outputs.Job, "commit", measuring_commit)
    request = {"input": str(clip), "out_dir": str(tmp_path / "out"), "engine": "arranger"}
    score({**request, **options})
    assert len(estimates) == len(peaks) == 1
    assert peaks[0] <= estimates[0] <= 2 * peaks[0] + 20_000_000, (peaks, estimates)
