"""The `MusicEngine` protocol: what the pipeline asks of anything that makes music for a cue.

A cue is one stretch of picture scored as one piece of music (at most the engine's window).
The pipeline hands an engine a `CueConditioning` (what the picture says) and gets back audio at
the engine's own sample rate; resampling, alignment to cuts and loudness happen afterwards.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from gvmgen.controls import CueControls
from gvmgen.progress import ProgressFn, check_cancel

if TYPE_CHECKING:
    from gvmgen.align import BeatGrid

__all__ = [
    "ENDINGS",
    "CueConditioning",
    "Ending",
    "MusicEngine",
    "ProgressFn",
    "TakesInOnePass",
    "check_cancel",
]

ENDINGS = ("button", "ring", "fade")  # how a cue ends: a final accent, a held chord, a fade


@dataclass(frozen=True)
class Ending:
    """Where and how a cue ends. Times are seconds from cue start.

    Attributes:
        kind: "button" (a final accent), "ring" (the last chord held and decaying) or "fade".
        out: the out frame. A button or ring lands on it when `ring` > 0.
        ring: how long the music may sound past `out` (under the next cue, into a rest, or as
            the `--tail`); 0 at the outer end of what was scored: the music has decayed by
            `out`, so its last accent comes on the last downbeat that leaves room to decay.
    """

    kind: str = "button"
    out: float = 0.0
    ring: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ENDINGS:
            raise ValueError(f"ending must be one of {', '.join(ENDINGS)}, got {self.kind!r}")
        if self.out < 0 or self.ring < 0:
            raise ValueError(f"ending times must not be negative: out {self.out}, ring {self.ring}")


@dataclass(frozen=True)
class CueConditioning:
    """Everything an engine may condition on for one cue. Times are seconds from cue start.

    Attributes:
        duration: length of the music to make, seconds.
        frames: RGB frames sampled by timestamp, uint8 of shape `[N, H, W, 3]` (GVMGen: 1 fps).
        frame_times: presentation time of each frame, float64 of shape `[N]`.
        cuts: cut times inside the cue (edit points and shot changes), float64 `[M]`, sorted.
        motion: per-frame motion energy in [0, 1], float32 `[F]`, or None.
        motion_times: time of each motion value, float64 `[F]`, or None.
        prompt_audio: the previous cue's tail at the engine's sample rate, float32
            `[channels, samples]`, for engines that continue from it; None at the first cue.
        controls: the editor's mood, intensity and tempo at the cue's start and the markers'
            changes inside it (`gvmgen.controls`); an engine lists what it honours in
            `steered_controls` (none: picture only).
        ending: where and how the music ends; None: a button, decayed by `duration`. The
            engine makes `duration` seconds either way (`ending.out + ending.ring`).
    """

    duration: float
    frames: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))
    frame_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cuts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    motion: np.ndarray | None = None
    motion_times: np.ndarray | None = None
    prompt_audio: np.ndarray | None = None
    controls: CueControls = field(default_factory=CueControls)
    ending: Ending | None = None

    def __post_init__(self) -> None:
        if not self.duration > 0:
            raise ValueError(f"cue duration must be positive, got {self.duration}")
        if len(self.frames) != len(self.frame_times):
            raise ValueError(f"{len(self.frames)} frames but {len(self.frame_times)} frame times")
        if self.ending is not None and self.ending.out > self.duration + 1e-9:
            raise ValueError(f"ending at {self.ending.out} s is past the cue's {self.duration} s")

    @property
    def resolved_ending(self) -> Ending:
        """The ending asked for, or the default: a button decayed by the cue's end."""
        return self.ending if self.ending is not None else Ending("button", self.duration, 0.0)


@runtime_checkable
class MusicEngine(Protocol):
    """Makes music for one cue. Implementations: `arranger` (procedural), `gvmgen` (neural)."""

    name: str
    sample_rate: int  # Hz of the audio `generate` returns
    window_seconds: float  # longest cue the engine makes in one go; the cue plan respects it
    needs_gpu: bool  # True when a CPU run would be impractically slow
    takes_prompt_audio: bool  # True when `prompt_audio` is used for continuity

    def generate(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """Music for `cue`: float32 `[channels, round(cue.duration * sample_rate)]` in [-1, 1].

        Deterministic for a given cue and seed. Calls `progress` at least once a second of work
        and raises `Cancelled` soon after `cancel` is set.
        """
        ...

    def generate_with_beats(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[np.ndarray, BeatGrid | None]:
        """`generate`, plus the music's beat grid when the engine knows it (None otherwise:
        the aligner then tracks the beats itself). The pipeline calls this one."""
        ...


@runtime_checkable
class TakesInOnePass(Protocol):
    """An engine that makes several takes of one cue in one batched pass (GVMGen: CFG rows of
    every take in one LM batch), cheaper per take than one `generate` each."""

    def generate_takes(
        self,
        cue: CueConditioning,
        seeds: list[int],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prompts: list[np.ndarray | None] | None = None,
    ) -> list[np.ndarray]:
        """One audio `[channels, samples]` per seed; `prompts` (one per take) replace
        `cue.prompt_audio` when each take continues its own previous cue."""
        ...
