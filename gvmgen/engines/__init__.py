"""Music engines and the choice between them.

`arranger` (procedural, CPU, no weights) always works; `gvmgen` (the neural model) needs its
weights and, to be practical, a GPU. `auto` takes GVMGen when both are there and says why not
otherwise, so the result can tell the editor which engine made the music.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gvmgen.engines.base import CueConditioning, MusicEngine, ProgressFn, check_cancel
from gvmgen.errors import EngineError
from gvmgen.schema import ENGINE_CHOICES

__all__ = [
    "CueConditioning",
    "EngineChoice",
    "MusicEngine",
    "ProgressFn",
    "check_cancel",
    "choose_engine",
]

# Set to 1 to let `auto` run GVMGen on a CPU (about 0.1x real time: minutes per second of music).
ALLOW_CPU_ENV = "GVMGEN_ALLOW_CPU"


@dataclass(frozen=True)
class EngineChoice:
    engine: MusicEngine
    reason: str  # why this engine, in words an editor understands


def choose_engine(name: str, models_dir: str | None = None) -> EngineChoice:
    """Build the engine `name` ("auto", "arranger" or "gvmgen"); EngineError if it cannot run."""
    if name not in ENGINE_CHOICES:
        raise EngineError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_CHOICES)}")
    if name == "arranger":
        return EngineChoice(_arranger(), "arranger requested")
    if name == "gvmgen":
        return EngineChoice(_gvmgen(models_dir), "gvmgen requested")
    return _auto(models_dir)


def _auto(models_dir: str | None) -> EngineChoice:
    from gvmgen.engines.gvmgen_engine import weights_available

    ok, _ = weights_available(models_dir)
    if not ok:  # the long how-to-install text belongs to `gvmgen models list`, not here
        return EngineChoice(
            _arranger(), "no GVMGen weights installed (`gvmgen models list` says what to add)"
        )
    device = _gvmgen_device()
    if device is None:
        return EngineChoice(
            _arranger(), f"GVMGen weights found but no GPU (set {ALLOW_CPU_ENV}=1 to use the CPU)"
        )
    return EngineChoice(_gvmgen(models_dir, device), f"gvmgen on {device}: weights found")


def _gvmgen_device() -> str | None:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if os.environ.get(ALLOW_CPU_ENV) == "1":
        return "cpu"
    return None


def _arranger() -> MusicEngine:
    from gvmgen.engines.arranger import ArrangerEngine

    return ArrangerEngine()


def _gvmgen(models_dir: str | None, device: str = "auto") -> MusicEngine:
    from gvmgen.engines.gvmgen_engine import GVMGenEngine

    return GVMGenEngine.from_installed(models_dir=models_dir, device=device)
