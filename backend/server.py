"""`Server`: the ROUTER socket, one thread that owns every socket, and the warm worker.

    clients (DEALER) ──► ROUTER ──► Service (handlers.py) ──► JobStore (SQLite WAL)
                              ▲                                       │
                              └── PAIR (inproc) ◄── Worker thread ◄───┘ claims, runs score()

Frame layout on the ROUTER: [peer identity, message]; the message is one signed JSON object
(protocol.py). Anything else gets an `error` reply; an oversize frame is dropped by libzmq
(MAXMSGSIZE) before it reaches us. Every connection runs CURVE (security.py), so a peer
without the data dir's keys is dropped at the handshake, and the `ConnectionGuard` refuses
connections past the limit the open files allow. A peer's errors are answered within a
budget (`ErrorBudget`); past it they are dropped, and the log says so once a minute. The
socket thread never blocks: it polls with a short timeout so heartbeats, the worker's events
and a stop request are all handled within 100 ms.

At start, before the worker claims anything: the data dir is locked (one server per store),
the store is checked and made whole from its journal, and every output folder the store
names gets its half-made commits finished and its stale stages reclaimed (`outputs.recover`);
the same reclaim runs with retention, and on a job's folder before the job runs.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import zmq
from gvmgen_backend import datadir, security
from gvmgen_backend.handlers import Reply, ServerFacts, Service
from gvmgen_backend.protocol import (
    MAX_MESSAGE_BYTES,
    TERMINAL_EVENTS,
    ProtocolError,
    decode,
    encode,
)
from gvmgen_backend.retention import Retention, apply_retention
from gvmgen_backend.runner import Runner
from gvmgen_backend.store import open_store
from gvmgen_backend.worker import Worker

from gvmgen import __version__, outputs
from gvmgen.errors import GVMGenError

log = logging.getLogger("gvmgen_backend.server")

DEFAULT_BIND = "tcp://127.0.0.1:5555"
HEARTBEAT_SECONDS = 1.0  # watchers hear from the server at least this often
POLL_MS = 100  # longest the socket thread sleeps; bounds stop and heartbeat latency
DRAIN_LIMIT = 500  # messages handled per socket per loop, so no peer starves the others
RETENTION_SECONDS = 3600.0
RETENTION_RETRY_SECONDS = 60.0  # after a pass the store's lock held off
RETENTION_PATIENCE_SECONDS = 0.5  # the socket thread's longest wait for that lock
STOP_GRACE_SECONDS = 60.0  # a stop waits this long for the running job's cue boundary
CANCEL_WAIT_SECONDS = 30.0  # then a cancelled job has this long to reach its next step
MAX_WATCHERS = 256  # per job
ERROR_BURST = 1000  # errors a peer may cause in a row before its bad messages are dropped
ERROR_RATE = 200.0  # and then per second
ERROR_PEERS = 4096  # peers whose budget is remembered (the least recent are forgotten)


class Server:
    def __init__(
        self,
        data_dir: Path,
        bind: str = DEFAULT_BIND,
        engine: str = "auto",
        retention: Retention | None = None,
        runner: Runner | None = None,
        abandon_on_stop: bool = False,
        stop_grace: float = STOP_GRACE_SECONDS,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.bind = bind
        self.runner = runner or Runner(engine)
        self.retention = retention or Retention()
        self.retention.validate()
        # A stop pauses the running job: it finishes its current cue (checkpointed) and goes
        # back to the queue. One still running after `stop_grace` seconds (or a second stop)
        # is left to the process exit (its finished cues stay checkpointed, the next start
        # resumes it) instead of cancelled (which discards its staging folder). Only a
        # process that exits right after may do that.
        self.abandon_on_stop = abandon_on_stop
        self.stop_grace = stop_grace
        self.abandoned: str | None = None  # the job left running by the last stop
        self.address: str | None = None
        self.curve = True
        self.notes: list[str] = []  # what the start found and repaired (also logged)
        self._stop = threading.Event()
        self._hurry = threading.Event()  # a second stop: leave without waiting for the job
        self._stop_deadline: float | None = None
        self._watchers: dict[str, dict[tuple[bytes, str], None]] = {}
        self._lock = datadir.DataDirLock(self.data_dir)
        self.errors = ErrorBudget()

    # ---- life cycle ----

    def start(self) -> str:
        """Take the data dir, bind, start the worker; returns the one-line startup summary."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        security.check_bind(self.bind, self.data_dir)  # before anything binds
        self._lock.acquire()
        try:
            return self._start_locked()
        except BaseException:
            self._lock.release()
            raise

    def _start_locked(self) -> str:
        self.open_files, _ = security.raise_open_file_limit()
        self.key = datadir.ensure_key(self.data_dir)
        self.curve_files = security.ensure_keys(self.data_dir)
        self.store, found = open_store(self.data_dir / datadir.STORE_NAME)
        for line in found:
            log.warning("%s", line)
        self.notes = list(found)
        requeued = self.store.requeue_abandoned(every_lease=True)  # we hold the lock
        if requeued:
            log.info(
                "requeued %d job(s) left running by a stopped server: %s",
                len(requeued),
                ", ".join(requeued),
            )
        self.notes += self._settle_out_dirs()
        self.runner.before_job = self._settle_job_out_dir
        ready = self.runner.warm_up()
        self._open_sockets()
        self.worker = Worker(self.data_dir / datadir.STORE_NAME, self.runner, self._emit)
        facts = ServerFacts(self.runner.engine, [ready], self.data_dir)
        self.service = Service(self.store, facts, self.worker)
        self.worker.start()
        datadir.write_server_info(
            self.data_dir,
            {
                "address": self.address,
                "pid": os.getpid(),
                "version": __version__,
                "curve": self.curve,
                "curve_public": security.server_public_key(self.curve_files),
            },
        )
        self._next_retention = 0.0
        log.info(
            "listening on %s, engine %s, data dir %s, at most %d connections (%d open files)",
            self.address,
            ready,
            self.data_dir,
            self.guard.limit,
            self.open_files,
        )
        summary = (
            f"gvmgen serve: listening on {self.address} (CURVE)"
            f" · engines ready: {ready} · key file: {self.data_dir / datadir.KEY_NAME}"
            f" · log: {self.data_dir / datadir.LOG_NAME}"
        )
        return "\n".join([summary, *(f"gvmgen serve: {note}" for note in self.notes)])

    def _open_sockets(self) -> None:
        self.context = zmq.Context()
        self.router = self.context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.router.setsockopt(zmq.LINGER, 500)
        self.router.setsockopt(zmq.SNDHWM, 10_000)  # replies queue for slow readers
        self.router.setsockopt(zmq.RCVHWM, 1_000)  # × MAX_MESSAGE_BYTES: memory per key holder
        self.router.setsockopt(zmq.HANDSHAKE_IVL, int(security.HANDSHAKE_SECONDS * 1000))
        self.router.setsockopt(zmq.BACKLOG, security.LISTEN_BACKLOG)
        self.auth = security.start_authenticator(self.context, self.curve_files)
        security.make_curve_server(self.router, self.curve_files)
        limit = security.connection_limit(self.open_files)
        self.guard = security.ConnectionGuard(self.context, self.router, limit)
        try:
            self.router.bind(self.bind)
        except zmq.ZMQError as error:
            self.guard.close()
            self.router.close(0)
            self.auth.stop()
            self.context.term()
            raise GVMGenError(
                f"cannot listen on {self.bind}: {error}; another program (or a server on "
                "another data dir) may hold it: pass --bind tcp://127.0.0.1:PORT",
                field="bind",
                code="bind_failed",
            ) from None
        self.address = self.router.getsockopt_string(zmq.LAST_ENDPOINT)
        endpoint = f"inproc://worker-events-{uuid.uuid4().hex}"
        self.events = self.context.socket(zmq.PAIR)
        self.events.bind(endpoint)
        self._outbox = self.context.socket(zmq.PAIR)
        self._outbox.connect(endpoint)
        self._outbox_lock = threading.Lock()
        self._outbox_open = True

    def stop(self) -> None:
        """Ask the server to stop (any thread, or a signal handler); serve_forever returns
        once the running job has reached its cue boundary, at most `stop_grace` seconds on.
        A second call stops waiting for it."""
        if self._stop.is_set():
            self._hurry.set()
        self._stop.set()

    def serve_forever(self) -> None:
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.events, zmq.POLLIN)
        poller.register(self.guard.socket, zmq.POLLIN)
        next_beat = time.monotonic() + HEARTBEAT_SECONDS
        try:
            while not self._stopped():
                wait = max(0.0, min(next_beat - time.monotonic(), POLL_MS / 1000))
                ready = dict(poller.poll(wait * 1000))
                if self.guard.socket in ready:  # first: a flood is refused before it is read
                    self.guard.on_events()
                if self.router in ready:
                    self._drain(self.router, self._on_request)
                if self.events in ready:
                    self._drain(self.events, self._on_worker_event)
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + HEARTBEAT_SECONDS
                self._retention_if_due()
        finally:
            self._shutdown()

    def _stopped(self) -> bool:
        """Whether to leave the loop. Once asked to stop, the loop goes on serving (requests,
        the job's events) until the worker has paused its job at a cue boundary and exited,
        the grace has passed, or a second stop came."""
        if not self._stop.is_set():
            return False
        if self._stop_deadline is None:
            self._begin_stop()
        return (
            not self.worker.is_alive()
            or self._hurry.is_set()
            or time.monotonic() >= self._stop_deadline
        )

    def _begin_stop(self) -> None:
        self._stop_deadline = time.monotonic() + self.stop_grace
        self.worker.shutdown()
        self.worker.pause_running()
        job = self.worker.current_job()
        if job is not None:
            log.info(
                "stopping: job %s finishes its current cue (at most %g s), then goes back "
                "to the queue",
                job,
                self.stop_grace,
            )

    def _shutdown(self) -> None:
        """Let the current job reach its cue boundary, else leave it checkpointed; close."""
        if self._stop_deadline is None:  # the loop ended without a stop (an error)
            self._begin_stop()
        left = 0.0 if self._hurry.is_set() else self._stop_deadline - time.monotonic()
        self.worker.join(max(0.0, left))
        if self.worker.is_alive():
            self.abandoned = self.worker.current_job()
            if self.abandon_on_stop:
                log.info(
                    "job %s did not reach a cue boundary in time; it stays at its last "
                    "finished cue; the next start resumes it",
                    self.abandoned,
                )
            else:
                self.worker.cancel_current()
                self.worker.join(CANCEL_WAIT_SECONDS)
        with self._outbox_lock:
            self._outbox_open = False
        self._drain(self.events, self._on_worker_event)
        self._outbox.close(0)
        self.events.close(0)
        self.guard.close()
        self.router.close()
        self.auth.stop()
        self.context.term()
        self.store.close()
        datadir.remove_server_info(self.data_dir, os.getpid())
        self._lock.release()
        log.info("stopped")

    # ---- the socket thread ----

    def _drain(self, socket: zmq.Socket, handle) -> None:
        for _ in range(DRAIN_LIMIT):  # asking EVENTS is cheaper than catching zmq.Again
            if not socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                return
            handle(socket.recv_multipart(zmq.NOBLOCK))

    def _on_request(self, frames: list[bytes]) -> None:
        identity, payload = frames[0], frames[1:]
        msg_id, signed = "", False
        try:
            if len(payload) != 1:
                raise ProtocolError(
                    "bad_message", f"expected one frame per message, got {len(payload)}"
                )
            envelope = decode(self.key, payload[0])
            msg_id, signed = envelope.id, True
            reply = self.service.handle(envelope.type, envelope.body)
        except ProtocolError as error:
            self._refuse(identity, error.msg_id or msg_id, error.to_dict())
            return
        except GVMGenError as error:
            self._refuse(identity, msg_id, error.to_dict())
            return
        except Exception:  # a bug in a handler must not take the server down
            if self.errors.allow(identity):
                log.exception("request %r failed", msg_id)
            # the log's path only for the key holder: the server's folders are its business
            where = f"; see {self.data_dir / datadir.LOG_NAME}" if signed else ""
            body = {
                "code": "internal_error",
                "message": f"the server failed on this request{where}",
            }
            self._send(identity, "error", msg_id, body)
            return
        self._deliver(identity, msg_id, reply)

    def _refuse(self, identity: bytes, msg_id: str, body: dict) -> None:
        """An error reply, within the peer's error budget; past it, dropped (and counted)."""
        if self.errors.allow(identity):
            self._send(identity, "error", msg_id, body)

    def _deliver(self, identity: bytes, msg_id: str, reply: Reply) -> None:
        self._send(identity, reply.type, msg_id, reply.body)
        for event_type, body in reply.then:
            self._send(identity, event_type, msg_id, body)
        if reply.watch is not None:
            watchers = self._watchers.setdefault(reply.watch, {})
            if len(watchers) >= MAX_WATCHERS:
                watchers.pop(next(iter(watchers)))  # the oldest watcher is most likely gone
            watchers[(identity, msg_id)] = None
        for job_id, event_type, body in reply.broadcast:
            self._fan_out(job_id, event_type, body)

    def _on_worker_event(self, frames: list[bytes]) -> None:
        job_id, event_type, body = json.loads(frames[0])
        if event_type == "progress":
            self.service.live[job_id] = body
        else:
            self.service.live.pop(job_id, None)
        self._fan_out(job_id, event_type, body)

    def _fan_out(self, job_id: str, event_type: str, body: dict) -> None:
        watchers = self._watchers.get(job_id, {})
        for identity, msg_id in list(watchers):
            self._send(identity, event_type, msg_id, body)
        if event_type in TERMINAL_EVENTS:
            self._watchers.pop(job_id, None)

    def _heartbeat(self) -> None:
        running = self.worker.running_jobs()
        for job_id, watchers in self._watchers.items():
            body = {"job_id": job_id, "state": "running" if job_id in running else "queued"}
            for identity, msg_id in list(watchers):
                self._send(identity, "heartbeat", msg_id, body)

    def _send(self, identity: bytes, msg_type: str, msg_id: str, body: dict) -> None:
        try:
            self.router.send_multipart(
                [identity, encode(self.key, msg_type, msg_id, body)], zmq.NOBLOCK
            )
        except zmq.ZMQError as error:  # a peer that vanished: its messages are not ours to keep
            log.debug("dropped %s to a gone peer: %s", msg_type, error)

    def _retention_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_retention:
            return
        self._next_retention = now + RETENTION_SECONDS
        try:
            self._retention()
        except sqlite3.OperationalError as error:  # "database is locked": the worker writes
            self._next_retention = now + RETENTION_RETRY_SECONDS
            log.warning(
                "retention: the job store is busy (%s); trying again in %.0f s",
                error,
                RETENTION_RETRY_SECONDS,
            )
        except Exception:  # housekeeping: a failed pass must not take the server down
            log.exception("retention failed; trying again in %.0f s", RETENTION_SECONDS)

    def _retention(self) -> None:
        """One retention pass: old jobs forgotten, their outputs and stale stages reclaimed.
        The socket thread waits at most `RETENTION_PATIENCE_SECONDS` for the store's lock."""
        with self.store.patience(RETENTION_PATIENCE_SECONDS):
            removed = apply_retention(
                self.store, self.data_dir / datadir.OUTPUTS_NAME, self.retention
            )
            if removed:
                log.info("retention: forgot %d finished job(s)", len(removed))
                self.store.compact_journal()
        self._settle_out_dirs(running=self.worker.running_jobs(), wait=False)

    # ---- output folders: half-made commits and stale stages ----

    def _settle_out_dirs(self, running=frozenset(), wait: bool = True) -> list[str]:
        """`outputs.recover` on every output folder a stored job names; the lines it logged.
        Without `wait` (the socket thread's hourly pass), a folder a job is committing in now
        is left for the next pass instead of holding up requests."""
        folders = {j.request.get("out_dir") for j in self.store.jobs(10**9)}
        states = {j.id: j.state for j in self.store.jobs(10**9)}
        lines = []
        for folder in sorted(f for f in folders if isinstance(f, str)):
            try:
                lines += outputs.recover(
                    Path(folder), states.get, self._keep_days(), keep=set(running), wait=wait
                )
            except (OSError, GVMGenError) as error:  # an unplugged disk: the next pass
                log.warning("could not look after %s: %s", folder, error)
        return lines

    def _settle_job_out_dir(self, request: dict) -> None:
        """Before a job runs (worker thread): its folder's half-made commits and stale stages,
        judged against the store by a connection of this thread's own."""
        db = sqlite3.connect(str(self.data_dir / datadir.STORE_NAME), timeout=10.0)
        try:

            def state(job_id: str) -> str | None:
                row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
                return None if row is None else row[0]

            outputs.recover(Path(request["out_dir"]), state, self._keep_days())
        except (OSError, GVMGenError, sqlite3.Error) as error:  # the job's own run says more
            log.warning("could not look after %s: %s", request.get("out_dir"), error)
        finally:
            db.close()

    def _keep_days(self) -> float:
        days = self.retention.max_age_days
        return outputs.STALE_STAGING_DAYS if days is None else days

    # ---- the worker's side (any thread) ----

    def _emit(self, job_id: str, event_type: str, body: dict) -> None:
        message = json.dumps([job_id, event_type, body]).encode()
        with self._outbox_lock:
            if self._outbox_open:
                self._outbox.send(message)


class ErrorBudget:
    """How many errors each peer may still cause: `ERROR_BURST` at once, refilled at
    `ERROR_RATE` per second (a token bucket per peer identity, the least recent forgotten).

    A peer past it gets no reply; the log says how many were dropped, at most once a minute."""

    def __init__(self, burst: float = ERROR_BURST, rate: float = ERROR_RATE):
        self.burst, self.rate = burst, rate
        self.peers: OrderedDict[bytes, list[float]] = OrderedDict()  # [tokens, when]
        self.dropped = 0
        self._noted = time.monotonic()

    def allow(self, peer: bytes) -> bool:
        now = time.monotonic()
        tokens, when = self.peers.pop(peer, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        self.peers[peer] = [tokens - 1, now] if tokens >= 1 else [tokens, now]
        if len(self.peers) > ERROR_PEERS:
            self.peers.popitem(last=False)
        if tokens >= 1:
            return True
        self.dropped += 1
        if now - self._noted >= 60.0:
            log.warning(
                "dropped %d message(s) from peers past their error budget (%g at once, %g/s)",
                self.dropped,
                self.burst,
                self.rate,
            )
            self.dropped, self._noted = 0, now
        return False
