"""Helpers the backend tests share (conftest.py holds the fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

RATE = 25
LOOPBACK = "tcp://127.0.0.1:*"
SERVER_SCRIPT = Path(__file__).with_name("counting_server.py")
STEPS, STEP_SECONDS = 10, 0.1  # one second per cue
BATCH_CUES, BATCH_SECONDS = 3, 8.0  # batch_timeline's cues (seeds 0-2) and length
GRACE = 20.0  # SIGTERM: the server's wait for the cue in progress (a cue takes a second)


def without_root_powers(argv: list[str]) -> list[str]:
    """`argv` run so that file permissions bind it: as root, without the capabilities that
    override them (setpriv); as anyone else, as it is."""
    import os
    import shutil

    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file permissions cannot bind a child")
    drop = "-dac_override,-dac_read_search,-fowner,-linux_immutable"
    return ["setpriv", "--bounding-set", drop, "--inh-caps", "-all", "--", *argv]


def wait_for(condition, seconds: float = 60.0):
    """The condition's first true value, polled every 50 ms; AssertionError past `seconds`."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def curve_dealer(endpoint):
    """A raw DEALER holding the data dir's CURVE client keys (the key holder, as a script would
    connect); the caller closes it."""
    import zmq
    from gvmgen_backend.security import make_curve_client

    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    make_curve_client(socket, endpoint.curve)
    socket.connect(endpoint.address)
    return socket


def follow_all(client, msg_type: str, body: dict, limit: float = 60.0) -> list[tuple[str, dict]]:
    import time

    return list(client.follow(msg_type, body, deadline=time.monotonic() + limit))


def submit_batch(data: Path, timeline: Path, out: Path) -> str:
    """Submit `timeline` as a batch on the arranger, not watched; the job id."""
    import uuid

    from gvmgen_backend.client import Client, find_endpoint

    body = {
        "input": str(timeline),
        "out_dir": str(out),
        "mode": "batch",
        "engine": "arranger",
        "key": uuid.uuid4().hex,
        "watch": False,
    }
    with Client(find_endpoint(data)) as client:
        return client.request("submit", body)[1]["job_id"]
