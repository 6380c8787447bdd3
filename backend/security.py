"""Who may talk to the server: loopback by default, CURVE keys before any other address.

`gvmgen keys generate` writes, under DATA/curve/:

    server.key, server.key_secret       the server's CURVE key pair
    client.key, client.key_secret       a client key pair for this workstation
    authorized/client.key               public keys the server accepts (copy more in here)

The ironhouse pattern: the server authenticates every client's public key through a
`ThreadAuthenticator`, and clients check the server's public key.
"""

from __future__ import annotations

import ipaddress
import shutil
from dataclasses import dataclass
from pathlib import Path

from gvmgen_backend.datadir import CURVE_NAME

from gvmgen.errors import GVMGenError

LOCAL_SCHEMES = ("ipc", "inproc")  # reachable only through this machine's file system / process


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


def check_bind(address: str, data_dir: Path) -> bool:
    """Whether to use CURVE; raises `BindRefused` for an open address without keys."""
    keys = curve_files(data_dir).exist()
    if not is_loopback(address) and not keys:
        raise BindRefused(
            f"refusing to bind {address}: it is reachable from other machines and no CURVE keys "
            f"exist in {str(curve_files(data_dir).folder)!r}; run `gvmgen keys generate` first, "
            "or bind tcp://127.0.0.1:PORT"
        )
    return keys


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
    zmq.auth.create_certificates(str(files.folder), "server")
    zmq.auth.create_certificates(str(files.folder), "client")
    files.authorized.mkdir(exist_ok=True, mode=0o700)
    shutil.copy(files.folder / "client.key", files.authorized / "client.key")
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


def make_curve_client(socket, files: CurveFiles) -> None:
    import zmq.auth

    public, secret = zmq.auth.load_certificate(str(files.client_secret))
    server_public, _ = zmq.auth.load_certificate(str(files.folder / "server.key"))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_serverkey = server_public
