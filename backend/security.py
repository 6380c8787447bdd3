"""Who may talk to the server: CURVE on every connection, loopback included, and bounded
resources for anyone who connects.

The first `gvmgen serve` on a data dir (or `gvmgen keys generate`) writes, under DATA/curve/
(mode 0700):

    server.key, server.key_secret       the server's CURVE key pair
    client.key, client.key_secret       a client key pair for this workstation
    authorized/client.key               public keys the server accepts (copy more in here)

The ironhouse pattern: the server authenticates every client's public key through a
`ThreadAuthenticator`, and clients check the server's public key. A local user without the
keys (they are readable by the owner only, like the HMAC key file) cannot finish the
handshake: libzmq drops the connection before it has read a single message, so such a peer
can make the server hold at most one handshake frame (at most `MAX_MESSAGE_BYTES`) per
connection, for at most `HANDSHAKE_SECONDS`. The `ConnectionGuard` bounds the connections.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket as stdlib_socket
import time
from dataclasses import dataclass
from pathlib import Path

from gvmgen_backend.datadir import CURVE_NAME

from gvmgen.errors import GVMGenError

log = logging.getLogger("gvmgen_backend.security")

LOCAL_SCHEMES = ("ipc", "inproc")  # reachable only through this machine's file system / process
HANDSHAKE_SECONDS = 5.0  # a connection that has not finished its CURVE handshake is dropped
MAX_CONNECTIONS = 100  # × one handshake frame (256 KiB) each: 25 MB, under 50 MB for keyless peers
FILE_RESERVE = 256  # open files kept free for the running job (WAVs, media, the store, threads)
LISTEN_BACKLOG = 32  # connections the kernel holds before the server accepts them


class BindRefused(GVMGenError):
    """A non-loopback bind without CURVE keys: anyone on the network could submit."""

    code = "bind_refused"


@dataclass(frozen=True)
class CurveFiles:
    folder: Path

    @property
    def server_secret(self) -> Path:
        return self.folder / "server.key_secret"

    @property
    def client_secret(self) -> Path:
        return self.folder / "client.key_secret"

    @property
    def authorized(self) -> Path:
        return self.folder / "authorized"

    def exist(self) -> bool:
        """The server's side: its secret key and the folder of accepted client keys."""
        return self.server_secret.is_file() and self.authorized.is_dir()

    def client_ready(self) -> bool:
        """A client's side: its own key pair and the server's public key."""
        return self.client_secret.is_file() and (self.folder / "server.key").is_file()


def curve_files(data_dir: Path) -> CurveFiles:
    return CurveFiles(data_dir / CURVE_NAME)


def is_loopback(address: str) -> bool:
    """True for tcp://127.x / [::1] / localhost and for ipc:// and inproc:// endpoints."""
    scheme, _, rest = address.partition("://")
    if scheme in LOCAL_SCHEMES:
        return True
    if scheme != "tcp" or not rest:
        return False
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # "*", an interface name or a host name: not provably loopback
        return False


def check_bind(address: str, data_dir: Path) -> None:
    """`BindRefused` for an address other machines can reach when this data dir has no CURVE
    keys yet (a first start makes them only for loopback: opening the server to the network
    is a choice made with `gvmgen keys generate`, or by a start that made them before)."""
    if not is_loopback(address) and not curve_files(data_dir).exist():
        raise BindRefused(
            f"refusing to bind {address}: it is reachable from other machines and no CURVE keys "
            f"exist in {str(curve_files(data_dir).folder)!r}; run `gvmgen keys generate` first, "
            "or bind tcp://127.0.0.1:PORT"
        )


def ensure_keys(data_dir: Path) -> CurveFiles:
    """The data dir's CURVE keys, made now if there are none (the first start)."""
    files = curve_files(data_dir)
    if not files.exist():
        generate_keys(data_dir)
        log.info(
            "made CURVE keys in %s (every connection is encrypted and authenticated)", files.folder
        )
    return files


def generate_keys(data_dir: Path, force: bool = False) -> CurveFiles:
    """Write a server and a client key pair, and authorise the client key."""
    import zmq.auth

    files = curve_files(data_dir)
    if files.exist() and not force:
        raise GVMGenError(
            f"CURVE keys already exist in {str(files.folder)!r}; pass --force to replace them "
            "(clients then need the new client key)"
        )
    files.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    files.folder.chmod(0o700)
    old_mask = os.umask(0o077)  # the secret keys are never readable by others, not even briefly
    try:
        zmq.auth.create_certificates(str(files.folder), "server")
        zmq.auth.create_certificates(str(files.folder), "client")
        files.authorized.mkdir(exist_ok=True, mode=0o700)
        shutil.copy(files.folder / "client.key", files.authorized / "client.key")
    finally:
        os.umask(old_mask)
    for secret in (files.server_secret, files.client_secret):
        secret.chmod(0o600)
    return files


def start_authenticator(context, files: CurveFiles):
    """A ThreadAuthenticator that admits only the public keys in `authorized/`."""
    from zmq.auth.thread import ThreadAuthenticator

    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=str(files.authorized))
    return auth


def make_curve_server(socket, files: CurveFiles) -> None:
    import zmq.auth

    public, secret = zmq.auth.load_certificate(str(files.server_secret))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True


def server_public_key(files: CurveFiles) -> str:
    """The server's public key (Z85 text), as server.json tells local clients."""
    import zmq.auth

    public, _ = zmq.auth.load_certificate(str(files.folder / "server.key"))
    return public.decode("ascii")


def make_curve_client(socket, files: CurveFiles) -> None:
    import zmq.auth

    public, secret = zmq.auth.load_certificate(str(files.client_secret))
    server_public, _ = zmq.auth.load_certificate(str(files.folder / "server.key"))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_serverkey = server_public


# ---- bounded resources ----


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft open-file limit to the hard one; returns (soft, hard).

    Every TCP connection is an open file, and so is every file a job writes: the more there
    are, the further a flood of connections is from failing a job."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return (1 << 16, 1 << 16)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # macOS caps it below an "unlimited" hard limit
            pass
    return soft, hard


def connection_limit(open_files: int) -> int:
    """How many client connections may be open at once: `MAX_CONNECTIONS`, fewer when the
    open-file limit would not leave `FILE_RESERVE` files for the job beside them."""
    spare = open_files - FILE_RESERVE - LISTEN_BACKLOG - 64  # 64: the server's own files
    return max(8, min(MAX_CONNECTIONS, spare))


class ConnectionGuard:
    """Counts the ROUTER's TCP connections from its monitor, and refuses those past `limit`
    (the newest: a flood cannot push out the editor's own connection).

    Refusing is a `shutdown` of the connection's socket: libzmq then sees the peer gone and
    closes it itself, so its file is freed at once; the server never closes a descriptor
    libzmq owns.
    """

    EVENTS = ("EVENT_ACCEPTED", "EVENT_DISCONNECTED")

    def __init__(self, context, router, limit: int):
        import zmq

        self.limit = limit
        self.open: dict[int, float] = {}  # descriptor -> when accepted
        self.refused = 0
        self._last_note = 0.0
        endpoint = f"inproc://connections-{id(self)}-{time.monotonic_ns()}"
        router.monitor(endpoint, zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED)
        self.socket = context.socket(zmq.PAIR)
        self.socket.setsockopt(zmq.RCVHWM, 0)  # never let libzmq's I/O thread wait on us
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self._router = router

    def on_events(self) -> None:
        """Read every pending event, then refuse what is over the limit."""
        import zmq
        from zmq.utils.monitor import parse_monitor_message

        for _ in range(10_000):
            try:
                event = parse_monitor_message(self.socket.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                break
            if event["event"] == zmq.EVENT_ACCEPTED:
                self.open[event["value"]] = time.monotonic()
            else:
                self.open.pop(event["value"], None)
        while len(self.open) > self.limit:
            newest = max(self.open, key=self.open.get)
            self.open.pop(newest)
            self._refuse(newest)

    def _refuse(self, fd: int) -> None:
        try:
            conn = stdlib_socket.socket(fileno=os.dup(fd))
        except OSError:
            return  # already gone
        try:
            conn.shutdown(stdlib_socket.SHUT_RDWR)
        except OSError:
            pass
        finally:
            conn.close()  # closes our duplicate only
        self.refused += 1
        now = time.monotonic()
        if now - self._last_note >= 10.0:
            self._last_note = now
            log.warning(
                "%d connection(s) open, the most allowed: refusing new ones (%d so far)",
                self.limit,
                self.refused,
            )

    def close(self) -> None:
        import contextlib

        with contextlib.suppress(Exception):
            self._router.disable_monitor()
        self.socket.close(0)
