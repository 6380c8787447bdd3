"""Peers without the key cannot hurt jobs (issue 21, rows 5, 6 and 7).

Every connection runs CURVE with the data dir's keys, so a peer without them is dropped at the
handshake; connections past the limit the open files allow are refused; errors are answered
within a per-peer budget and never logged as tracebacks; serve.log is rotated by size.
Memory and open files are read from /proc (Linux), from servers in their own processes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import socket
import struct
import time
import uuid
from pathlib import Path

import pytest
import zmq
from backend_helpers import BATCH_CUES, curve_dealer, follow_all
from gvmgen_backend.client import PATIENCE_SECONDS, Client, find_endpoint
from gvmgen_backend.security import MAX_CONNECTIONS

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")

KEYLESS_LIMIT_BYTES = 50_000_000  # what a peer without the keys may make the server hold


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _address(data: Path) -> tuple[str, int]:
    host, port = json.loads((data / "server.json").read_text())["address"][6:].rsplit(":", 1)
    return host, int(port)


def _ping(data: Path) -> str:
    with Client(find_endpoint(data), patience=PATIENCE_SECONDS) as client:
        return client.request("ping", {})[0]


def _batch_body(timeline: Path, out: Path) -> dict:
    return {
        "input": str(timeline),
        "out_dir": str(out),
        "mode": "batch",
        "engine": "arranger",
        "key": uuid.uuid4().hex,
    }


def _limit_open_files(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


def test_1100_idle_connections_at_a_1024_file_limit_do_not_fail_a_job(
    spawn, tmp_path, batch_timeline
):
    """Row 5: the server's open files stay under its limit; the batch job is done, and the
    owner's ping is answered."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1400:
        pytest.skip("this process may not open 1,100 connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    data, out = tmp_path / "data", tmp_path / "out"
    server = spawn(data, tmp_path / "calls", preexec_fn=_limit_open_files(1024))
    with Client(find_endpoint(data)) as client:
        job = client.request("submit", {**_batch_body(batch_timeline, out), "watch": False})
    idle, most_open = [], 0
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(_address(data), timeout=5))
            if len(idle) % 100 == 0:
                most_open = max(most_open, _open_files(server.pid))
        assert _ping(data) == "pong"
        with Client(find_endpoint(data), patience=PATIENCE_SECONDS) as client:
            done = follow_all(client, "watch", {"job_id": job[1]["job_id"]}, 120)[-1]
        most_open = max(most_open, _open_files(server.pid))
    finally:
        for conn in idle:
            conn.close()
    assert done[0] == "done", done
    assert len(list((out / "takes" / "take-01").glob("*.wav"))) == BATCH_CUES
    assert most_open < 1024 - 256  # the job's headroom was never touched
    log = (data / "serve.log").read_text()
    assert "Too many open files" not in log and "refusing new ones" in log


def _zmtp_curve_greeting() -> bytes:
    """What a CURVE client sends first (ZMTP 3.0): the server then waits for its HELLO."""
    mechanism = b"CURVE".ljust(20, b"\x00")
    return b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + mechanism + b"\x00" + b"\x00" * 31


def test_keyless_peers_cannot_make_the_server_hold_50_mb(spawn, tmp_path):
    """Row 7: 12 keyless messages of 400 frames x 250 KB, then 400 connections each stalled
    in the middle of a 250 KB handshake frame: the server's memory grows by < 50 MB."""
    data = tmp_path / "data"
    server = spawn(data, tmp_path / "calls")
    assert _ping(data) == "pong"
    baseline, peak = _rss(server.pid), 0
    address = "tcp://{}:{}".format(*_address(data))
    context = zmq.Context()
    keyless, stalled = [], []
    try:
        for _ in range(12):  # NULL security, as any local program could connect
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(address)
            with contextlib.suppress(zmq.Again):  # queued for a handshake that never comes
                dealer.send_multipart([b"x" * 250_000] * 400, zmq.NOBLOCK, copy=False)
            keyless.append(dealer)
        frame = b"\x06" + struct.pack(">Q", 250_000)  # a command frame of 250 KB
        for _ in range(400):
            conn = socket.create_connection(_address(data), timeout=5)
            conn.setblocking(False)
            with contextlib.suppress(BlockingIOError):  # the rest waits in our buffer
                conn.send(_zmtp_curve_greeting() + frame + b"\x00" * 249_000)
            stalled.append(conn)
            if len(stalled) % 20 == 0:
                peak = max(peak, _rss(server.pid))
        for _ in range(40):
            peak = max(peak, _rss(server.pid))
            time.sleep(0.05)
        assert _ping(data) == "pong"
    finally:
        for conn in stalled:
            conn.close()
        context.destroy(linger=0)
    print(f"server memory: {baseline / 1e6:.0f} MB, at most {peak / 1e6:.0f} MB under attack")
    assert peak - baseline < KEYLESS_LIMIT_BYTES, (baseline, peak)
    assert MAX_CONNECTIONS * 256 * 1024 < KEYLESS_LIMIT_BYTES


def test_a_non_ascii_sig_is_unauthorized_and_logs_no_traceback(server):
    """Row 6: a peer with the transport keys but not the key file sends sig as text that is
    not hex: `unauthorized`, each within its budget, and serve.log gets no traceback."""
    endpoint = server.client().endpoint
    socket_ = curve_dealer(endpoint)
    message = {"v": 1, "id": "m", "type": "ping", "body": {}, "sig": "é" * 64}
    try:
        for _ in range(500):
            socket_.send(json.dumps(message, ensure_ascii=False).encode())
        replies = []
        while socket_.poll(1000):
            replies.append(json.loads(socket_.recv()))
    finally:
        socket_.close(0)
    assert len(replies) == 500
    assert {(r["type"], r["body"]["code"]) for r in replies} == {("error", "unauthorized")}
    assert all(str(server.data_dir) not in r["body"]["message"] for r in replies)
    log = server.data_dir / "serve.log"
    assert not log.exists() or "Traceback" not in log.read_text()


def test_serve_log_is_rotated_by_size(tmp_path, monkeypatch):
    from gvmgen.commands import serve

    monkeypatch.setattr(serve, "LOG_BYTES", 20_000)
    handler = serve.log_to(tmp_path / "serve.log")
    try:
        logger = logging.getLogger("gvmgen_backend.test")
        for i in range(2000):
            logger.info("line %d %s", i, "x" * 80)
    finally:
        serve.stop_logging_to(handler)
    logs = sorted(p.name for p in tmp_path.iterdir())
    assert logs == ["serve.log", *(f"serve.log.{i}" for i in range(1, serve.LOG_BACKUPS + 1))]
    assert all((tmp_path / name).stat().st_size <= 20_000 for name in logs)
    assert "line 1999" in (tmp_path / "serve.log").read_text()
