"""A slow, counting arranger for backend tests: every cue takes `steps` cancellable steps, and
every engine call is recorded (in memory and, when given, one line per call in a file)."""

from __future__ import annotations

import threading
import time

from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.errors import OutOfMemory
from gvmgen.progress import check_cancel


class CountingArranger(ArrangerEngine):
    takes_prompt_audio = True  # cues in order, one at a time: "which cues finished" is exact

    def __init__(self, steps: int = 0, step_seconds: float = 0.0, calls_file: str | None = None):
        super().__init__()
        self.steps, self.step_seconds, self.calls_file = steps, step_seconds, calls_file
        self.calls: list[int] = []  # seed of each call (seed = take seed + cue index)
        self.steps_done = 0
        self.oom_over: float | None = None  # "CUDA out of memory" for cues longer than this
        self.lock = threading.Lock()

    def generate_with_beats(self, cue, seed, progress=None, cancel=None):
        if self.oom_over is not None and cue.duration > self.oom_over:
            raise OutOfMemory(f"CUDA out of memory for a {cue.duration:.1f} s cue")
        with self.lock:
            self.calls.append(seed)
            if self.calls_file:
                with open(self.calls_file, "a", encoding="utf-8") as handle:
                    handle.write(f"{seed}\n")
        for step in range(self.steps):
            check_cancel(cancel)
            with self.lock:
                self.steps_done += 1
            if progress is not None:
                progress(step / self.steps, f"step {step + 1} of {self.steps}")
            time.sleep(self.step_seconds)
        return super().generate_with_beats(cue, seed, progress, cancel)
