"""The data dir: where the server keeps its key, address, job store, log and outputs.

DATA/             locked (flock on the folder itself) by the one server that owns it
DATA/key          32 random bytes as hex, mode 0600: the HMAC key for every message
DATA/server.json  {"address", "pid", "version", "curve"} while a server runs
DATA/jobs.sqlite  the job store (WAL)
DATA/serve.log    the server's log
DATA/outputs/     where a request's relative out_dir lands
DATA/curve/       CURVE keys made by `gvmgen keys generate`
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from gvmgen.atomic import write_text_atomic
from gvmgen.errors import GVMGenError

DATA_DIR_ENV = "GVMGEN_DATA_DIR"
KEY_NAME = "key"
SERVER_INFO_NAME = "server.json"
STORE_NAME = "jobs.sqlite"
LOG_NAME = "serve.log"
OUTPUTS_NAME = "outputs"
CURVE_NAME = "curve"


class KeyFileError(GVMGenError):
    """The key file is missing, unreadable or readable by others."""

    code = "unauthorized"


def default_data_dir(
    platform: str | None = None, env: Mapping[str, str] | None = None, home: Path | None = None
) -> Path:
    """`$GVMGEN_DATA_DIR`, else the platform's per-user data home, then `gvmgen`.

    `platform`, `env` and `home` default to this process's; the Resolve installer passes others
    to write the folder a server on that machine will use.
    """
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path.home()
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    if platform.startswith("win"):
        return Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "gvmgen"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "gvmgen"
    return Path(env.get("XDG_DATA_HOME") or home / ".local" / "share") / "gvmgen"


def resolve_data_dir(value: str | os.PathLike | None) -> Path:
    return (Path(value).expanduser() if value else default_data_dir()).resolve()


def ensure_key(data_dir: Path) -> bytes:
    """The HMAC key, made on first use with mode 0600 (created exclusively: no race, no leak)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / KEY_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(data_dir)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return read_key(data_dir)


def read_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_NAME
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(
            f"cannot read the key file {str(path)!r} ({error.__class__.__name__}); "
            "start the server once with `gvmgen serve` to create it"
        ) from None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeyFileError(f"key file {str(path)!r} is readable by others; run `chmod 600` on it")
    if len(text) < 32:
        raise KeyFileError(f"key file {str(path)!r} is too short; delete it and restart the server")
    return text.encode("ascii")


def write_server_info(data_dir: Path, info: dict) -> None:
    write_text_atomic(data_dir / SERVER_INFO_NAME, json.dumps(info, indent=2) + "\n")


def read_server_info(data_dir: Path) -> dict | None:
    try:
        info = json.loads((data_dir / SERVER_INFO_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("address"), str) else None


def remove_server_info(data_dir: Path, pid: int) -> None:
    """Remove server.json if it still names this process (a newer server may own it)."""
    info = read_server_info(data_dir)
    if info is not None and info.get("pid") == pid:
        (data_dir / SERVER_INFO_NAME).unlink(missing_ok=True)


class DataDirLock:
    """An exclusive lock on the data dir itself, held for the server's lifetime (POSIX flock
    on the folder: no lock file that could be deleted away; the lock ends with the process).

    Holding it proves no other server is alive on this data dir, so jobs left "running" by a
    killed server can be requeued at once instead of waiting for their leases to run out.
    """

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no flock; the lease timeout still protects jobs
            return
        fd = os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            info = read_server_info(self.data_dir) or {}
            pid = f" (pid {info['pid']})" if isinstance(info.get("pid"), int) else ""
            raise GVMGenError(
                f"another server{pid} already runs on data dir {str(self.data_dir)!r}; "
                "stop it first or pass another --data-dir",
                code="data_dir_in_use",
            ) from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
