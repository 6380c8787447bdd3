"""The one place the backend meets the pipeline: run a request, stream progress, shape errors.

The worker sees only `Runner.run(request, on_event, cancel, …) -> result dict` and the
exceptions `JobFailed`, `Cancelled` and `Paused`; everything about the pipeline's calling
convention lives here.
The runner holds one `Scorer`, so the engines (GVMGen's weights) load once per server.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from collections.abc import Callable

from gvmgen.engines import EngineRegistry
from gvmgen.errors import Cancelled, GVMGenError, OutOfMemory, Paused
from gvmgen.pipeline import Scorer

__all__ = ["Cancelled", "JobFailed", "Paused", "Runner", "error_dict", "is_out_of_memory"]

EventFn = Callable[[dict], None]
# imported inside the pipeline's functions (align, loudness, delivery, media), some of them
# on worker threads
_FIRST_USE_IMPORTS = (
    "scipy.signal",
    "scipy.ndimage",
    "pyloudnorm",
    "librosa",
    "pedalboard",
    "soxr",
    "soundfile",
    "av",
    "madmom_infer.features.beats_hmm",
    "madmom_infer.ml.hmm",
)


class JobFailed(Exception):
    """A job that cannot finish; `error` is the `{code, message, field?, hint?}` to report."""

    def __init__(self, error: dict):
        super().__init__(error["message"])
        self.error = error


def error_dict(error: BaseException) -> dict:
    """`{code, message, field?, hint?}` for any exception a job may raise."""
    if isinstance(error, GVMGenError):
        return error.to_dict()
    if is_out_of_memory(error):
        return {"code": "out_of_memory", "message": "the GPU ran out of memory"}
    return {"code": "internal_error", "message": f"{error.__class__.__name__}: {error}"}


def is_out_of_memory(error: BaseException) -> bool:
    """The pipeline's OutOfMemory, or torch's own CUDA error if one slips through."""
    if isinstance(error, OutOfMemory):
        return True
    torch = sys.modules.get("torch")  # never import torch just to ask
    oom = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    return isinstance(oom, type) and isinstance(error, oom)


def free_accelerator_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class Runner:
    """Runs score requests for one worker; `engine` replaces a request's "auto"."""

    def __init__(self, engine: str = "auto", engines: EngineRegistry | None = None):
        self.engine = engine
        self.engines = engines if engines is not None else EngineRegistry()
        # the server's look at the job's output folder first (half-made commits, stale stages)
        self.before_job: Callable[[dict], None] = lambda request: None
        self.scorer = Scorer(self.engines)

    def warm_up(self) -> str:
        """Load the engine now (not at the first job) and say, in words, what is ready.

        The libraries the pipeline imports on first use are imported here too, on one thread:
        a fresh server's first job measures its takes on several threads at once, and
        Python 3.11 can fail two threads importing scipy's submodules together (KeyError:
        'scipy', found by bench/crash_bench.py on a server restarted after a kill)."""
        for name in _FIRST_USE_IMPORTS:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)
        choice = self.engines.choose(self.engine)
        return f"{choice.engine.name} ({choice.reason})"

    def model_loaded(self) -> bool:
        return "gvmgen" in self.engines.loaded()

    def device(self) -> str:
        """Where the engines run: "cuda" once torch is loaded and sees a GPU, else "cpu"."""
        torch = sys.modules.get("torch")
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"

    def window_seconds(self, request: dict) -> float:
        """The longest cue the request's engine makes in one go."""
        return self.engines.choose(self._engine_for(request)).engine.window_seconds

    def run(
        self,
        request: dict,
        on_event: EventFn,
        cancel: threading.Event,
        *,
        pause: threading.Event | None = None,
        progress_from: float = 0.0,
        at_cue_boundary: Callable[[], None] | None = None,
        max_cue_seconds: float | None = None,
    ) -> dict:
        """The ScoreResult (as JSON data) of `request`; raises `Cancelled`, `Paused` (`pause`
        set: stopped at a cue boundary, checkpoints kept) or `JobFailed`.

        Re-running a request with the same `job_id` resumes from its finished cues;
        `progress_from` is the fraction its earlier attempts reached (no event reports less).
        `at_cue_boundary` runs before each cue begins (the worker's yield point);
        `max_cue_seconds` caps the cues' length (a retry after running out of memory). See
        `gvmgen.pipeline.Scorer.score`.
        """
        request = {**request, "engine": self._engine_for(request)}
        self.before_job(request)

        def forward(event) -> None:
            on_event(event.model_dump(mode="json"))

        try:
            result = self.scorer.score(
                request,
                on_event=forward,
                cancel=cancel,
                pause=pause,
                progress_from=progress_from,
                at_cue_boundary=at_cue_boundary,
                max_cue_seconds=max_cue_seconds,
            )
        except (Cancelled, Paused):
            raise
        except GVMGenError as error:
            raise JobFailed(error_dict(error)) from error
        return result.model_dump(mode="json")

    def _engine_for(self, request: dict) -> str:
        engine = request.get("engine", "auto")
        return self.engine if engine == "auto" else engine
