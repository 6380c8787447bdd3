"""`gvmgen client ACTION`: talk to a running `gvmgen serve` (the Resolve scripts drive this).

A contract (docs/protocol.md, "Client command line"): with --json-lines stdout carries one
JSON object per line and nothing else, the last line of submit/watch/result is exactly one of
done, failed, cancelled or error, and the exit status is 0 done or answered, 2 refused or
failed, 3 backend unreachable, 4 cancelled, 1 internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

EXIT_OK, EXIT_INTERNAL, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_CANCELLED = 0, 1, 2, 3, 4
TERMINAL_EXIT = {"done": EXIT_OK, "failed": EXIT_REFUSED, "cancelled": EXIT_CANCELLED}
QUERY_ACTIONS = {
    "status": "a job's state and progress",
    "result": "a finished job's result (exit 0 done, 2 failed, 4 cancelled)",
    "cancel": "stop a job at its next generation step",
    "watch": "follow a job's progress to its end",
}


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser(
        "client",
        help=help_text,
        description="Submit scoring jobs to the local backend and follow them.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    submit = actions.add_parser("submit", help="queue a scoring job and (by default) follow it")
    _add_submit_options(submit)
    for name, help_text in QUERY_ACTIONS.items():
        query = actions.add_parser(name, help=help_text)
        query.add_argument("job_id", metavar="JOB_ID")
    actions.add_parser("list", help="recent jobs, newest first")
    takes = actions.add_parser("takes", help="the takes on disk in an output folder")
    takes.add_argument("--out", required=True, metavar="DIR")
    takes.add_argument(
        "--json", action="store_true", help="the reply as one JSON object (for programs)"
    )
    actions.add_parser("ping", help="exit 0 only when a server answers")
    for action in actions.choices.values():
        _add_connection_options(action)


def _add_submit_options(parser: argparse.ArgumentParser) -> None:
    from gvmgen.commands.score import add_score_options

    parser.add_argument("--input", required=True, metavar="PATH", help="video or timeline file")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_score_options(parser)
    parser.add_argument(
        "--key",
        help="idempotency key: the same key never makes a second job "
        "(default: a fresh one, re-sent on every retry)",
    )
    parser.add_argument("--no-wait", action="store_true", help="return once the job is stored")


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    from gvmgen.commands.serve import add_data_dir_option

    parser.add_argument(
        "--json-lines", action="store_true", help="one JSON object per line on stdout (for scripts)"
    )
    add_data_dir_option(parser)
    parser.add_argument(
        "--connect",
        metavar="ADDR",
        help="server address (default: the one in the data dir's server.json)",
    )
    parser.add_argument(
        "--spawn",
        action="store_true",
        help="start `gvmgen serve` for the data dir when none answers",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up after this long (submit and watch: waiting for the job; "
        "default: no limit for jobs, 10 s for queries)",
    )
    parser.add_argument(
        "--patience",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for a backend that is running but does not answer (stopped, "
        "overloaded) before exit 3; one whose process has ended is given up at once "
        "(default 120)",
    )


def run(args: argparse.Namespace) -> int:
    out = _Output(args.json_lines)
    try:
        return _ACTIONS[args.action](args, out)
    except (Exception, KeyboardInterrupt) as error:  # every outcome ends in one line + status
        return out.failure(error)


# ---- actions ----


def _submit(args, out: _Output) -> int:
    from gvmgen_backend.client import RequestRefused

    body = _request(args) | {"key": args.key or uuid.uuid4().hex, "watch": not args.no_wait}
    with _client(args) as client:
        try:
            if args.no_wait:
                _, reply = client.request("submit", body)
                out.line("accepted", {"job_id": reply["job_id"]})
                return EXIT_OK
            return _follow(out, client.follow("submit", body, _deadline(args, None)), args)
        except RequestRefused as refused:
            raise _older_backend(client, refused) or refused from None


def _older_backend(client, refused):
    """A `BackendOutdated` when the server refused a request field this client knows (a server
    started before the field existed forbids it as unknown), else None."""
    from gvmgen.errors import GVMGenError
    from gvmgen.schema import ScoreRequest

    field = refused.error.get("field")
    unknown = "extra" in str(refused.error.get("message", "")).lower()
    if not (unknown and field in ScoreRequest.model_fields):
        return None
    try:
        _, pong = client.request("ping", {})
        version = pong.get("version", "unknown")
    except GVMGenError:
        version = "unknown"
    return GVMGenError(
        f"the backend (version {version}) is older than this client: restart `gvmgen serve`",
        field=field,
        code="backend_outdated",
    )


def _watch(args, out: _Output) -> int:
    with _client(args) as client:
        return _follow(
            out, client.follow("watch", {"job_id": args.job_id}, _deadline(args, None)), args
        )


def _status(args, out: _Output) -> int:
    with _client(args) as client:
        out.line(*client.request("status", {"job_id": args.job_id}))
    return EXIT_OK


def _result(args, out: _Output) -> int:
    with _client(args) as client:
        event_type, body = client.request("result", {"job_id": args.job_id})
    out.line(event_type, body)
    return TERMINAL_EXIT[event_type]


def _cancel(args, out: _Output) -> int:
    with _client(args) as client:
        _, job = client.request("cancel", {"job_id": args.job_id})
    if job["state"] in ("done", "failed"):  # finished before the cancel came: nothing stopped
        out.error(
            {
                "code": "already_finished",
                "message": f"job {job['job_id']} had already finished ({job['state']}); "
                "nothing to cancel",
                "hint": f"its outcome: `gvmgen client result {job['job_id']}`",
            }
        )
        return EXIT_REFUSED
    out.line("status", job)
    return EXIT_OK


def _list(args, out: _Output) -> int:
    with _client(args) as client:
        _, body = client.request("list", {})
    if out.json_lines:
        for job in body["jobs"]:
            out.line("job", job)
    elif body["jobs"]:
        from gvmgen.commands.client_view import job_table

        print("\n".join(job_table(body["jobs"])))
    else:
        print("no jobs yet")
    return EXIT_OK


def _takes(args, out: _Output) -> int:
    with _client(args) as client:
        line_type, body = client.request("takes", {"out_dir": str(Path(args.out).resolve())})
    if args.json and not out.json_lines:
        print(json.dumps(body, indent=2))
    else:
        out.line(line_type, body)
    return EXIT_OK


def _ping(args, out: _Output) -> int:
    with _client(args) as client:
        out.line(*client.request("ping", {}))
    return EXIT_OK


_ACTIONS = {
    "submit": _submit,
    "watch": _watch,
    "status": _status,
    "result": _result,
    "cancel": _cancel,
    "list": _list,
    "takes": _takes,
    "ping": _ping,
}


# ---- helpers ----


def _request(args) -> dict:
    """The ScoreRequest fields; paths made absolute here, where the user's cwd is known."""
    from gvmgen.commands.score import request_from_args

    request = request_from_args(args)
    request["input"] = str(Path(args.input).expanduser().resolve())
    request["out_dir"] = str(Path(args.out).expanduser().resolve())
    return request


def _client(args):
    from gvmgen_backend.client import (
        REQUEST_RETRIES,
        REQUEST_TIMEOUT_SECONDS,
        BackendUnreachable,
        Client,
        find_endpoint,
        spawn_server,
    )
    from gvmgen_backend.datadir import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    timeout, patience = REQUEST_TIMEOUT_SECONDS, max(0.0, args.patience)
    if args.timeout is not None and args.action not in ("submit", "watch"):
        timeout = max(0.1, args.timeout / REQUEST_RETRIES)
        patience = min(patience, args.timeout)  # --timeout bounds a query, waits included
    if args.spawn:
        try:
            with Client(find_endpoint(data_dir, args.connect), timeout=1.0, retries=1) as probe:
                probe.request("ping", {})
        except BackendUnreachable:
            spawn_server(data_dir, getattr(args, "engine", "auto"), args.connect)
    endpoint = find_endpoint(data_dir, args.connect)
    return Client(endpoint, timeout=timeout, patience=patience, notice=_waiting)


def _waiting(text: str) -> None:
    """What the client waits for, on stderr (stdout stays the JSON lines)."""
    print(f"gvmgen client: {text}", file=sys.stderr, flush=True)


def _deadline(args, default: float | None) -> float | None:
    seconds = args.timeout if args.timeout is not None else default
    return None if seconds is None else time.monotonic() + seconds


def _follow(out: _Output, events, args) -> int:
    """Print a job's stream; the terminal event decides the exit status."""
    job_id = getattr(args, "job_id", None)
    try:
        for event_type, body in events:
            if event_type == "accepted":
                job_id = body["job_id"]
                out.line("accepted", {"job_id": job_id})
            elif event_type == "progress":
                out.progress(body)
            elif event_type in TERMINAL_EXIT:
                out.line(event_type, body)
                return TERMINAL_EXIT[event_type]
    except KeyboardInterrupt:
        if job_id is None:
            raise
        out.error(
            {
                "code": "interrupted",
                "message": f"stopped waiting; job {job_id} goes on in the backend "
                f"(`gvmgen client watch {job_id}` follows it)",
            }
        )
        return EXIT_INTERNAL
    out.error(
        {
            "code": "timeout",
            "message": f"gave up after {args.timeout} s; job {job_id} "
            f"goes on in the backend (`gvmgen client watch {job_id}` follows it)",
        }
    )
    return EXIT_INTERNAL


class _Output:
    """JSON lines on stdout for scripts; for people, short lines and a progress display."""

    def __init__(self, json_lines: bool):
        self.json_lines = json_lines
        self.bar = None

    def line(self, line_type: str, body: dict) -> None:
        if self.json_lines:
            print(json.dumps({"type": line_type, **body}), flush=True)
            return
        self._close_bar()
        if line_type == "done":
            from gvmgen.commands.score import print_summary
            from gvmgen.schema import ScoreResult

            print_summary(ScoreResult.model_validate(body["result"]))
        elif line_type == "failed":
            print(f"job {body['job_id']} failed: {_one_line(body['error'])}", file=sys.stderr)
        elif line_type == "cancelled":
            print(f"job {body['job_id']} cancelled", file=sys.stderr)
        else:
            print(_human(line_type, body))

    def progress(self, event: dict) -> None:
        if self.json_lines:
            print(json.dumps({"type": "progress", **event}), flush=True)
            return
        if self.bar is None:
            from gvmgen.commands.progress import ProgressBar

            self.bar = ProgressBar().__enter__()
        self.bar(event["fraction"], event["message"])

    def error(self, error: dict) -> None:
        self._close_bar()
        if self.json_lines:
            print(json.dumps({"type": "error", "error": error}), flush=True)
        else:
            print(f"gvmgen client: error: {_one_line(error)}", file=sys.stderr)

    def failure(self, error: Exception) -> int:
        from gvmgen_backend.client import BackendUnreachable, KeyMismatch, RequestRefused

        from gvmgen.errors import GVMGenError

        if isinstance(error, RequestRefused):
            self.error(error.error)
            return EXIT_REFUSED
        if isinstance(error, KeyMismatch):  # the server answered: a refusal, not an absence
            self.error(error.to_dict())
            return EXIT_REFUSED
        if isinstance(error, BackendUnreachable):
            self.error(
                {
                    "code": "backend_unreachable",
                    "message": str(error),
                    "hint": "start it with `gvmgen serve`",
                }
            )
            return EXIT_UNREACHABLE
        if isinstance(error, GVMGenError):
            self.error(error.to_dict())
            return EXIT_REFUSED
        if isinstance(error, KeyboardInterrupt):
            self.error(
                {"code": "interrupted", "message": "interrupted; the job goes on in the backend"}
            )
            return EXIT_INTERNAL
        self.error({"code": "internal_error", "message": f"{type(error).__name__}: {error}"})
        return EXIT_INTERNAL

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _one_line(error: dict) -> str:
    from gvmgen.errors import one_line

    return one_line(error.get("message", ""), error.get("hint"))


def _human(line_type: str, body: dict) -> str:
    if line_type == "accepted":
        return f"accepted: job {body['job_id']}"
    if line_type == "pong":
        return (
            f"backend {body['version']} (protocol v{body['protocol']}) up: engines "
            f"{', '.join(body['engines'])}; device {body['device']}; {body['queue']} queued"
        )
    if line_type in ("status", "job"):
        from gvmgen.commands.client_view import job_line

        return job_line(body)
    if line_type == "takes":
        from gvmgen.commands.client_view import takes_table

        return "\n".join(takes_table(body))
    return json.dumps(body, indent=2)
