"""Music engines and the choice between them.

`arranger` (procedural, CPU, no weights) always works; `gvmgen` (the neural model) needs its
weights and, to be practical, a GPU. `auto` takes GVMGen when both are there and says why not
otherwise, so the result can tell the editor which engine made the music.

An `EngineRegistry` keeps the engines it built, so a long-running worker loads GVMGen's weights
once and every later job reuses the warm model.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from gvmgen.defaults import ENGINE_CHOICES
from gvmgen.engines.base import (
    CueConditioning,
    MusicEngine,
    ProgressFn,
    TakesInOnePass,
    check_cancel,
)
from gvmgen.errors import EngineError

__all__ = [
    "CueConditioning",
    "EngineChoice",
    "EngineRegistry",
    "MusicEngine",
    "ProgressFn",
    "TakesInOnePass",
    "check_cancel",
    "choose_engine",
]

# Set to 1 to let `auto` run GVMGen on a CPU (about 0.1x real time: minutes per second of music).
ALLOW_CPU_ENV = "GVMGEN_ALLOW_CPU"


@dataclass(frozen=True)
class EngineChoice:
    engine: MusicEngine
    reason: str  # why this engine, in words an editor understands


class EngineRegistry:
    """Engines by name, each built on first use and kept warm for every later job.

    Args:
        models_dir: where GVMGen weights are looked for (default: the install location).
        engines: ready engines by name ("arranger", "gvmgen"), used instead of building one;
            tests and workers that load a model their own way hand it in here.
    """

    def __init__(
        self, models_dir: str | None = None, engines: dict[str, MusicEngine] | None = None
    ):
        self.models_dir = models_dir
        self._engines: dict[str, MusicEngine] = dict(engines or {})
        self._lock = threading.Lock()

    def choose(self, name: str) -> EngineChoice:
        """The engine for `name` ("auto", "arranger" or "gvmgen"); EngineError if it cannot run."""
        if name not in ENGINE_CHOICES:
            raise EngineError(
                f"unknown engine {name!r}; choose one of {', '.join(ENGINE_CHOICES)}",
                field="engine",
            )
        if name == "arranger":
            return EngineChoice(self.get("arranger", _arranger), "arranger requested")
        if name == "gvmgen":
            return EngineChoice(
                self.get("gvmgen", lambda: _gvmgen(self.models_dir)), "gvmgen requested"
            )
        return self._auto()

    def get(self, name: str, build: Callable[[], MusicEngine]) -> MusicEngine:
        """The warm engine `name`, built by `build()` the first time only."""
        with self._lock:
            if name not in self._engines:
                self._engines[name] = build()
            return self._engines[name]

    def loaded(self) -> list[str]:
        """Names of the engines built (or handed in) so far."""
        return sorted(self._engines)

    def _auto(self) -> EngineChoice:
        from gvmgen.engines.gvmgen_engine import weights_available  # heavy: torch

        if "gvmgen" in self._engines:
            return EngineChoice(self._engines["gvmgen"], "gvmgen: already loaded")
        ok, _ = weights_available(self.models_dir)
        if not ok:  # the long how-to-install text belongs to `gvmgen models list`, not here
            return EngineChoice(
                self.get("arranger", _arranger),
                "no GVMGen weights installed (`gvmgen models list` says what to add)",
            )
        device = _gvmgen_device()
        if device is None:
            return EngineChoice(
                self.get("arranger", _arranger),
                f"GVMGen weights found but no GPU (set {ALLOW_CPU_ENV}=1 to use the CPU)",
            )
        engine = self.get("gvmgen", lambda: _gvmgen(self.models_dir, device))
        return EngineChoice(engine, f"gvmgen on {device}: weights found")


def choose_engine(name: str, models_dir: str | None = None) -> EngineChoice:
    """Build the engine `name` once, for one job (a worker keeps an `EngineRegistry`)."""
    return EngineRegistry(models_dir).choose(name)


def _gvmgen_device() -> str | None:
    import torch  # heavy (seconds): only when GVMGen's weights are there

    if torch.cuda.is_available():
        return "cuda"
    if os.environ.get(ALLOW_CPU_ENV) == "1":
        return "cpu"
    return None


def _arranger() -> MusicEngine:
    from gvmgen.engines.arranger import ArrangerEngine  # built on first use, as each engine

    return ArrangerEngine()


def _gvmgen(models_dir: str | None, device: str = "auto") -> MusicEngine:
    from gvmgen.engines.gvmgen_engine import GVMGenEngine  # heavy: torch and the model

    return GVMGenEngine.from_installed(models_dir=models_dir, device=device)
