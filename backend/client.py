"""The client: a DEALER socket with Lazy Pirate retries, and job streams with heartbeats.

Every request carries an id; a reply to any other id is ignored. A request that hears nothing
for `REQUEST_TIMEOUT_SECONDS` is re-sent (same id, same submit key, so a retry never makes a
second job), `REQUEST_RETRIES` times. While a job is followed, the server sends a heartbeat
every second; `LIVENESS_SECONDS` of silence and the client re-sends its watch (on a new socket
when the connection broke or a restarted server moved: server.json is read again).

Silence is told apart from absence:
  - the server is gone: its process (server.json's pid) has ended and no server took its
    place, or, with `--connect`, nothing accepts the connection: `BackendUnreachable` after
    the Lazy Pirate tries;
  - the server is stalled (stopped, swapping, a long pause): its process is alive or the
    connection stands. With `patience`, the client waits up to that long, calling `notice`
    now and then ("no answer from the backend for 12 s, still waiting…"), and then gives up
    with `BackendUnreachable` naming the job to watch later.
A server that refuses this client's keys is `KeyMismatch`, naming the client's key file and
data dir: its `unauthorized` reply (which the client cannot verify: it is signed with the
server's key, but it came through the CURVE channel only the real server can speak on), or a
CURVE handshake it refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import zmq
from gvmgen_backend import datadir, security
from gvmgen_backend.protocol import TERMINAL_EVENTS, ProtocolError, decode, encode

from gvmgen.errors import GVMGenError

REQUEST_TIMEOUT_SECONDS = 2.5  # zguide's Lazy Pirate value
REQUEST_RETRIES = 3
LIVENESS_SECONDS = 3.0  # three missed heartbeats: re-send the watch
PATIENCE_SECONDS = 120.0  # the command line's default wait for a stalled server
FIRST_NOTICE_SECONDS = 6.0  # then at 12, 24, 48 … s of silence
CLIENT_MAX_MESSAGE_BYTES = 64 << 20  # a batch job's result can be large
SPAWN_WAIT_SECONDS = 60.0
HANDSHAKE_FAILURES = 3  # refused CURVE handshakes in a row that mean the keys do not match

Notice = Callable[[str], None]


class BackendUnreachable(GVMGenError):
    code = "backend_unreachable"


class KeyMismatch(GVMGenError):
    """The server answered, and refused this client's key."""

    code = "unauthorized"


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
    data_dir: Path | None = None  # where the key came from (named when the keys mismatch)
    pid: int | None = None  # the server's process, from server.json
    fixed: bool = False  # --connect: the address never moves


def find_endpoint(data_dir: Path, connect: str | None = None) -> Endpoint:
    """The server's address (server.json, or --connect) and the keys from the data dir."""
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
    if not files.client_ready():
        raise BackendUnreachable(
            f"the server at {address} needs CURVE keys: put client.key_secret and server.key "
            f"(from the server's data dir, made by its first start or `gvmgen keys generate`) "
            f"in {str(files.folder)!r}"
        )
    _check_server_key(info, files, data_dir)
    pid = (info or {}).get("pid") if connect is None else None
    pid = pid if isinstance(pid, int) else None
    return Endpoint(address, key, files, data_dir, pid, fixed=bool(connect))


def _check_server_key(info: dict | None, files: security.CurveFiles, data_dir: Path) -> None:
    """`KeyMismatch` when server.json names another server key than curve/server.key: the
    handshake could only fail, and libzmq would not say why."""
    published = (info or {}).get("curve_public")
    if not isinstance(published, str):
        return
    try:
        ours = security.server_public_key(files)
    except (OSError, ValueError):
        return  # unreadable: the handshake says the rest
    if ours != published:
        raise KeyMismatch(
            f"the backend's CURVE key is not the one in {str(files.folder / 'server.key')!r} "
            f"(client data dir {str(data_dir)!r})",
            hint="copy the server's curve/server.key (and its key file) into the client's data "
            "dir, or run the client with the server's data dir",
        )


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
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that has ended and waits for its parent to read its status (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class _Watched:
    """A DEALER and what its monitor says about the connection: did the TCP connection and
    the CURVE handshake succeed, was the handshake refused."""

    EVENTS = (
        zmq.EVENT_CONNECTED
        | zmq.EVENT_DISCONNECTED
        | zmq.EVENT_HANDSHAKE_SUCCEEDED
        | zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    )

    def __init__(self, context: zmq.Context, endpoint: Endpoint):
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, CLIENT_MAX_MESSAGE_BYTES)
        if endpoint.curve is not None:
            security.make_curve_client(self.socket, endpoint.curve)
        # no handshake timeout here: a stalled server must not look like one refusing us
        self.socket.setsockopt(zmq.HANDSHAKE_IVL, 0)
        self.monitor = self.socket.get_monitor_socket(self.EVENTS)
        self.address = endpoint.address
        self.socket.connect(endpoint.address)
        self.connected = self.shook_hands = False
        self.refused_handshakes = 0  # since the last one that succeeded
        self.auth_refused = False

    def read_events(self) -> None:
        from zmq.utils.monitor import parse_monitor_message

        while self.monitor.poll(0):
            event = parse_monitor_message(self.monitor.recv_multipart())["event"]
            if event == zmq.EVENT_CONNECTED:
                self.connected = True
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.shook_hands, self.refused_handshakes = True, 0
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.auth_refused = True
            elif event in (
                zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
            ):  # a server key that is not this server's, or a connection refused by its guard
                self.refused_handshakes += 1

    def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            self.socket.disable_monitor()
        self.monitor.close(0)
        self.socket.close(0)


class Client:
    def __init__(
        self,
        endpoint: Endpoint,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        retries: int = REQUEST_RETRIES,
        context: zmq.Context | None = None,
        patience: float | None = None,
        notice: Notice | None = None,
    ):
        """`patience`: how long to wait for a stalled server (None: give up after the Lazy
        Pirate tries, as a probe should); `notice` hears what the client is waiting for."""
        self.endpoint, self.timeout, self.retries = endpoint, timeout, retries
        self.patience, self.notice = patience, notice or (lambda text: None)
        self.context = context or zmq.Context.instance()
        self.conn: _Watched | None = None

    @property
    def socket(self) -> zmq.Socket | None:
        return None if self.conn is None else self.conn.socket

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- one request, one reply ----

    def request(self, msg_type: str, body: dict, msg_id: str | None = None) -> tuple[str, dict]:
        """(reply type, body); `RequestRefused` for an error reply, `KeyMismatch` when the
        server refuses our keys, `BackendUnreachable` when it is gone (or silent past the
        patience)."""
        msg_id = msg_id or uuid.uuid4().hex
        message = encode(self.endpoint.key, msg_type, msg_id, body)
        silence = _Silence(self, None)
        self._send(message)
        while True:
            reply = self._receive({msg_id}, self.timeout)
            if reply is not None:
                return _checked(reply)
            silence.tried(self.timeout)
            self._reconnect()  # Lazy Pirate: a stuck socket is thrown away, not reused
            self._send(message)

    # ---- a job's stream ----

    def follow(self, msg_type: str, body: dict, deadline: float | None = None) -> Iterator:
        """Send submit or watch and yield (type, body) until the job's terminal event.

        Heartbeats are not yielded, and `fraction` never goes down, even across a server
        restart. If the server goes silent, the same message is re-sent (submit before it was
        accepted: same key; afterwards: a watch of the job).
        """
        ids = {uuid.uuid4().hex}
        message = encode(self.endpoint.key, msg_type, next(iter(ids)), body)
        silence = _Silence(self, body.get("job_id"), liveness=True)
        seen = 0.0
        self._send(message)
        while True:
            wait = LIVENESS_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return
            reply = self._receive(ids, wait)
            if reply is None:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                silence.tried(wait)
                self._reconnect_if_broken()
                self._send(message)
                continue
            silence.heard()
            reply_type, reply_body = _checked(reply)
            if reply_type == "accepted" and silence.job_id is not None:
                continue  # a re-sent submit answered again: the job is the same
            if reply_type == "accepted":  # from now on a reconnect watches the job
                silence.job_id = reply_body["job_id"]
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

    # ---- sockets ----

    def _send(self, message: bytes) -> None:
        if self.conn is None:
            self._connect()
        self.conn.socket.send(message)

    def _receive(self, ids: set[str], timeout: float) -> tuple[str, dict] | None:
        """The next authentic message for one of `ids` within `timeout` seconds, or None."""
        end = time.monotonic() + timeout
        socket = self.conn.socket
        while (left := end - time.monotonic()) > 0:
            # a receive timeout, not poll(): pyzmq builds a Poller per poll() call
            socket.setsockopt(zmq.RCVTIMEO, max(1, round(left * 1000)))
            try:
                frame = socket.recv()
            except zmq.Again:
                return None
            try:
                envelope = decode(self.endpoint.key, frame)
            except ProtocolError:
                self._refused_our_key(frame, ids)
                continue  # not signed by our server: ignore it, as Lazy Pirate ignores strays
            if envelope.id in ids:
                return envelope.type, envelope.body
        return None

    def _refused_our_key(self, frame: bytes, ids: set[str]) -> None:
        """`KeyMismatch` when `frame` is the server's `unauthorized` answer to our request:
        it cannot be verified with our key, which is the point."""
        try:
            message = json.loads(frame)
            refused = (
                message.get("type") == "error"
                and message.get("id") in ids
                and message.get("body", {}).get("code") == "unauthorized"
            )
        except (ValueError, AttributeError):
            return
        if refused:
            raise self._key_mismatch(
                f"key file {str(self._key_file())!r} is not the one the server uses"
            )

    def _connect(self) -> None:
        self.conn = _Watched(self.context, self.endpoint)

    def _reconnect(self) -> None:
        self.close()
        self._follow_a_restart()
        self._connect()

    def _reconnect_if_broken(self) -> None:
        """A new socket when the connection is not standing (or a restarted server moved);
        a stalled server's connection is kept: it still holds our place in its queue."""
        self.conn.read_events()
        alive = self.server_alive()  # reads server.json again: a restart may have moved it
        if self.conn.address != self.endpoint.address or not self.conn.shook_hands or not alive:
            self._reconnect()

    def _follow_a_restart(self) -> bool:
        """Read server.json again: a restarted server may listen elsewhere. True if it moved."""
        ep = self.endpoint
        if ep.fixed or ep.data_dir is None:
            return False
        info = datadir.read_server_info(ep.data_dir)
        if info is None or info.get("pid") == ep.pid or not _alive(info.get("pid")):
            return False
        self.endpoint = Endpoint(info["address"], ep.key, ep.curve, ep.data_dir, info["pid"])
        return True

    def server_alive(self) -> bool:
        """Whether the server may still answer: its process lives (when known), else the
        connection to it stands."""
        self._follow_a_restart()
        if self.endpoint.pid is not None:
            return _alive(self.endpoint.pid)
        self.conn.read_events()
        never_in = not self.conn.shook_hands and self.conn.refused_handshakes >= HANDSHAKE_FAILURES
        return self.conn.connected and not never_in

    def check_keys(self) -> None:
        """`KeyMismatch` when the server refused this client's CURVE key."""
        self.conn.read_events()
        if self.conn.auth_refused:
            raise self._key_mismatch(
                f"its CURVE key list does not hold this client's key "
                f"{str(self.endpoint.curve.client_secret)!r}"
            )

    def _key_file(self) -> Path:
        return (self.endpoint.data_dir or Path(".")) / datadir.KEY_NAME

    def _key_mismatch(self, why: str) -> KeyMismatch:
        data_dir = self.endpoint.data_dir
        return KeyMismatch(
            f"the backend at {self.endpoint.address} refused this client's keys: {why} "
            f"(client data dir {str(data_dir)!r})",
            hint="run the client with the server's data dir (--data-dir, or $GVMGEN_DATA_DIR), "
            "or copy the server's key file and curve/ keys into the client's data dir",
        )

    def _unreachable(self, job_id: str | None, silent: float | None) -> BackendUnreachable:
        later = (
            f"; job {job_id} is kept and goes on when a server runs: "
            f"`gvmgen client watch {job_id}` follows it"
            if job_id
            else ""
        )
        if silent is not None:
            return BackendUnreachable(
                f"no answer from the backend at {self.endpoint.address} for {silent:.0f} s "
                f"(--patience){later}"
            )
        failed = self.conn.refused_handshakes if self.conn is not None else 0
        keys = (
            f"; {failed} encrypted handshake(s) failed: is "
            f"{str(self.endpoint.curve.folder / 'server.key')!r} this server's key?"
            if failed and not self.conn.shook_hands
            else ""
        )
        return BackendUnreachable(
            f"no GVMGen backend answers at {self.endpoint.address}; start it with "
            f"`gvmgen serve` (or pass --spawn){keys}{later}"
        )


class _Silence:
    """How long the server has said nothing, and what to do about it: tell the user, wait
    (a stalled server, within the patience), or give up (gone, or past the patience)."""

    def __init__(self, client: Client, job_id: str | None, liveness: bool = False):
        self.client, self.job_id, self.liveness = client, job_id, liveness
        self.heard()

    def heard(self) -> None:
        self.since = time.monotonic()
        self.tries = 0
        self.next_notice = FIRST_NOTICE_SECONDS

    def tried(self, waited: float) -> None:
        """One wait ended in silence: raise, or return to wait again."""
        client = self.client
        self.tries += 1
        client.check_keys()
        silent = time.monotonic() - self.since
        gone = not client.server_alive()
        if client.patience is None or gone:
            if self.tries >= client.retries:
                raise client._unreachable(self.job_id, None)
            return
        if silent >= client.patience:
            raise client._unreachable(self.job_id, silent)
        if silent >= self.next_notice:
            self.next_notice *= 2
            what = "the job keeps running" if self.job_id or self.liveness else "nothing is lost"
            client.notice(
                f"no answer from the backend for {silent:.0f} s, still waiting; Ctrl-C to stop "
                f"waiting, {what}"
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
