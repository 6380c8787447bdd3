"""The job store: SQLite in WAL mode, and beside it a journal that can rebuild it.

State machine: queued → running → done | failed | cancelled. A worker claims a job with a
lease it renews; a job whose worker died (its lease ran out, or its server's data-dir lock was
released by death) goes back to queued and resumes from its cue checkpoints. The client's `key`
is unique: submitting it again returns the job it made the first time.

Durability lives in the journal (`jobs.journal` beside `jobs.sqlite`): one JSON line per change
that matters (a job accepted, its request made smaller, a cancel, its outcome, its retention),
written and flushed to the disk (fsync) inside the store's write transaction, before the
change is acknowledged. SQLite runs with `synchronous=NORMAL` (in WAL mode: consistent after
any crash, and a kill -9 loses nothing); whatever a power cut or a damaged file takes from it,
`open_store` puts back from the journal at the next start. Leases, attempts and progress are
not journalled: a rebuilt job that had not finished is queued again and resumes from its cue
checkpoints.

One `JobStore` per thread: a connection is used by one thread at a time (the server opens its
store before its socket thread starts, hence `check_same_thread=False`). The stores of one
process share one journal per path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from gvmgen.errors import GVMGenError

log = logging.getLogger("gvmgen_backend.store")

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


JOURNAL_SUFFIX = ".journal"
_JOB_FIELDS = ("id", "key", "request_hash", "request", "mode", "priority", "created")


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
    result_json: str | None = field(default=None, repr=False)  # see `result`
    error: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @functools.cached_property
    def result(self) -> dict | None:
        """The job's ScoreResult, parsed on first use: `status` and `list`, the requests
        asked most, never read it, and a batch's result runs to kilobytes."""
        return _loads(self.result_json)

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
        self.path = Path(path)
        self.db = _connect(self.path, busy_timeout)
        self.journal = Journal.attach(journal_path(self.path))

    def close(self) -> None:
        self.db.close()
        if self.journal is not None:
            self.journal.detach()
            self.journal = None

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
            self.journal.append(
                {
                    "op": "submit",
                    "id": job_id,
                    "key": key,
                    "request_hash": digest,
                    "request": request,
                    "mode": mode,
                    "priority": priority,
                    "created": now,
                }
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
        with self._transaction():
            cursor = self.db.execute(
                "UPDATE jobs SET request = ?, warnings = ?, updated = ? WHERE id = ? AND "
                "lease_owner = ? AND state = 'running'",
                (json.dumps(request), json.dumps(warnings), time.time(), job_id, owner),
            )
            if cursor.rowcount == 1:
                self.journal.append(
                    {"op": "request", "id": job_id, "request": request, "warnings": warnings}
                )
        return cursor.rowcount == 1

    def finish(self, job_id: str, owner: str, state: str, **outcome) -> bool:
        """Move a running job to a terminal state, with its result or error. Once only."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"not a terminal state: {state!r}")
        now = time.time()
        warnings = outcome.get("warnings") or []
        with self._transaction():
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
                    json.dumps(warnings),
                    _dumps(outcome.get("progress")),
                    job_id,
                    owner,
                ),
            )
            if cursor.rowcount == 1:
                self.journal.append(_finish_record(job_id, state, now, outcome, warnings))
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
            queued = self.db.execute(
                "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished = ?, "
                "updated = ? WHERE id = ? AND state = 'queued'",
                (now, now, job_id),
            ).rowcount
            running = self.db.execute(
                "UPDATE jobs SET cancel_requested = 1, updated = ? "
                "WHERE id = ? AND state = 'running'",
                (now, job_id),
            ).rowcount
            if queued or running:
                self.journal.append({"op": "cancel", "id": job_id, "at": now})
        return self.get(job_id)

    # ---- retention ----

    def prune(self, older_than: float, keep: set[str] = frozenset()) -> list[Job]:
        """Delete terminal jobs finished before `older_than`, except those in `keep`."""
        rows = self.db.execute(
            "SELECT * FROM jobs WHERE state IN ('done','failed','cancelled') AND finished < ?",
            (older_than,),
        ).fetchall()
        pruned = [_job(r) for r in rows if r["id"] not in keep]
        if not pruned:
            return pruned
        with self._transaction():
            for job in pruned:
                self.db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
            self.journal.append({"op": "forget", "ids": [job.id for job in pruned]})
        return pruned

    @contextlib.contextmanager
    def patience(self, seconds: float):
        """Wait at most `seconds` for another connection's write lock (instead of the
        store's busy timeout) inside the block: sqlite3.OperationalError past it."""
        (before,) = self.db.execute("PRAGMA busy_timeout").fetchone()
        self.db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield self
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(before)}")

    # ---- the journal ----

    def compact_journal(self) -> None:
        """Rewrite the journal as one record per job the store holds (it only grows between)."""
        with self._transaction():
            rows = self.db.execute("SELECT * FROM jobs ORDER BY created").fetchall()
            self.journal.rewrite(record for row in rows for record in _records_of(row))

    def restore(self, records: list[dict]) -> int:
        """Apply journal records the store lacks (a lost WAL, a power cut, a rebuilt file);
        returns how many jobs were added or brought up to date."""
        jobs = replay(records)
        changed = 0
        with self._transaction():
            for job in jobs.values():
                changed += self._restore_job(job)
        return changed

    def _restore_job(self, job: dict) -> int:
        row = self.db.execute("SELECT state, request FROM jobs WHERE id = ?", (job["id"],))
        row = row.fetchone()
        if row is None:
            if self.db.execute("SELECT 1 FROM jobs WHERE key = ?", (job["key"],)).fetchone():
                return 0  # the store has another job under this key: the store wins
            self.db.execute(
                "INSERT INTO jobs (id, key, request_hash, request, mode, priority, created, "
                "state, updated, finished, cancel_requested, result, error, warnings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *(job[k] if k != "request" else json.dumps(job[k]) for k in _JOB_FIELDS),
                    job["state"],
                    job["created"],
                    job.get("finished"),
                    int(job.get("cancel_requested", False)),
                    _dumps(job.get("result")),
                    _dumps(job.get("error")),
                    json.dumps(job.get("warnings", [])),
                ),
            )
            return 1
        if row["state"] in TERMINAL_STATES or job["state"] not in TERMINAL_STATES:
            if json.loads(row["request"]) == job["request"]:
                return 0
            self.db.execute(
                "UPDATE jobs SET request = ? WHERE id = ?", (json.dumps(job["request"]), job["id"])
            )
            return 1
        self.db.execute(  # the journal saw it finish; the store lost that
            "UPDATE jobs SET state = ?, finished = ?, lease_owner = NULL, lease_until = NULL, "
            "result = ?, error = ?, warnings = ?, request = ? WHERE id = ?",
            (
                job["state"],
                job.get("finished"),
                _dumps(job.get("result")),
                _dumps(job.get("error")),
                json.dumps(job.get("warnings", [])),
                json.dumps(job["request"]),
                job["id"],
            ),
        )
        return 1

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
        result_json=row["result"],
        error=_loads(row["error"]),
        warnings=json.loads(row["warnings"]),
    )


# ---- the journal ----


def journal_path(store_path: Path) -> Path:
    return Path(store_path).with_suffix(JOURNAL_SUFFIX)


class Journal:
    """Append-only JSON lines, each flushed to the disk before `append` returns.

    One per path per process (`attach`/`detach` count its users), so every thread's appends
    go through one descriptor and one lock, and `rewrite` can swap the file under them.
    """

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.users = 0
        self.fd = _open_append(path)

    @classmethod
    def attach(cls, path: Path) -> Journal:
        with _JOURNALS_LOCK:
            journal = _JOURNALS.get(path)
            if journal is None:
                journal = _JOURNALS[path] = cls(path)
            journal.users += 1
            return journal

    def detach(self) -> None:
        with _JOURNALS_LOCK:
            self.users -= 1
            if self.users == 0:
                _JOURNALS.pop(self.path, None)
                os.close(self.fd)

    def append(self, record: dict) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)
            os.fsync(self.fd)

    def rewrite(self, records) -> None:
        """Replace the journal by `records`, atomically (flushed, then renamed over it)."""
        tmp = self.path.with_name(f".{self.path.name}.partial-{os.getpid()}")
        with self.lock:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for record in records:
                    os.write(fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            _fsync_folder(self.path.parent)
            os.close(self.fd)
            self.fd = _open_append(self.path)


_JOURNALS: dict[Path, Journal] = {}  # the journals open in this process, by path
_JOURNALS_LOCK = threading.Lock()


def read_journal(path: Path) -> tuple[list[dict], int]:
    """(records, lines that could not be read). A line cut short by a crash was never
    acknowledged (its fsync had not returned), so skipping it loses nothing promised."""
    records, bad = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("op"), str):
                records.append(record)
            else:
                bad += 1
    return records, bad


def replay(records: list[dict]) -> dict[str, dict]:
    """The jobs the journal describes: id -> the job's fields and its latest state."""
    jobs: dict[str, dict] = {}
    for record in records:
        op, job = record["op"], jobs.get(record.get("id", ""))
        if op == "submit" and all(k in record for k in _JOB_FIELDS):
            jobs[record["id"]] = {k: record[k] for k in _JOB_FIELDS} | {"state": "queued"}
        elif op == "finish" and job is not None:
            job.update({k: record.get(k) for k in ("state", "finished", "result", "error")})
            job["warnings"] = record.get("warnings") or []
        elif op == "request" and job is not None:
            job["request"], job["warnings"] = record["request"], record.get("warnings") or []
        elif op == "cancel" and job is not None and job["state"] not in TERMINAL_STATES:
            job["cancel_requested"] = True
        elif op == "forget":
            for job_id in record.get("ids", []):
                jobs.pop(job_id, None)
    return {k: v for k, v in jobs.items() if v.get("state") in STATES}


def _records_of(row: sqlite3.Row) -> list[dict]:
    job = _job(row)
    submit = {
        "op": "submit",
        **{k: row[k] for k in _JOB_FIELDS if k != "request"},
        "request": job.request,
    }
    records = [submit]
    if job.cancel_requested and not job.terminal:
        records.append({"op": "cancel", "id": job.id, "at": row["updated"]})
    if job.terminal:
        outcome = {"result": job.result, "error": job.error}
        records.append(_finish_record(job.id, job.state, job.finished, outcome, job.warnings))
    return records


def _finish_record(job_id: str, state: str, at, outcome: dict, warnings: list) -> dict:
    record = {"op": "finish", "id": job_id, "state": state, "finished": at, "warnings": warnings}
    for name in ("result", "error"):
        if outcome.get(name) is not None:
            record[name] = outcome[name]
    return record


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def _fsync_folder(folder: Path) -> None:
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _connect(path: Path, busy_timeout: float = 10.0) -> sqlite3.Connection:
    db = sqlite3.connect(
        str(path), timeout=busy_timeout, isolation_level=None, check_same_thread=False
    )
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # the journal's fsync makes a change durable
    db.executescript(_SCHEMA)
    return db


# ---- opening the store at a server's start ----


class StoreDamaged(GVMGenError):
    """The job store is damaged and nothing can rebuild it: the server does not start."""

    code = "store_damaged"


def open_store(path: Path) -> tuple[JobStore, list[str]]:
    """The server's store, checked (`PRAGMA quick_check`) and made whole from the journal;
    with the lines to log about what was found.

    A damaged file is quarantined (renamed `jobs.sqlite.damaged-<time>`) and rebuilt from the
    journal; `StoreDamaged` when there is no journal to rebuild it from. A store that lost
    jobs (emptied, its WAL deleted or damaged) gets them back from the journal. The store is
    never opened silently empty when the journal knows jobs.
    """
    path = Path(path)
    lines: list[str] = []
    journal = journal_path(path)
    records, bad = read_journal(journal) if journal.exists() else ([], 0)
    if bad:
        lines.append(f"journal {journal}: skipped {bad} unreadable line(s) (a write cut short)")
    damage = _damage(path)
    if damage is not None:
        if not journal.exists():
            raise StoreDamaged(
                f"the job store {str(path)!r} is damaged ({damage}) and there is no journal "
                f"({journal.name}) to rebuild it from; move it away to start with an empty store "
                "(its jobs are then lost) or put back a copy from a backup",
                hint="the server did not start; nothing was changed",
            )
        kept = _quarantine(path)
        lines.append(
            f"the job store {path} was damaged ({damage}); moved it to {kept}; rebuilding it "
            f"from the journal {journal}"
        )
    store = JobStore(path)
    try:
        restored = store.restore(records)
        if restored:
            lines.append(
                f"the job store {path} lacked {restored} job change(s) the journal {journal} "
                "holds (a lost or damaged file, a power cut); put them back"
            )
        store.compact_journal()
    except BaseException:
        store.close()
        raise
    return store, lines


def _damage(path: Path) -> str | None:
    """What is wrong with the store file, or None (missing is not damaged: a first start)."""
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as error:
        return str(error)
    verdict = "; ".join(str(r[0]) for r in rows[:3])
    return None if verdict == "ok" else f"quick_check: {verdict}"


def _quarantine(path: Path) -> Path:
    """Move the store (and its -wal and -shm) aside, under a name that says what it is."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while kept.exists():
        n += 1
        kept = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        if source.exists():
            source.rename(kept.with_name(kept.name + suffix))
    return kept
