"""`gvmgen serve`: the local scoring backend (ZeroMQ), one warm worker, durable jobs.

Prints one line when it is ready (where it listens, which engines are ready, where the key
file is), one when asked to stop and one when stopped, and logs to DATA/serve.log. SIGTERM or
Ctrl-C lets the running job finish its current cue (checkpointed), puts it back in the queue
for the next start, and exits 0; past `--stop-grace` seconds, or at a second signal, it exits
at once, the job left at its last finished cue.
"""

from __future__ import annotations

import argparse
import os
import signal

from gvmgen.defaults import DEFAULT_ENGINE, ENGINE_CHOICES


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser(
        "serve",
        help=help_text,
        description="Run the scoring backend that `gvmgen client` and the Resolve scripts use.",
    )
    parser.add_argument(
        "--bind",
        default="tcp://127.0.0.1:5555",
        help="ZeroMQ endpoint (default tcp://127.0.0.1:5555; another host than loopback needs "
        "`gvmgen keys generate` first)",
    )
    add_data_dir_option(parser)
    parser.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        default=DEFAULT_ENGINE,
        help="the engine for requests that ask for auto",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="where GVMGen runs (cpu: slow, but works without a GPU)",
    )
    parser.add_argument(
        "--keep-days",
        type=float,
        default=30.0,
        help="finished jobs (and their outputs under the data dir) are cleaned "
        "after this many days; 0 keeps nothing finished (default 30)",
    )
    parser.add_argument(
        "--keep-gb",
        type=float,
        default=None,
        help="also keep the data dir's outputs folder under this size (GB)",
    )
    parser.add_argument(
        "--stop-grace",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="on SIGTERM/Ctrl-C, wait this long for the running job to finish "
        "its current cue before leaving it at its last finished one (default 60)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds, a number >= 0 (got {text!r})")
    return value


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="key, job store, log and outputs (default $GVMGEN_DATA_DIR, else the user's data "
        "folder: ~/.local/share/gvmgen on Linux)",
    )


def run(args: argparse.Namespace) -> int:
    from gvmgen_backend.datadir import LOG_NAME, resolve_data_dir
    from gvmgen_backend.retention import Retention
    from gvmgen_backend.server import Server

    _choose_device(args.device)
    data_dir = resolve_data_dir(args.data_dir)
    handler = log_to(data_dir / LOG_NAME)
    try:
        keep_bytes = None if args.keep_gb is None else int(args.keep_gb * 1e9)
        server = Server(
            data_dir,
            args.bind,
            args.engine,
            Retention(args.keep_days, keep_bytes),
            abandon_on_stop=True,
            stop_grace=args.stop_grace,
        )
        return serve_until_signalled(server, ready=server.start())
    finally:
        stop_logging_to(handler)


def serve_until_signalled(server, ready: str | None = None) -> int:
    """Serve until SIGTERM/SIGINT, then until the running job has paused at its cue boundary
    and gone back to the queue. One still running past the grace (or at a second signal) is
    left at its last finished cue: the process exits without unwinding it (unwinding would
    discard its checkpoints), and the next start on the data dir resumes it.

    :param ready: the startup line, printed once the signals are ours: whoever waits for it
        may stop the server at once (a signal before would kill it unsaid, with status 130).
    """
    import logging

    signals = []

    def on_signal(signum, _frame) -> None:
        signals.append(signum)
        if len(signals) == 1:
            _say(
                f"gvmgen serve: stopping on {signal.Signals(signum).name}: a running job first "
                f"finishes its current cue (at most {server.stop_grace:g} s); "
                "Ctrl-C again stops at once"
            )
        elif len(signals) == 2:
            _say("gvmgen serve: stopping at once")
        server.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    if ready is not None:
        _say(ready)
    server.serve_forever()
    if server.abandoned:
        _say(
            f"gvmgen serve: stopped; job {server.abandoned} stays at its last finished cue, "
            "and the next `gvmgen serve` on this data dir resumes it"
        )
        logging.shutdown()
        os._exit(0)
    _say("gvmgen serve: stopped")
    return 0


def _say(line: str) -> None:
    """A line beside the startup line: where the person who started the server looks."""
    print(line, flush=True)


def _choose_device(device: str) -> None:
    """Applied before torch is imported, so the engine choice sees the device asked for."""
    from gvmgen.errors import EngineError

    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["GVMGEN_ALLOW_CPU"] = "1"
    elif device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise EngineError(
                "--device cuda: no CUDA device is visible to torch here; use --device auto or cpu"
            )


LOG_BYTES = 10_000_000  # serve.log is rotated at this size
LOG_BACKUPS = 3  # serve.log.1 … .3 kept: at most 40 MB of log
LOGGERS = ("gvmgen_backend", "gvmgen.outputs")  # the backend's, and the output folders' repairs


def log_to(path):
    """The backend's log goes to `path` (DATA/serve.log), rotated by size; the library never
    configures logging."""
    import logging
    from logging.handlers import RotatingFileHandler
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = RotatingFileHandler(
        path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


def stop_logging_to(handler) -> None:
    import logging

    for name in LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
