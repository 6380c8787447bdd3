"""The client: a DEALER socket with Lazy Pirate retries, and job streams with heartbeats.

Every request carries an id; a reply to any other id is ignored. A request that hears nothing
for `REQUEST_TIMEOUT_SECONDS` is re-sent (same id, same submit key, so a retry never makes a
second job) on a fresh socket, `REQUEST_RETRIES` times, then `BackendUnreachable`. While a job
is followed, the server sends a heartbeat every second; `LIVENESS_SECONDS` of silence means the
server is gone, and the client reconnects and watches the job again with bounded retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import zmq
from gvmgen_backend import datadir, security
from gvmgen_backend.protocol import TERMINAL_EVENTS, ProtocolError, decode, encode

from gvmgen.errors import GVMGenError

REQUEST_TIMEOUT_SECONDS = 2.5  # zguide's Lazy Pirate value
REQUEST_RETRIES = 3
LIVENESS_SECONDS = 3.0  # three missed heartbeats: the server is gone
CLIENT_MAX_MESSAGE_BYTES = 64 << 20  # a batch job's result can be large
SPAWN_WAIT_SECONDS = 60.0


class BackendUnreachable(GVMGenError):
    code = "backend_unreachable"


class RequestRefused(GVMGenError):
    """The server answered with an `error`; `error` is its body."""

    code = "invalid_request"

    def __init__(self, error: dict):
        super().__init__(error.get("message", "request refused"))
        self.error = error


@dataclass(frozen=True)
class Endpoint:
    address: str
    key: bytes
    curve: security.CurveFiles | None = None


def find_endpoint(data_dir: Path, connect: str | None = None) -> Endpoint:
    """The server's address (server.json, or --connect) and the key from the data dir."""
    info = datadir.read_server_info(data_dir)
    if connect is None and info is not None and not _alive(info.get("pid")):
        info = None  # left by a server that was killed: do not wait for it to answer
    address = connect or (info or {}).get("address")
    if address is None:
        raise BackendUnreachable(
            f"no GVMGen backend is running for data dir {str(data_dir)!r}; start it with "
            "`gvmgen serve` (or pass --spawn to start one)"
        )
    try:
        key = datadir.read_key(data_dir)
    except datadir.KeyFileError as error:
        raise BackendUnreachable(str(error)) from None
    files = security.curve_files(data_dir)
    use_curve = (info or {}).get("curve") or (connect and not security.is_loopback(connect))
    if use_curve and not files.client_ready():
        raise BackendUnreachable(
            f"the server at {address} needs CURVE keys: put client.key_secret and server.key "
            f"(from the server's `gvmgen keys generate`) in {str(files.folder)!r}"
        )
    return Endpoint(address, key, files if use_curve else None)


def _alive(pid) -> bool:
    """Whether process `pid` exists (POSIX; elsewhere assume it does and let ping tell)."""
    if not isinstance(pid, int) or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, though not our server
        return True
    return True


class Client:
    def __init__(
        self,
        endpoint: Endpoint,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        retries: int = REQUEST_RETRIES,
        context: zmq.Context | None = None,
    ):
        self.endpoint, self.timeout, self.retries = endpoint, timeout, retries
        self.context = context or zmq.Context.instance()
        self.socket: zmq.Socket | None = None

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close(0)
            self.socket = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one request, one reply ----

    def request(self, msg_type: str, body: dict, msg_id: str | None = None) -> tuple[str, dict]:
        """(reply type, body); `RequestRefused` for an error reply."""
        msg_id = msg_id or uuid.uuid4().hex
        message = encode(self.endpoint.key, msg_type, msg_id, body)
        for _ in range(self.retries):
            self._send(message)
            reply = self._receive({msg_id}, self.timeout)
            if reply is not None:
                return _checked(reply)
            self._reconnect()  # Lazy Pirate: a stuck socket is thrown away, not reused
        raise self._unreachable()

    # ---- a job's stream ----

    def follow(self, msg_type: str, body: dict, deadline: float | None = None) -> Iterator:
        """Send submit or watch and yield (type, body) until the job's terminal event.

        Heartbeats are not yielded, and `fraction` never goes down, even across a server
        restart. If the server goes silent, the same message is re-sent (submit before it was
        accepted: same key; afterwards: a watch of the job).
        """
        ids = {uuid.uuid4().hex}
        message = encode(self.endpoint.key, msg_type, next(iter(ids)), body)
        misses, seen = 0, 0.0
        self._send(message)
        while misses < self.retries:
            wait = (
                LIVENESS_SECONDS
                if deadline is None
                else min(LIVENESS_SECONDS, deadline - time.monotonic())
            )
            if wait <= 0:
                return
            reply = self._receive(ids, wait)
            if reply is None:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                misses += 1
                self._reconnect()
                self._send(message)
                continue
            misses = 0
            reply_type, reply_body = _checked(reply)
            if reply_type == "accepted":  # from now on a reconnect watches the job
                ids.add(watch_id := uuid.uuid4().hex)
                message = encode(
                    self.endpoint.key, "watch", watch_id, {"job_id": reply_body["job_id"]}
                )
            if reply_type == "heartbeat":
                continue
            if reply_type == "progress":  # a job resumed after a crash re-reports kept cues
                seen = reply_body["fraction"] = max(seen, reply_body.get("fraction", 0.0))
            yield reply_type, reply_body
            if reply_type in TERMINAL_EVENTS:
                return
        raise self._unreachable()

    # ---- sockets ----

    def _send(self, message: bytes) -> None:
        if self.socket is None:
            self._connect()
        self.socket.send(message)

    def _receive(self, ids: set[str], timeout: float) -> tuple[str, dict] | None:
        """The next authentic message for one of `ids` within `timeout` seconds, or None."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            # a receive timeout, not poll(): pyzmq builds a Poller per poll() call
            self.socket.setsockopt(zmq.RCVTIMEO, max(1, round(left * 1000)))
            try:
                frame = self.socket.recv()
            except zmq.Again:
                return None
            try:
                envelope = decode(self.endpoint.key, frame)
            except ProtocolError:
                continue  # not signed by our server: ignore it, as Lazy Pirate ignores strays
            if envelope.id in ids:
                return envelope.type, envelope.body
        return None

    def _connect(self) -> None:
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, CLIENT_MAX_MESSAGE_BYTES)
        if self.endpoint.curve is not None:
            security.make_curve_client(self.socket, self.endpoint.curve)
        self.socket.connect(self.endpoint.address)

    def _reconnect(self) -> None:
        self.close()
        self._connect()

    def _unreachable(self) -> BackendUnreachable:
        return BackendUnreachable(
            f"no GVMGen backend answers at {self.endpoint.address}; start it with "
            "`gvmgen serve` (or pass --spawn)"
        )


def _checked(reply: tuple[str, dict]) -> tuple[str, dict]:
    if reply[0] == "error":
        raise RequestRefused(reply[1])
    return reply


def serve_command(data_dir: Path, engine: str = "auto", bind: str | None = None) -> list[str]:
    """The `gvmgen serve` command line for `data_dir` (default: a free loopback port)."""
    return [
        sys.executable,
        "-m",
        "gvmgen.cli",
        "serve",
        "--data-dir",
        str(data_dir),
        "--engine",
        engine,
        "--bind",
        bind or "tcp://127.0.0.1:*",
    ]


def spawn_server(
    data_dir: Path,
    engine: str = "auto",
    bind: str | None = None,
    wait: float = SPAWN_WAIT_SECONDS,
) -> None:
    """Start `gvmgen serve` in the background for `data_dir` and wait until it answers ping.

    Without `bind` it takes a free loopback port: clients find it in server.json.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = serve_command(data_dir, engine, bind)
    log = open(data_dir / "spawn.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env=os.environ.copy(),
        )
    end = time.monotonic() + wait
    while time.monotonic() < end:
        if datadir.read_server_info(data_dir) is not None:
            try:
                with Client(find_endpoint(data_dir), timeout=1.0, retries=1) as client:
                    client.request("ping", {})
                return
            except BackendUnreachable:
                pass
        time.sleep(0.2)
    raise BackendUnreachable(
        f"started `gvmgen serve --data-dir {data_dir}` but it did not answer within "
        f"{wait:.0f} s; see {data_dir / 'spawn.log'} and {data_dir / datadir.LOG_NAME}"
    )


def event_line(event_type: str, body: dict) -> str:
    """The --json-lines form of a reply or event (docs/protocol.md, "Client output")."""
    if event_type == "progress":
        return json.dumps({"type": "progress", **body})
    return json.dumps({"type": event_type, **body})
