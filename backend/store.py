"""The job store: SQLite in WAL mode, so an accepted job survives a crash or a restart.

State machine: queued → running → done | failed | cancelled. A worker claims a job with a
lease it renews; a job whose worker died (its lease ran out, or its server's data-dir lock was
released by death) goes back to queued and resumes from its cue checkpoints. The client's `key`
is unique: submitting it again returns the job it made the first time.

One `JobStore` per thread: a connection is used by one thread at a time (the server opens its
store before its socket thread starts, hence `check_same_thread=False`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

STATES = ("queued", "running", "done", "failed", "cancelled")
TERMINAL_STATES = ("done", "failed", "cancelled")
INTERACTIVE, BATCH = 0, 1  # priority: range and regenerate jobs go before batch jobs

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    request TEXT NOT NULL,
    mode TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),
    created REAL NOT NULL,
    updated REAL NOT NULL,
    started REAL,
    finished REAL,
    lease_owner TEXT,
    lease_until REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress TEXT,
    result TEXT,
    error TEXT,
    warnings TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, priority, created);
"""


class KeyConflict(Exception):
    """The idempotency key was used before for a different request."""


@dataclass
class Job:
    id: str
    key: str
    request: dict
    mode: str
    state: str
    created: float
    updated: float
    started: float | None = None
    finished: float | None = None
    attempts: int = 0
    cancel_requested: bool = False
    progress: dict | None = None
    result: dict | None = None
    error: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def status(self) -> dict:
        """What `status` and `list` replies say about the job."""
        progress = self.progress or {}
        return {
            "job_id": self.id,
            "state": self.state,
            "mode": self.mode,
            "input": self.request.get("input"),
            "out_dir": self.request.get("out_dir"),
            "takes": self.request.get("takes"),
            "fraction": 1.0 if self.state == "done" else progress.get("fraction", 0.0),
            "stage": progress.get("stage"),
            "message": progress.get("message", ""),
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "attempts": self.attempts,
            "cancel_requested": self.cancel_requested,
            "error": self.error,
            "warnings": self.warnings,
        }


def request_hash(request: dict) -> str:
    text = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class JobStore:
    def __init__(self, path: Path, busy_timeout: float = 10.0):
        self.path = path
        self.db = sqlite3.connect(
            str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # `accepted` goes out only after an fsync
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ---- submit and read ----

    def submit(self, key: str, request: dict, mode: str) -> tuple[Job, bool]:
        """(job, created): a new queued job, or the one this key made before."""
        digest = request_hash(request)
        job_id = uuid.uuid4().hex[:12]
        request = {**request, "job_id": job_id}
        now = time.time()
        priority = BATCH if mode == "batch" else INTERACTIVE
        with self._transaction():
            row = self.db.execute("SELECT * FROM jobs WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row["request_hash"] != digest:
                    raise KeyConflict(key)
                return _job(row), False
            self.db.execute(
                "INSERT INTO jobs (id, key, request_hash, request, mode, priority, state, "
                "created, updated) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                (job_id, key, digest, json.dumps(request), mode, priority, now, now),
            )
        return self.get(job_id), True

    def get(self, job_id: str) -> Job | None:
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs(self, limit: int = 100, states: tuple[str, ...] = STATES) -> list[Job]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY created DESC LIMIT ?",
            (*states, limit),
        ).fetchall()
        return [_job(r) for r in rows]

    def queue_length(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]

    # ---- the worker's side ----

    def claim(self, owner: str, lease_seconds: float, interactive_only=False) -> Job | None:
        """The next queued job (interactive first, then oldest), now running under a lease."""
        now = time.time()
        most = INTERACTIVE if interactive_only else BATCH
        with self._transaction():
            row = self.db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' AND priority <= ? "
                "ORDER BY priority, created LIMIT 1",
                (most,),
            ).fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, "
                "attempts = attempts + 1, started = COALESCE(started, ?), updated = ? "
                "WHERE id = ?",
                (owner, now + lease_seconds, now, now, row["id"]),
            )
        return self.get(row["id"])

    def renew(self, job_id: str, owner: str, lease_seconds: float, progress: dict | None) -> bool:
        """Extend the lease (and save the latest progress); False if the job is no longer ours."""
        now = time.time()
        cursor = self.db.execute(
            "UPDATE jobs SET lease_until = ?, updated = ?, progress = COALESCE(?, progress) "
            "WHERE id = ? AND lease_owner = ? AND state = 'running'",
            (now + lease_seconds, now, _dumps(progress), job_id, owner),
        )
        return cursor.rowcount == 1

    def set_request(self, job_id: str, owner: str, request: dict, warnings: list[str]) -> bool:
        """Replace a running job's request (a retry asks for less); its key keeps the old one."""
        cursor = self.db.execute(
            "UPDATE jobs SET request = ?, warnings = ?, updated = ? WHERE id = ? AND "
            "lease_owner = ? AND state = 'running'",
            (json.dumps(request), json.dumps(warnings), time.time(), job_id, owner),
        )
        return cursor.rowcount == 1

    def finish(self, job_id: str, owner: str, state: str, **outcome) -> bool:
        """Move a running job to a terminal state, with its result or error. Once only."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"not a terminal state: {state!r}")
        now = time.time()
        cursor = self.db.execute(
            "UPDATE jobs SET state = ?, finished = ?, updated = ?, lease_owner = NULL, "
            "lease_until = NULL, result = ?, error = ?, warnings = ?, "
            "progress = COALESCE(?, progress) WHERE id = ? AND lease_owner = ? "
            "AND state = 'running'",
            (
                state,
                now,
                now,
                _dumps(outcome.get("result")),
                _dumps(outcome.get("error")),
                json.dumps(outcome.get("warnings") or []),
                _dumps(outcome.get("progress")),
                job_id,
                owner,
            ),
        )
        return cursor.rowcount == 1

    def requeue(self, job_id: str, owner: str, progress: dict | None = None) -> bool:
        """Give a running job back to the queue (server shutting down), with its progress."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
            "updated = ?, progress = COALESCE(?, progress) WHERE id = ? AND lease_owner = ? "
            "AND state = 'running'",
            (time.time(), _dumps(progress), job_id, owner),
        )
        return cursor.rowcount == 1

    def requeue_abandoned(self, every_lease: bool = False) -> list[str]:
        """Requeue running jobs whose lease ran out (every running job when `every_lease`:
        the caller holds the data-dir lock, so their worker is dead)."""
        now = time.time()
        limit = float("inf") if every_lease else now
        with self._transaction():
            rows = self.db.execute(
                "SELECT id FROM jobs WHERE state = 'running' AND COALESCE(lease_until, 0) < ?",
                (limit,),
            ).fetchall()
            ids = [r["id"] for r in rows]
            for job_id in ids:
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, "
                    "updated = ? WHERE id = ?",
                    (now, job_id),
                )
        return ids

    def request_cancel(self, job_id: str) -> Job | None:
        """A queued job is cancelled at once; a running one is flagged for its worker."""
        now = time.time()
        with self._transaction():
            self.db.execute(
                "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished = ?, "
                "updated = ? WHERE id = ? AND state = 'queued'",
                (now, now, job_id),
            )
            self.db.execute(
                "UPDATE jobs SET cancel_requested = 1, updated = ? "
                "WHERE id = ? AND state = 'running'",
                (now, job_id),
            )
        return self.get(job_id)

    # ---- retention ----

    def prune(self, older_than: float, keep: set[str] = frozenset()) -> list[Job]:
        """Delete terminal jobs finished before `older_than`, except those in `keep`."""
        rows = self.db.execute(
            "SELECT * FROM jobs WHERE state IN ('done','failed','cancelled') AND finished < ?",
            (older_than,),
        ).fetchall()
        pruned = [_job(r) for r in rows if r["id"] not in keep]
        with self._transaction():
            for job in pruned:
                self.db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        return pruned

    def _transaction(self):
        return _Immediate(self.db)


class _Immediate:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): a write lock from the first statement."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def _dumps(value) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(text: str | None):
    return None if text is None else json.loads(text)


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        key=row["key"],
        request=json.loads(row["request"]),
        mode=row["mode"],
        state=row["state"],
        created=row["created"],
        updated=row["updated"],
        started=row["started"],
        finished=row["finished"],
        attempts=row["attempts"],
        cancel_requested=bool(row["cancel_requested"]),
        progress=_loads(row["progress"]),
        result=_loads(row["result"]),
        error=_loads(row["error"]),
        warnings=json.loads(row["warnings"]),
    )
