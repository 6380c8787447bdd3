"""What the server does for each request type, socket-free (the server thread calls these).

Each handler takes the validated envelope body and returns a `Reply`: the reply itself, plus
the job the sender now follows (submit, watch) and any events to send at once (a job that
was already finished, or a queued job cancelled on the spot).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gvmgen_backend.protocol import PROTOCOL_VERSION, ProtocolError, first_error
from gvmgen_backend.store import STATES, Job, JobStore, KeyConflict
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gvmgen import __version__
from gvmgen.schema import ScoreRequest

MAX_KEY_CHARS = 200
QUEUE_LENGTH_SECONDS = 0.25


@dataclass
class Reply:
    type: str
    body: dict
    watch: str | None = None  # the sender now receives this job's events
    then: list[tuple[str, dict]] = field(default_factory=list)  # events for the sender only
    broadcast: list[tuple[str, str, dict]] = field(default_factory=list)  # (job, type, body)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PingBody(_Body):
    pass


class JobBody(_Body):
    job_id: str = Field(min_length=1, max_length=64)


class ListBody(_Body):
    limit: int = Field(100, ge=1, le=1000)
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None


class TakesBody(_Body):
    out_dir: str = Field(min_length=1, max_length=4096)


@dataclass
class ServerFacts:
    """What `ping` reports about this server."""

    engine: str  # what "auto" requests get
    engines_ready: list[str]
    data_dir: Path
    pid: int = field(default_factory=os.getpid)


class Service:
    def __init__(self, store: JobStore, facts: ServerFacts, worker):
        self.store, self.facts, self.worker = store, facts, worker  # worker: Worker
        self.live: dict[str, dict] = {}  # job id -> latest progress event, while it runs
        self._queue_read = (-1e9, 0)  # (monotonic time, queued jobs)
        self.handlers = {
            "ping": self.on_ping,
            "submit": self.on_submit,
            "status": self.on_status,
            "result": self.on_result,
            "cancel": self.on_cancel,
            "list": self.on_list,
            "takes": self.on_takes,
            "watch": self.on_watch,
        }

    def handle(self, msg_type: str, body: dict) -> Reply:
        """The reply to one request; `ProtocolError` for a refused one."""
        handler = self.handlers.get(msg_type)
        if handler is None:
            raise ProtocolError(
                "unknown_type",
                f"unknown message type {msg_type!r}; expected one of {', '.join(self.handlers)}",
                "type",
            )
        return handler(body)

    def on_ping(self, body: dict) -> Reply:
        _validated(PingBody, body)
        return Reply(
            "pong",
            {
                "version": __version__,
                "protocol": PROTOCOL_VERSION,
                "engine": self.facts.engine,
                "engines": self.facts.engines_ready,
                "device": self.worker.runner.device(),
                "model_loaded": self.worker.runner.model_loaded(),
                "queue": self._queue_length(),
                "running": self.worker.current_job(),
                "pid": self.facts.pid,
            },
        )

    def on_submit(self, body: dict) -> Reply:
        body = dict(body)
        key, watch = body.pop("key", None), body.pop("watch", True)
        if not (isinstance(key, str) and 0 < len(key) <= MAX_KEY_CHARS):
            raise ProtocolError(
                "invalid_request",
                "key: a string of 1-200 characters is "
                "required, so that a retried submit never makes a second job",
                "key",
            )
        if not isinstance(watch, bool):
            raise ProtocolError("invalid_request", "watch: expected true or false", "watch")
        request = _score_request(body, self.facts.data_dir)
        try:
            job, created = self.store.submit(key, request, request["mode"])
        except KeyConflict:
            raise ProtocolError(
                "invalid_request",
                f"key {key!r} was used for a different request; use a new key for a new job",
                "key",
            ) from None
        if created:
            self.worker.notify()
        reply = Reply("accepted", {"job_id": job.id, "duplicate": not created})
        return self._following(reply, job) if watch else reply

    def on_status(self, body: dict) -> Reply:
        job = self._job(body)
        return Reply("status", self._status(job))

    def on_result(self, body: dict) -> Reply:
        job = self._job(body)
        if not job.terminal:
            raise ProtocolError(
                "not_finished",
                f"job {job.id} is {job.state}; `gvmgen client watch {job.id}` follows it",
                "job_id",
            )
        return Reply(*terminal_event(job))

    def on_cancel(self, body: dict) -> Reply:
        job = self._job(body)
        was = job.state
        job = self.store.request_cancel(job.id)
        reply = Reply("status", self._status(job))
        if job.state == "running":
            self.worker.cancel(job.id)
        elif was == "queued" and job.state == "cancelled":
            reply.broadcast.append((job.id, *terminal_event(job)))
        return reply

    def on_list(self, body: dict) -> Reply:
        query = _validated(ListBody, body)
        states = (query.state,) if query.state else STATES
        jobs = self.store.jobs(query.limit, states)
        return Reply("list", {"jobs": [self._status(j) for j in jobs]})

    def on_takes(self, body: dict) -> Reply:
        from gvmgen.outputs import read_previous

        query = _validated(TakesBody, body)
        out_dir = resolve_out_dir(query.out_dir, self.facts.data_dir, must_write=False)
        previous = read_previous(out_dir)
        reply = {"out_dir": str(out_dir), "takes": previous.takes if previous else []}
        if previous is not None:
            reply |= {
                "input": previous.input,
                "range_in": previous.range_in,
                "range_out": previous.range_out,
            }
        return Reply("takes", reply)

    def on_watch(self, body: dict) -> Reply:
        job = self._job(body)
        return self._following(Reply("watching", self._status(job)), job)

    # ---- helpers ----

    def _queue_length(self) -> int:
        """Queued jobs, read at most every QUEUE_LENGTH_SECONDS: ping is a liveness probe, and
        a query per ping would be a third of its cost."""
        now = time.monotonic()
        if now - self._queue_read[0] > QUEUE_LENGTH_SECONDS:
            self._queue_read = (now, self.store.queue_length())
        return self._queue_read[1]

    def _following(self, reply: Reply, job: Job) -> Reply:
        """The sender follows the job; a finished job's terminal event goes out at once."""
        if job.terminal:
            reply.then.append(terminal_event(job))
        else:
            reply.watch = job.id
        return reply

    def _job(self, body: dict) -> Job:
        query = _validated(JobBody, body)
        job = self.store.get(query.job_id)
        if job is None:
            raise ProtocolError(
                "not_found",
                f"no job {query.job_id!r} on this server (`gvmgen client list` shows the jobs)",
                "job_id",
            )
        return job

    def _status(self, job: Job) -> dict:
        status = job.status()
        live = self.live.get(job.id)
        if live is not None and job.state == "running":
            status |= {k: live[k] for k in ("fraction", "stage", "message")}
        return status


def terminal_event(job: Job) -> tuple[str, dict]:
    """The event that ends a finished job's stream: done, failed or cancelled."""
    if job.state == "done":
        body = {"job_id": job.id, "result": job.result}
        if job.warnings:
            body["warnings"] = job.warnings
        return "done", body
    if job.state == "failed":
        return "failed", {"job_id": job.id, "error": job.error}
    return "cancelled", {"job_id": job.id}


def _validated(model: type[_Body], body: dict):
    try:
        return model.model_validate(body)
    except ValidationError as error:
        field_name, message = first_error(error)
        raise ProtocolError("invalid_request", message, field_name) from None


def _score_request(body: dict, data_dir: Path) -> dict:
    """The pipeline's request, checked before it is accepted: paths exist and may be used."""
    body.pop("job_id", None)  # the server names jobs
    try:
        request = ScoreRequest.model_validate(body)
    except ValidationError as error:
        field_name, message = first_error(error)
        raise ProtocolError("invalid_request", message, field_name) from None
    data = request.model_dump(mode="json")
    data["input"] = str(check_input(request.input))
    data["out_dir"] = str(resolve_out_dir(request.out_dir, data_dir, must_write=True))
    return data


def check_input(path_text: str) -> Path:
    """An absolute path to an existing, regular, readable file (the server has no cwd of yours)."""
    path = Path(path_text)
    if not path.is_absolute():
        raise ProtocolError(
            "invalid_request",
            f"input: {path_text!r} is relative; send an "
            "absolute path (the server does not share your working folder)",
            "input",
        )
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "does not exist"
        raise ProtocolError("invalid_request", f"input: {path_text!r} {what}", "input")
    if not os.access(path, os.R_OK):
        raise ProtocolError("invalid_request", f"input: {path_text!r} is not readable", "input")
    return path.resolve()


def resolve_out_dir(path_text: str, data_dir: Path, must_write: bool) -> Path:
    """The real path of an output folder: an absolute one whose parent exists, or a relative
    one under DATA/outputs/ (made there as needed). Resolved once, here; a name no file system
    takes, a missing parent or a path through a missing folder is `invalid_request`."""
    from gvmgen_backend.datadir import OUTPUTS_NAME

    from gvmgen.errors import InputError
    from gvmgen.outputs import check_out_dir_text

    try:
        check_out_dir_text(path_text)
    except InputError as error:
        raise ProtocolError("invalid_request", error.message, "out_dir") from None
    path = Path(path_text)
    if path.is_absolute():
        path = _real_folder(path, must_exist=must_write)
    else:
        base = (data_dir / OUTPUTS_NAME).resolve()
        path = Path(os.path.normpath(base / path))  # no folder of ours is a link: lexical
        if not path.is_relative_to(base) or path == base:
            raise ProtocolError(
                "invalid_request",
                f"out_dir: {path_text!r} leaves the data dir's outputs folder",
                "out_dir",
            )
    if path == data_dir.resolve():
        raise ProtocolError(
            "invalid_request",
            "out_dir: the server's data dir cannot be an output folder; name a folder in it, "
            "or another folder",
            "out_dir",
        )
    if path.exists() and not path.is_dir():
        raise ProtocolError(
            "output_not_writable", f"out_dir: {path_text!r} is a file, not a folder", "out_dir"
        )
    if must_write and not _writable(path):
        raise ProtocolError(
            "output_not_writable", f"out_dir: the server may not write {str(path)!r}", "out_dir"
        )
    return path


def _real_folder(path: Path, must_exist: bool) -> Path:
    """`path` with its parent resolved by the file system (links and `..` as the OS reads
    them), so the folder checked is the folder written. Without `must_exist` (a folder only
    read), a missing parent is no error: there is nothing there."""
    if path.name in ("", ".", ".."):  # "/a/b/..": the folder itself must exist
        parent, name = path, ""
    else:
        parent, name = path.parent, path.name
    try:
        real = parent.resolve(strict=True)
    except (OSError, RuntimeError):
        if not must_exist:
            return path.resolve()
        raise ProtocolError(
            "invalid_request",
            f"out_dir: {str(parent)!r} does not exist (or is not a folder the server can "
            "reach); create the parent folder first",
            "out_dir",
        ) from None
    if not real.is_dir():
        raise ProtocolError(
            "output_not_writable", f"out_dir: {str(parent)!r} is not a folder", "out_dir"
        )
    folder = real / name if name else real
    return folder.resolve() if folder.is_symlink() else folder


def _writable(path: Path) -> bool:
    """The folder, or the folder it will be made in, is writable by the server."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)
