"""The worker: one per device, one job at a time, the engine kept warm between jobs.

It claims the next job from the store (interactive before batch), holds its lease while the
pipeline runs, and reports every progress event and the one terminal event through `emit`,
which hands them to the server's socket thread. Cancel and a lost lease reach the pipeline the
same way: the job's `cancel` event, checked between generation steps. A server stopping sets
`pause` instead: the running job finishes the cue it is on, keeps its checkpoints, and goes
back to the queue with its lease released (no terminal event), for the next start to resume.

A running batch yields between its cues: the pipeline calls the worker's `at_cue_boundary`
before each cue begins, and there the worker runs any interactive job queued meanwhile to its
end (on the batch's own thread, which would only wait), then lets the batch go on. The batch
keeps its lease and its finished cues: nothing is cancelled, nothing is redone, and the engine
stays the one warm instance. Every run ends in one `Outcome`, which `_settle` stores and
announces.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gvmgen_backend.runner import (
    Cancelled,
    JobFailed,
    Paused,
    Runner,
    error_dict,
    free_accelerator_memory,
    is_out_of_memory,
)
from gvmgen_backend.store import Job, JobStore

log = logging.getLogger("gvmgen_backend.worker")

LEASE_SECONDS = 15.0  # a job whose worker stops renewing for this long is requeued
RENEW_SECONDS = 1.0  # lease renewal, progress checkpoint and cancel-flag check interval
IDLE_WAIT_SECONDS = 1.0  # an idle worker looks at the queue this often even without a wake-up
WINDOW_RETRIES = 2  # out of memory with one take: cues of 1/2, then 1/4 of the engine's window
MIN_WINDOW_SECONDS = 2.0  # shorter cues are not music

Emit = Callable[[str, str, dict], None]  # (job_id, event type, body)


@dataclass(frozen=True)
class Outcome:
    """How one run of a job ended. "done": `result` (and the `warnings` of retries); "failed":
    `error` ({code, message, field?, hint?}); "cancelled"; "requeue": back in the queue for the
    next start (`why`, for the log). The first three are terminal events for the watchers."""

    state: Literal["done", "failed", "cancelled", "requeue"]
    result: dict | None = None
    warnings: tuple[str, ...] = ()
    error: dict | None = None
    why: str = ""


class Worker(threading.Thread):
    def __init__(self, store_path: Path, runner: Runner, emit: Emit):
        super().__init__(name="gvmgen-worker", daemon=True)
        self.store_path, self.runner, self.emit = store_path, runner, emit
        self.owner = f"worker-{uuid.uuid4().hex[:8]}"
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pause = threading.Event()  # set when the server stops: jobs halt at a cue boundary
        self._lock = threading.Lock()
        # the running jobs: a batch, and on top of it an interactive job it yielded to
        self._running: list[tuple[Job, threading.Event]] = []
        self._user_cancelled: set[str] = set()
        self._yield_lock = threading.Lock()  # one yielded job at a time

    # ---- called from the server's thread ----

    def notify(self) -> None:
        """A job was queued."""
        self.wake.set()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            self._user_cancelled.add(job_id)
            for job, cancel in self._running:
                if job.id == job_id:
                    cancel.set()

    def current_job(self) -> str | None:
        """The job generating now (an interactive job a batch yielded to, if any)."""
        with self._lock:
            return self._running[-1][0].id if self._running else None

    def running_jobs(self) -> set[str]:
        with self._lock:
            return {job.id for job, _ in self._running}

    def shutdown(self) -> None:
        """Claim no more jobs; the current one runs on."""
        self.stopping.set()
        self.wake.set()

    def pause_running(self) -> None:
        """Let the running jobs finish their current cue, then requeue them, checkpoints kept."""
        self.pause.set()

    def cancel_current(self) -> None:
        """Stop the running jobs at their next step and give them back to the queue."""
        with self._lock:
            for _, cancel in self._running:
                cancel.set()

    # ---- the worker's own thread ----

    def run(self) -> None:
        store = JobStore(self.store_path)
        try:
            while not self.stopping.is_set():
                try:
                    job = store.claim(self.owner, LEASE_SECONDS)
                    if job is not None:
                        self._run_job(store, job)
                        continue
                except Exception:  # the store busy or full: keep the worker, try again soon
                    log.exception("worker: job store error; retrying")
                self.wake.wait(IDLE_WAIT_SECONDS)
                self.wake.clear()
        finally:
            store.close()

    def _at_cue_boundary(self) -> None:
        """Before each cue (pipeline threads): a batch runs the interactive jobs waiting. (The
        pipeline looks at `pause` right after, so a server stopping meanwhile halts it here.)"""
        with self._lock:
            in_batch = len(self._running) == 1 and self._running[0][0].mode == "batch"
        if in_batch and not self.stopping.is_set():
            self._run_waiting_interactive()

    def _run_waiting_interactive(self) -> None:
        with self._yield_lock:
            store = JobStore(self.store_path)
            try:
                while not self.stopping.is_set():
                    job = store.claim(self.owner, LEASE_SECONDS, interactive_only=True)
                    if job is None:
                        return
                    log.info("batch yields to job %s", job.id)
                    self._run_job(store, job)
            finally:
                store.close()

    def _run_job(self, store: JobStore, job: Job) -> None:
        cancel = threading.Event()
        with self._lock:
            self._running.append((job, cancel))
        if job.cancel_requested:
            self.cancel(job.id)
        keeper = _LeaseKeeper(self, job.id, cancel)
        keeper.start()
        log.info("job %s running (attempt %d)", job.id, job.attempts)
        try:
            outcome = self._outcome(store, job, cancel, keeper)
        finally:
            keeper.stop()
            with self._lock:
                self._running = [(j, c) for j, c in self._running if j.id != job.id]
                self._user_cancelled.discard(job.id)
        self._settle(store, job, outcome, keeper.latest)

    def _outcome(
        self, store: JobStore, job: Job, cancel: threading.Event, keeper: _LeaseKeeper
    ) -> Outcome:
        def on_event(event: dict) -> None:
            keeper.latest = event
            self.emit(job.id, "progress", event)

        try:
            result, warnings = self._score_within_memory(store, job, on_event, cancel)
            return Outcome("done", result=result, warnings=tuple(warnings))
        except Paused:
            return Outcome("requeue", why="paused at a cue boundary, checkpoints kept")
        except Cancelled:
            with self._lock:
                by_user = job.id in self._user_cancelled
            if by_user or not self.stopping.is_set():
                return Outcome("cancelled")
            return Outcome("requeue", why="stopped mid-cue; it starts again")
        except JobFailed as failure:
            return Outcome("failed", error=failure.error)
        except Exception as error:  # a bug, not the user's fault: keep serving other jobs
            log.exception("job %s crashed", job.id)
            return Outcome("failed", error=error_dict(error))

    def _score_within_memory(
        self,
        store: JobStore,
        job: Job,
        on_event: Callable[[dict], None],
        cancel: threading.Event,
    ) -> tuple[dict, list[str]]:
        """(result, warnings); on CUDA out-of-memory retry with half the takes, down to one,
        then with shorter windows (cues), WINDOW_RETRIES times; then a clear failure.

        A smaller request is stored, so a crash and resume later continues that one.
        """
        request, warnings, window = job.request, list(job.warnings), None
        reached = (job.progress or {}).get("fraction", 0.0)  # by an earlier attempt
        while True:
            try:
                result = self.runner.run(
                    request,
                    on_event,
                    cancel,
                    pause=self.pause,
                    progress_from=reached,
                    at_cue_boundary=self._at_cue_boundary,
                    max_cue_seconds=window,
                )
                return result, warnings
            except Exception as error:
                if not _out_of_memory(error):
                    raise
                free_accelerator_memory()
                takes = request.get("takes", 1)
                if takes > 1:
                    fewer = max(1, takes // 2)
                    warnings.append(f"out of GPU memory with {takes} takes; made {fewer} instead")
                    request = {**request, "takes": fewer}
                    store.set_request(job.id, self.owner, request, warnings)
                else:
                    window = self._shorter_window(request, window, error)
                    warnings.append(f"out of GPU memory; cues of at most {window:g} s instead")
                log.warning("job %s: %s; retrying", job.id, warnings[-1])

    def _shorter_window(self, request: dict, window: float | None, error: Exception) -> float:
        """Half the engine's window (or of the last one tried); JobFailed past the last try."""
        full = self.runner.window_seconds(request)
        if not math.isfinite(full):
            raise JobFailed(_oom_error()) from error
        shorter = (window or full) / 2
        if shorter < full / 2**WINDOW_RETRIES or shorter < MIN_WINDOW_SECONDS:
            raise JobFailed(_oom_error()) from error
        return shorter

    def _settle(self, store: JobStore, job: Job, outcome: Outcome, progress: dict | None) -> None:
        """Store the outcome first, then tell the watchers: a terminal event is never undone."""
        state = outcome.state
        if state == "requeue":
            store.requeue(job.id, self.owner, progress)
            log.info(
                "job %s %s; back in the queue (lease released) for the next start",
                job.id,
                outcome.why,
            )
            return
        body: dict = {"job_id": job.id}
        if state == "done":
            warnings = list(outcome.warnings)
            stored = store.finish(
                job.id,
                self.owner,
                "done",
                result=outcome.result,
                warnings=warnings,
                progress=progress,
            )
            body["result"] = outcome.result
            if warnings:
                body["warnings"] = warnings
        elif state == "failed":
            stored = store.finish(
                job.id, self.owner, "failed", error=outcome.error, progress=progress
            )
            body["error"] = outcome.error
        else:
            stored = store.finish(job.id, self.owner, "cancelled", progress=progress)
        if stored:
            log.info("job %s %s", job.id, state)
            self.emit(job.id, state, body)
        else:
            log.warning("job %s: lease lost before it finished; outcome %s dropped", job.id, state)


def _out_of_memory(error: Exception) -> bool:
    if isinstance(error, JobFailed):
        return error.error.get("code") == "out_of_memory"
    return is_out_of_memory(error)


def _oom_error() -> dict:
    return {
        "code": "out_of_memory",
        "message": "the GPU ran out of memory even with one take and shorter cues",
        "hint": "close other programs using the GPU, score a shorter range, "
        "or use --engine arranger",
    }


class _LeaseKeeper(threading.Thread):
    """Renews the job's lease, saves the latest progress and watches the cancel flag."""

    def __init__(self, worker: Worker, job_id: str, cancel: threading.Event):
        super().__init__(name=f"lease-{job_id}", daemon=True)
        self.worker, self.job_id, self.cancel = worker, job_id, cancel
        self.latest: dict | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        store = JobStore(self.worker.store_path)
        try:
            while not self._halt.wait(RENEW_SECONDS):
                self._renew(store)
        finally:
            store.close()

    def _renew(self, store: JobStore) -> None:
        owned = store.renew(self.job_id, self.worker.owner, LEASE_SECONDS, self.latest)
        job = store.get(self.job_id)
        if job is not None and job.cancel_requested:
            self.worker.cancel(self.job_id)
        elif not owned:
            log.warning("job %s: lease lost; stopping it", self.job_id)
            self.cancel.set()

    def stop(self) -> None:
        self._halt.set()
        self.join()
