"""`ScorePlan`: what one job will make, settled before a single file is written.

`pipeline._prepare` builds it from the request (reading the edit, finding the cuts, choosing
the engine, planning the cues); rendering, the report and the picture read it and never change
it. What changes while a job runs is passed beside it, each value on its own: the takes
reserved in the output folder, the checkpoints, progress, stop and pause, the stage timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gvmgen.analysis import Analysis
from gvmgen.controls import ControlChange, Controls, CueControls, cue_controls
from gvmgen.cues import Cue
from gvmgen.engines import EngineChoice, MusicEngine
from gvmgen.schema import ScoreRequest
from gvmgen.timeline.edit import Edit

Take = tuple[int, int]  # (take number, seed): the takes a job renders, as the folder reserved them


@dataclass(frozen=True)
class ScorePlan:
    """One job's request, edit, cuts, engine and cues.

    :ivar edit: the scored range of the input, as read from its file.
    :ivar analysis: the range's cuts and motion (times from the range start).
    :ivar choice: the engine that makes the music, and why it was chosen.
    :ivar cues: the cue plan, in order; silent cues are rests.
    :ivar warnings: the report's, in words: what reading the edit warned of (an EDL read at
        its record times, media missing or not decodable, `--rate` ignored), what the plan
        changed of the editor's markers, and the markers it could not read.
    :ivar controls: the editor's mood, intensity and tempo for the range (`gvmgen.controls`).
    :ivar control_changes: the control markers' changes, seconds from the range start.
    :ivar dialogue: speech in the range's own sound, `(start, end)` seconds from its start;
        empty when ducking is off or nobody speaks.
    :ivar made_from: what the result is made from (`gvmgen.fingerprint.record`), kept with
        the takes so the job id coming again is checked against its request.
    """

    request: ScoreRequest
    job_id: str
    edit: Edit
    analysis: Analysis
    choice: EngineChoice
    cues: tuple[Cue, ...]
    warnings: tuple[str, ...] = ()
    controls: Controls = field(default_factory=Controls)
    control_changes: tuple[ControlChange, ...] = ()
    dialogue: tuple[tuple[float, float], ...] = ()
    made_from: dict = field(default_factory=dict)

    def cue_controls(self, cue: Cue, tail: float = 0.0) -> CueControls:
        """The controls the engine is asked for `cue` (its start and the markers inside it)."""
        start, duration = self.cue_seconds(cue)
        return cue_controls(self.controls, list(self.control_changes), start, duration + tail)

    @property
    def rate(self) -> float:
        """The timeline's frame rate; cue frames count at this rate."""
        return float(self.edit.rate)

    @property
    def engine(self) -> MusicEngine:
        return self.choice.engine

    @property
    def out_dir(self) -> Path:
        return Path(self.request.out_dir).resolve()

    def cue_seconds(self, cue: Cue) -> tuple[float, float]:
        """The cue's start (from the range start) and duration, in seconds."""
        return cue.start / self.rate, cue.frames / self.rate
