"""Progress callbacks and cancellation: the few names every layer shares (standard library only).

Engines, the model's sampler, analysis and alignment report `progress(fraction, message)` with
`fraction` in [0, 1] of their own work, and call `check_cancel(cancel)` between steps. Where
each piece of work lies on the progress bar is one table, `STAGE_WEIGHTS`: every place maps its
own [0, 1] onto its stage with `scaled(progress, *span(table, stage))`. The pipeline weighs the
parts done on many threads into the whole job's fraction (`Parts`), and a `Pump` delivers them
on the calling thread, where they become `gvmgen.schema.ProgressEvent`s. The Pump is the one
place that keeps the fraction from going backwards.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import TypeVar

from gvmgen.errors import Cancelled, Paused

__all__ = [
    "STAGE_WEIGHTS",
    "Cancelled",
    "Parts",
    "Paused",
    "Post",
    "ProgressFn",
    "Pump",
    "Update",
    "check_cancel",
    "check_pause",
    "report",
    "scaled",
    "span",
]

T = TypeVar("T")

# progress(fraction of this piece of work in [0, 1], message)
ProgressFn = Callable[[float, str], None]

# The progress bar: each table's stages in the order they run, with their weights (shares of
# the table's whole). "job" is the whole bar; a cue's stages share that cue's part of the job's
# "render" (GVMGen's time is all in the model, the arranger's in alignment); "level" and "write"
# split those stages; "model" is GVMGen's sampler (the LM steps, then EnCodec's one decode).
# Adding a stage is one more (name, weight) pair here, and `span(table, name)` where it runs.
STAGE_WEIGHTS: dict[str, tuple[tuple[str, int], ...]] = {
    "job": (
        ("timeline", 2),
        ("cuts", 7),
        ("plan", 1),
        ("render", 75),
        ("measure", 12),
        ("write", 3),
    ),
    "cue on a GPU": (("generate", 90), ("align", 8), ("level", 2)),
    "cue on a CPU": (("generate", 35), ("align", 50), ("level", 15)),
    "level": (("resample", 2), ("loudness", 8)),
    "write": (("files", 9), ("commit", 1)),
    "model": (("lm", 95), ("decode", 5)),
}


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise `Cancelled` when the job was cancelled; long loops call it between steps."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")


def check_pause(pause: threading.Event | None) -> None:
    """Raise `Paused` when the job was asked to pause; called only at cue boundaries, where
    every cue before is checkpointed, so nothing finished is lost."""
    if pause is not None and pause.is_set():
        raise Paused("paused at a cue boundary; the same job id resumes it")


def report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    """`progress(fraction, message)` when there is a listener."""
    if progress is not None:
        progress(fraction, message)


def scaled(progress: ProgressFn | None, start: float, end: float) -> ProgressFn | None:
    """A callback that maps its [0, 1] onto `[start, end]` of `progress`."""
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (end - start) * fraction, message)


def span(table: str, stage: str) -> tuple[float, float]:
    """Where `stage` lies in [0, 1] of its table's work, by `STAGE_WEIGHTS`."""
    weights = STAGE_WEIGHTS[table]
    total = sum(w for _, w in weights)
    before = 0
    for name, weight in weights:
        if name == stage:
            return before / total, (before + weight) / total
        before += weight
    raise KeyError(f"no stage {stage!r} in the {table!r} progress table")


@dataclass(frozen=True)
class Update:
    """One step of a job: the stage, which cue and take, and the fraction of the whole job."""

    stage: str
    fraction: float
    message: str
    cue: int | None = None
    take: int | None = None


Post = Callable[[Update], None]  # hands a step to the job's listener (`Pump.post`), any thread


class Parts:
    """The whole job's fraction from parts done on any thread.

    `weights` give each part's share of `[start, end]` of the job. Threads may report out of
    order; the `Pump` the fractions go to keeps them from going backwards.
    """

    def __init__(self, weights: dict[Hashable, float], start: float, end: float):
        total = sum(weights.values()) or 1.0
        self.share = {key: (end - start) * w / total for key, w in weights.items()}
        self.start = start
        self.done = dict.fromkeys(weights, 0.0)
        self._lock = threading.Lock()

    def advance(self, key: Hashable, fraction: float) -> float:
        """Record part `key` as `fraction` done; the whole job's fraction now."""
        with self._lock:
            self.done[key] = min(max(fraction, 0.0), 1.0)
            return self.start + sum(self.share[k] * d for k, d in self.done.items())


class Pump:
    """Runs a job on a worker thread and delivers its updates on the calling thread.

    Workers `post()` from any thread; `run()` hands each update to `deliver(update, eta)` in
    order, with the fraction never below `start` or one delivered before (the one place the
    never-backwards rule lives), and repeats the latest one when a second passes without
    news, so a listener is never left in silence. Setting `cancel` sets `stop`, which the work
    checks between steps.

    :param start: the fraction a resumed job had reached before: its kept cues are reported
        again from 0, and a listener must not see the bar go back.
    """

    HEARTBEAT = 1.0  # s without an update before the latest is repeated
    POLL = 0.05  # s between looks at `cancel`

    def __init__(self, deliver: Callable[[Update, float | None], None], start: float = 0.0):
        self.deliver = deliver
        self.start = start
        self.stop = threading.Event()
        self._queue: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self._last: Update | None = None

    def post(self, update: Update) -> None:
        self._queue.put(update)

    def run(self, work: Callable[[], T], cancel: threading.Event | None = None) -> T:
        """`work()` on a worker thread; returns its result or raises its exception."""
        began = time.monotonic()
        box: dict = {}
        worker = threading.Thread(target=_into(box, work), name="gvmgen-job", daemon=True)
        worker.start()
        try:
            self._pump(worker, began, cancel)
        except BaseException:  # KeyboardInterrupt here: stop the work, let it clean up
            self.stop.set()
            worker.join()
            raise
        if "error" in box:
            raise box["error"]
        return box["result"]

    def _pump(self, worker: threading.Thread, began: float, cancel: threading.Event | None) -> None:
        quiet_since = time.monotonic()
        while worker.is_alive() or not self._queue.empty():
            if cancel is not None and cancel.is_set():
                self.stop.set()
            try:
                update = self._queue.get(timeout=self.POLL)
            except queue.Empty:
                if self._last is not None and time.monotonic() - quiet_since >= self.HEARTBEAT:
                    self._send(self._last, began)
                    quiet_since = time.monotonic()
                continue
            self._send(update, began)
            quiet_since = time.monotonic()

    def _send(self, update: Update, began: float) -> None:
        floor = self.start if self._last is None else self._last.fraction
        if update.fraction < floor:
            update = replace(update, fraction=floor)
        self._last = update
        elapsed = time.monotonic() - began
        eta = elapsed * (1 - update.fraction) / update.fraction if update.fraction >= 0.05 else None
        self.deliver(update, None if eta is None else round(eta, 1))


def _into(box: dict, work: Callable[[], T]) -> Callable[[], None]:
    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as error:  # handed to the calling thread, re-raised there
            box["error"] = error

    return target
