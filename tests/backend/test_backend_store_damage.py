"""The job store detects damage and never starts silently empty; one server per store
(issue 21, rows 8 and 12).

A counting server accepts 30 jobs and is killed (kill -9) while the first runs, so the last
changes are still in SQLite's WAL. The store is then damaged as a disk, a power cut or a
careless hand would, and a server restarted on the data dir must still know all 30 jobs, by
their ids and their idempotency keys, and say what it found.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from backend_helpers import wait_for
from gvmgen_backend.client import Client, find_endpoint
from gvmgen_backend.datadir import STORE_NAME

JOBS = 30


def _accept_jobs_then_kill(spawn, data: Path, clip: Path, out: Path) -> dict[str, str]:
    """key -> job id of JOBS accepted jobs; the server killed while the first runs."""
    server = spawn(data, data.parent / "calls", steps=50, step_seconds=0.1)
    out.mkdir()
    keys = {}
    with Client(find_endpoint(data)) as client:
        for i in range(JOBS):
            body = {
                "input": str(clip),
                "out_dir": str(out / f"o{i}"),
                "engine": "arranger",
                "key": f"key-{i}",
                "watch": False,
            }
            keys[body["key"]] = client.request("submit", body)[1]["job_id"]
        wait_for(lambda: client.request("list", {"state": "running"})[1]["jobs"])
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)
    assert Path(f"{data / STORE_NAME}-wal").stat().st_size > 0  # changes not yet checkpointed
    return keys


def _damage(data: Path, how: str) -> None:
    store = data / STORE_NAME
    wal = Path(f"{store}-wal")
    if how == "emptied":
        store.write_bytes(b"")
        wal.unlink()
    elif how == "wal deleted":
        wal.unlink()
    elif how == "garbage in the wal":
        size = wal.stat().st_size
        with open(wal, "r+b") as handle:
            handle.seek(size // 3)
            handle.write(os.urandom(size // 3))
    elif how == "half-truncated":  # a store long in use: its pages are in the file itself
        db = sqlite3.connect(store)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        assert store.stat().st_size >= 4 * 4096
        os.truncate(store, store.stat().st_size // 2)


@pytest.mark.parametrize("how", ["emptied", "wal deleted", "garbage in the wal", "half-truncated"])
def test_a_damaged_store_comes_back_whole_from_the_journal(spawn, tmp_path, clip, how):
    data = tmp_path / "data"
    keys = _accept_jobs_then_kill(spawn, data, clip, tmp_path / "out")
    _damage(data, how)

    server = spawn(data, tmp_path / "calls", steps=50, step_seconds=0.1)
    with Client(find_endpoint(data)) as client:
        jobs = client.request("list", {"limit": 1000})[1]["jobs"]
        assert sorted(j["job_id"] for j in jobs) == sorted(keys.values())  # none lost
        again = {"input": str(clip), "out_dir": str(tmp_path / "out" / "o5"), "engine": "arranger"}
        reply = client.request("submit", {**again, "key": "key-5", "watch": False})[1]
        assert reply == {"job_id": keys["key-5"], "duplicate": True}  # the key still holds
        fresh = client.request("submit", {**again, "key": uuid.uuid4().hex, "watch": False})
        assert fresh[1]["duplicate"] is False
    os.kill(server.pid, signal.SIGKILL)
    server.wait(10)

    log = (data / "serve.log").read_text()
    assert "Traceback" not in log
    if how == "half-truncated":
        kept = list(data.glob(f"{STORE_NAME}.damaged-*"))
        assert len(kept) == 1 and f"moved it to {kept[0]}" in log
    else:
        assert "put them back" in log  # said, not silent


def test_a_damaged_store_without_a_journal_refuses_to_start_with_one_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / STORE_NAME).write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    started = subprocess.run(
        [sys.executable, "-m", "gvmgen.cli", "serve", "--data-dir", str(data), "--engine",
         "arranger", "--bind", "tcp://127.0.0.1:*"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 2, started
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1 and str(data / STORE_NAME) in lines[0]
    assert "no journal" in lines[0] and "Traceback" not in started.stderr
    assert (data / STORE_NAME).exists()  # nothing changed


def test_one_server_per_data_dir_even_with_every_lock_file_deleted(spawn, tmp_path, clip):
    """Row 12: the lock is on the data dir itself; nothing deleted in it lets a second
    server take the store, and the first one's job goes on."""
    data = tmp_path / "data"
    first = spawn(data, tmp_path / "calls", steps=10, step_seconds=0.1)
    with Client(find_endpoint(data)) as client:
        body = {"input": str(clip), "out_dir": str(tmp_path / "o"), "engine": "arranger"}
        job = client.request("submit", {**body, "key": "k", "watch": False})[1]["job_id"]
    for name in ("server.lock", "server.json"):
        (data / name).unlink(missing_ok=True)
    second = subprocess.run(
        [sys.executable, "-m", "gvmgen.cli", "serve", "--data-dir", str(data), "--engine",
         "arranger", "--bind", "tcp://127.0.0.1:*"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert second.returncode == 2
    assert f"another server already runs on data dir {str(data)!r}" in second.stderr
    assert first.poll() is None
    from gvmgen_backend.store import JobStore

    store = JobStore(data / STORE_NAME)
    try:
        wait_for(lambda: store.get(job).state == "done", 90)
        assert store.get(job).attempts == 1  # never taken over
    finally:
        store.close()
