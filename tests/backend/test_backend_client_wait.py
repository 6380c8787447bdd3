"""The client rides out a stalled server, gives up only on a gone one, and names wrong keys
(issue 21, row 9, and "wrong keys are named as such").

`gvmgen client` runs as its own process, as the Resolve scripts run it; the server is a
counting server in its own process, stopped with SIGSTOP (a stall: alive, silent) or killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from backend_helpers import submit_batch
from gvmgen_backend.security import generate_keys


def _client(*args: str, json_lines: bool = True) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gvmgen.cli", "client", *args, *["--json-lines"] * json_lines],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_progress(watcher: subprocess.Popen) -> dict:
    while True:
        line = json.loads(watcher.stdout.readline())
        if line["type"] == "progress":
            return line


def _finish(watcher: subprocess.Popen, seconds: float = 120) -> tuple[int, list[dict], str]:
    out, err = watcher.communicate(timeout=seconds)
    return watcher.returncode, [json.loads(line) for line in out.splitlines()], err


def test_a_client_rides_out_a_server_stopped_for_10_s(spawn, tmp_path, batch_timeline):
    """Row 9: SIGSTOP for 10 s while `watch` follows the job: the client says it is still
    waiting, and exits 0 with the job's result when the server goes on."""
    data = tmp_path / "data"
    server = spawn(data, tmp_path / "calls", steps=10, step_seconds=0.1)
    job = submit_batch(data, batch_timeline, tmp_path / "out")
    watcher = _client("watch", job, "--data-dir", str(data))
    _first_progress(watcher)
    os.kill(server.pid, signal.SIGSTOP)
    time.sleep(10)
    os.kill(server.pid, signal.SIGCONT)
    code, lines, err = _finish(watcher)
    assert code == 0 and lines[-1]["type"] == "done", (code, lines[-1:], err)
    assert (
        "no answer from the backend for 6 s, still waiting; Ctrl-C to stop waiting, "
        "the job keeps running" in err
    )
    assert all(line["type"] != "error" for line in lines)


def test_a_client_gives_up_past_its_patience_and_names_the_job(spawn, tmp_path, batch_timeline):
    data = tmp_path / "data"
    server = spawn(data, tmp_path / "calls", steps=10, step_seconds=0.1)
    job = submit_batch(data, batch_timeline, tmp_path / "out")
    watcher = _client("watch", job, "--data-dir", str(data), "--patience", "4")
    _first_progress(watcher)
    os.kill(server.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        code, lines, _ = _finish(watcher, 60)
        waited = time.monotonic() - began
    finally:
        os.kill(server.pid, signal.SIGCONT)
    assert code == 3 and lines[-1]["error"]["code"] == "backend_unreachable"
    message = lines[-1]["error"]["message"]
    assert "(--patience)" in message and f"gvmgen client watch {job}" in message
    assert 4 <= waited < 15


def test_a_client_exits_3_soon_when_the_server_is_really_gone(spawn, tmp_path, batch_timeline):
    data = tmp_path / "data"
    server = spawn(data, tmp_path / "calls", steps=10, step_seconds=0.1)
    job = submit_batch(data, batch_timeline, tmp_path / "out")
    watcher = _client("watch", job, "--data-dir", str(data))  # patience: the default 120 s
    _first_progress(watcher)
    os.kill(server.pid, signal.SIGKILL)
    began = time.monotonic()
    code, lines, _ = _finish(watcher, 60)
    assert code == 3 and time.monotonic() - began < 20  # not the patience: it is gone
    assert f"gvmgen client watch {job}" in lines[-1]["error"]["message"]


def _copy_client_side(data: Path, to: Path) -> Path:
    """What a client needs from a data dir: the key, server.json and its CURVE keys."""
    to.mkdir()
    for name in ("key", "server.json"):
        shutil.copy(data / name, to / name)
    shutil.copytree(data / "curve", to / "curve")
    return to


def _refused(data_dir: Path, server_data: Path) -> dict:
    began = time.monotonic()
    ping = _client("ping", "--data-dir", str(data_dir))
    code, lines, err = _finish(ping, 60)
    assert code == 2, (code, lines, err)
    error = lines[-1]["error"]
    assert error["code"] == "unauthorized"
    assert str(data_dir) in error["message"]  # the client's own data dir, named
    assert str(server_data) not in error["message"]  # and nothing of the server's
    assert time.monotonic() - began < 15
    return error


def test_a_wrong_key_file_is_named_as_a_key_mismatch(server, tmp_path):
    other = _copy_client_side(server.data_dir, tmp_path / "client-data")
    (other / "key").write_text(uuid.uuid4().hex * 2 + "\n")
    (other / "key").chmod(0o600)
    error = _refused(other, server.data_dir)
    assert f"key file {str(other / 'key')!r} is not the one the server uses" in error["message"]
    ping = _client("ping", "--data-dir", str(other), json_lines=False)  # as a person sees it
    out, err = ping.communicate(timeout=60)
    assert ping.returncode == 2 and out == ""
    assert len(err.splitlines()) == 1 and error["message"] in err, err  # one line, no traceback


def test_a_client_curve_key_the_server_does_not_accept_is_named(server, tmp_path):
    other = _copy_client_side(server.data_dir, tmp_path / "client-data")
    fresh = generate_keys(tmp_path / "elsewhere")  # a client key pair the server never saw
    shutil.copy(fresh.client_secret, other / "curve" / "client.key_secret")
    shutil.copy(fresh.folder / "client.key", other / "curve" / "client.key")
    error = _refused(other, server.data_dir)
    assert "client.key_secret" in error["message"]


def test_a_wrong_server_key_is_named(server, tmp_path):
    other = _copy_client_side(server.data_dir, tmp_path / "client-data")
    fresh = generate_keys(tmp_path / "elsewhere")
    shutil.copy(fresh.folder / "server.key", other / "curve" / "server.key")
    error = _refused(other, server.data_dir)
    assert "server.key" in error["message"]
