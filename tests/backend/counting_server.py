"""`python counting_server.py DATA_DIR CALLS_FILE STEPS STEP_SECONDS [STOP_GRACE]`: `gvmgen
serve` on a random loopback port with the counting arranger, for tests that kill the process.
$GVMGEN_TEST_HOOKS installs the kill-moment hooks of hooks.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import hooks
from counting_engine import CountingArranger
from gvmgen_backend.runner import Runner
from gvmgen_backend.server import Server

from gvmgen.commands.serve import log_to, serve_until_signalled
from gvmgen.engines import EngineRegistry


def main(data_dir: str, calls_file: str, steps: str, step_seconds: str, grace="60") -> int:
    log_to(Path(data_dir) / "serve.log")
    hooks.install(os.environ.get("GVMGEN_TEST_HOOKS"))
    engine = CountingArranger(int(steps), float(step_seconds), calls_file)
    runner = Runner("arranger", EngineRegistry(engines={"arranger": engine}))
    server = Server(
        Path(data_dir),
        "tcp://127.0.0.1:*",
        runner=runner,
        abandon_on_stop=True,
        stop_grace=float(grace),
    )
    return serve_until_signalled(server, ready=server.start())


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
