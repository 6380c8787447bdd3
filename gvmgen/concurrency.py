"""Small helpers for work spread over threads: a parallel map and per-stage wall times.

Generic (standard library only): the pipeline, rendering and the report use them, and none
of them owns them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_WORKERS = 4  # items run at once, at most (fewer on a machine with fewer cores)
Timings = dict[str, float]  # wall seconds per stage, summed over threads (`timed`)
_TIMING_LOCK = threading.Lock()


def parallel_map(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """`[fn(x) for x in items]` on a few threads; the first exception propagates."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


@contextmanager
def timed(seconds: Timings, stage: str) -> Iterator[None]:
    """Add the block's wall time to `seconds[stage]` (summed over threads when in parallel)."""
    began = time.perf_counter()
    try:
        yield
    finally:
        with _TIMING_LOCK:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - began
