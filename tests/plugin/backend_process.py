"""A real `gvmgen serve` for end-to-end runs of the menu scripts (tests and bench)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from gvmgen_backend.client import serve_command

START_SECONDS = 120.0  # a cold start imports torch; a loaded 2-core machine is slow at it


@contextlib.contextmanager
def running_backend(data_dir: Path, engine: str = "arranger") -> Iterator[subprocess.Popen]:
    """`gvmgen serve` on a free loopback port for `data_dir`; stopped (SIGTERM) on exit."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = serve_command(data_dir, engine)
    log = open(data_dir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
    with log:
        server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        _wait_until_it_answers(data_dir, server)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_until_it_answers(data_dir: Path, server: subprocess.Popen) -> None:
    from gvmgen_backend.client import BackendUnreachable, Client, find_endpoint

    end = time.monotonic() + START_SECONDS
    while time.monotonic() < end:
        if server.poll() is not None:
            raise RuntimeError(f"gvmgen serve exited {server.returncode}; see {data_dir}/serve.log")
        try:
            with Client(find_endpoint(data_dir), timeout=1.0, retries=1) as client:
                client.request("ping", {})
            return
        except BackendUnreachable:
            time.sleep(0.2)
    raise RuntimeError(f"gvmgen serve did not answer within {START_SECONDS:.0f} s")
