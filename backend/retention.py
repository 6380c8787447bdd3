"""The retention rule: old finished jobs and their outputs are cleaned, live ones never.

Only outputs the server owns are deleted: folders under DATA/outputs/. A folder the request
named elsewhere is the editor's, and is only forgotten by the store, never removed. A folder
that a queued or running job writes to is kept whatever its age (its takes are referenced).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from gvmgen_backend.store import JobStore

log = logging.getLogger("gvmgen_backend.retention")


@dataclass(frozen=True)
class Retention:
    max_age_days: float | None = 30.0  # finished jobs older than this are cleaned; None: never
    max_output_bytes: int | None = None  # DATA/outputs/ is kept under this size, oldest first

    def validate(self) -> None:
        if self.max_age_days is not None and self.max_age_days < 0:
            raise ValueError(f"max_age_days must be >= 0, got {self.max_age_days}")
        if self.max_output_bytes is not None and self.max_output_bytes < 0:
            raise ValueError(f"max_output_bytes must be >= 0, got {self.max_output_bytes}")


def apply_retention(store: JobStore, outputs: Path, rule: Retention, now: float | None = None):
    """Clean what the rule allows; returns the job ids whose records were removed."""
    now = time.time() if now is None else now
    removed = []
    if rule.max_age_days is not None:
        live = {j.id for j in store.jobs(10**9) if _out_dir(j.request) in _live_out_dirs(store)}
        removed += store.prune(now - rule.max_age_days * 86400, keep=live)
    if rule.max_output_bytes is not None:
        removed += _shrink(store, outputs, rule.max_output_bytes)
    _remove_unreferenced(store, outputs, removed)
    return [job.id for job in removed]


def _shrink(store: JobStore, outputs: Path, limit: int) -> list:
    """Forget the oldest finished jobs with server-owned outputs until DATA/outputs fits."""
    live = _live_out_dirs(store)
    finished = sorted(store.jobs(10**9, ("done", "failed", "cancelled")), key=lambda j: j.created)
    removed, size = [], _size(outputs)
    for job in finished:
        folder = _out_dir(job.request)
        if size <= limit:
            break
        if folder in live or not _owned(folder, outputs):
            continue
        removed += store.prune(float("inf"), keep={j.id for j in finished if j.id != job.id})
        size -= _size(folder) if not _still_referenced(store, folder) else 0
    return removed


def _remove_unreferenced(store: JobStore, outputs: Path, removed: list) -> None:
    """Delete the server-owned folders of forgotten jobs that no remaining job writes or cites."""
    for folder in {_out_dir(job.request) for job in removed}:
        if _owned(folder, outputs) and folder.exists() and not _still_referenced(store, folder):
            log.info("retention: removing %s", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _still_referenced(store: JobStore, folder: Path) -> bool:
    return any(_out_dir(j.request) == folder for j in store.jobs(10**9))


def _live_out_dirs(store: JobStore) -> set[Path]:
    return {_out_dir(j.request) for j in store.jobs(10**9, ("queued", "running"))}


def _out_dir(request: dict) -> Path:
    return Path(request.get("out_dir", "")).resolve()


def _owned(folder: Path, outputs: Path) -> bool:
    outputs = outputs.resolve()
    return folder != outputs and folder.is_relative_to(outputs)


def _size(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
