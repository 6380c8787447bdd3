"""Rendering takes: each cue generated, aligned to its cuts, levelled, and joined at 48 kHz.

`render_takes(plan, takes, checkpoints, post, stop=, pause=, seconds=)` is the entry. The audio
goes through these stages, one function each, every one taking the previous stage's value:

    a cue of music:  generate → align → level        `generated` → `aligned` → `levelled`
                     (RenderedCue: `_music_cue` chains them and checkpoints the result)
    a rest:          exact-length silence              `rest`
    a take:          release before rests → join       `joined` (`released`, `join_cues`)

The values between them: `CueConditioning` → `Generated` (the engine's audio and beats) →
`AlignmentResult` (at the engine's rate) → levelled 48 kHz audio → `RenderedCue` → the take's
`RenderedCue`s cut back from one track. A new stage of the audio chain (align → ending →
loudness → duck → stems) is one more function called from `_music_cue` in that order, taking
and returning audio; its share of a cue's progress is one line in `progress.STAGE_WEIGHTS`.

Cues of an engine that continues music (GVMGen) go in order, every take continuing its own
previous cue (`prompt`), and the takes of one cue in one batched pass when the engine can;
independent cues (the arranger) render one per core. Every finished cue is checkpointed through
`Checkpoints` (the job's staging folder) and taken from there when a killed job runs again: as
plain arrays and JSON (`cue_arrays` / `cue_from_arrays`), never a pickle, so a checkpoint cannot
run code on load. A job's `pause` is looked at only before a cue begins, so a pause lets the
cues already begun finish and be checkpointed. Each progress step is also where a cancelled
job stops (`CueProgress.at`).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import NamedTuple, Protocol

import numpy as np

from gvmgen.align import align_to_cuts, join_cues, normalize_loudness
from gvmgen.align.aligner import AlignmentResult, without_holes
from gvmgen.align.beats import BeatGrid
from gvmgen.align.dynamics import brightness_tilt, intensity_levels
from gvmgen.align.metrics import AlignmentMetrics
from gvmgen.align.plan_types import AlignmentPlan, Anchor, Piece, Splice, UnhitCut
from gvmgen.concurrency import Timings, parallel_map, timed
from gvmgen.conditioning import cue_conditioning, cue_sync_points
from gvmgen.controls import TEMPO_TOLERANCE
from gvmgen.cues import Cue
from gvmgen.defaults import DEFAULT_TRUE_PEAK_DBTP
from gvmgen.engines import CueConditioning, MusicEngine, TakesInOnePass
from gvmgen.media.audio import DELIVERY_RATE, resample
from gvmgen.progress import (
    Parts,
    Post,
    ProgressFn,
    Update,
    check_cancel,
    check_pause,
    scaled,
    span,
)
from gvmgen.score_plan import ScorePlan, Take

TAIL_SECONDS = 1.5  # each cue rings on this long under the next one's first downbeat
RELEASE_SECONDS = 0.5  # into a rest, music fades to nothing over this (then digital silence)
PROMPT_SECONDS = 10.0  # how much of the previous cue an engine that continues music hears


@dataclass(frozen=True)
class RenderedCue:
    audio: np.ndarray  # [2, N] at 48 kHz, the cue's exact length
    seed: int
    tempo: float
    alignment: object  # gvmgen.align.AlignmentResult (engine rate)
    silent: bool = False  # a rest: zeros, no engine, no alignment to speak of
    warnings: tuple[str, ...] = ()  # what the chain had to do instead, in words (the report's)


class Generated(NamedTuple):
    """What the engine made for one cue: audio `[C, N]` at its rate, and its beats when it
    knows them (the arranger does; None: the aligner tracks them)."""

    audio: np.ndarray
    beats: object  # gvmgen.align.BeatGrid | None


class Checkpoints(Protocol):
    """Where finished cues are kept for a rerun of the job (`gvmgen.outputs.Job`)."""

    def save_cue(self, take: int, cue_index: int, arrays: dict[str, np.ndarray]) -> None: ...

    def load_cue(self, take: int, cue_index: int) -> dict[str, np.ndarray] | None: ...


def cue_arrays(rendered: RenderedCue) -> dict[str, np.ndarray]:
    """A rendered cue as named arrays: the audio as float32, everything else (plan, beats,
    metrics) as JSON under "meta" with its own arrays beside it; no Python object inside."""
    arrays: dict[str, np.ndarray] = {"audio": np.asarray(rendered.audio)}
    meta = _encode(replace(rendered, audio=None), arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
    return arrays


def cue_from_arrays(arrays) -> RenderedCue:
    """The cue `cue_arrays` stored, rebuilt exactly (same dtypes, same floats). Only the
    alignment's own dataclasses are rebuilt; anything else is a ValueError."""
    meta = json.loads(bytes(np.asarray(arrays["meta"], np.uint8)).decode("utf-8"))
    rendered = _decode(meta, arrays, _checkpoint_kinds())
    if not isinstance(rendered, RenderedCue):
        raise ValueError("a checkpoint that is not a rendered cue")
    return replace(rendered, audio=np.asarray(arrays["audio"]))


def _checkpoint_kinds() -> dict[str, type]:
    """The dataclasses a checkpoint may hold, by name (nothing else is ever constructed)."""
    kinds = (RenderedCue, AlignmentResult, AlignmentPlan, AlignmentMetrics, BeatGrid)
    return {k.__name__: k for k in (*kinds, Anchor, Piece, Splice, UnhitCut)}


def _encode(value, arrays: dict[str, np.ndarray]):
    """JSON for `value`; numpy values go into `arrays` (numpy scalars as 0-d arrays, so their
    dtype survives) and JSON names them."""
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError("a checkpoint cannot hold an object array")
        key = f"a{len(arrays)}"
        arrays[key] = array
        return {"array": key, "scalar": isinstance(value, np.generic)}
    if is_dataclass(value):
        kind = type(value).__name__
        return {
            "kind": kind,
            "fields": {f.name: _encode(getattr(value, f.name), arrays) for f in fields(value)},
        }
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a checkpoint's mappings have text keys")
        return {"dict": {k: _encode(v, arrays) for k, v in value.items()}}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a checkpoint cannot hold a {type(value).__name__}")


def _decode(node, arrays, kinds: dict[str, type]):
    if isinstance(node, list):
        return [_decode(v, arrays, kinds) for v in node]
    if not isinstance(node, dict):
        return node
    if "array" in node:
        array = np.asarray(arrays[node["array"]])
        return array[()] if node["scalar"] else array
    if "tuple" in node:
        return tuple(_decode(v, arrays, kinds) for v in node["tuple"])
    if "dict" in node:
        return {k: _decode(v, arrays, kinds) for k, v in node["dict"].items()}
    if node.get("kind") not in kinds:
        raise ValueError(f"a checkpoint names an unknown kind {node.get('kind')!r}")
    values = {k: _decode(v, arrays, kinds) for k, v in node["fields"].items()}
    return kinds[node["kind"]](**values)


class CueProgress:
    """Progress of one cue of one take: its share of the job, split into the stages of the
    progress table `table` ("cue on a GPU" or "cue on a CPU", see `progress.STAGE_WEIGHTS`).

    Every step is posted and is also a point where a cancelled job stops (`stop` set).
    """

    def __init__(
        self, parts: Parts, take: int, cue: Cue, table: str, post: Post, stop: threading.Event
    ):
        self.parts, self.take, self.cue = parts, take, cue
        self.table, self.post, self.stop = table, post, stop

    def at(self, stage: str, fraction: float, message: str) -> None:
        whole = self.parts.advance((self.take, self.cue.index), fraction)
        text = f"take {self.take} {self.cue.name}: {message}"
        self.post(Update(stage, whole, text, self.cue.index, self.take))
        check_cancel(self.stop)

    def within(self, stage: str) -> ProgressFn:
        """A `progress(fraction, message)` for one stage of this cue."""
        whole = functools.partial(self.at, stage)
        return scaled(whole, *span(self.table, stage))


def render_takes(
    plan: ScorePlan,
    takes: Sequence[Take],
    checkpoints: Checkpoints,
    post: Post,
    *,
    stop: threading.Event,
    pause: threading.Event | None,
    seconds: Timings,
    at_cue_boundary: Callable[[], None] | None = None,
    span: tuple[float, float] = (0.0, 1.0),
) -> list[list[RenderedCue]]:
    """Music for every cue of every take, aligned, levelled and joined at 48 kHz.

    :param takes: (take number, seed) of each take to render.
    :param checkpoints: where each finished cue is kept, and found again on a rerun.
    :param post: hears every step, with its fraction of the whole job in `span`.
    :param stop: set: stop at the next step (`Cancelled`).
    :param pause: set: stop before the next cue begins (`Paused`), the cues begun finished.
    :param seconds: wall time per stage, added to.
    :param at_cue_boundary: called before each cue begins, before `pause` is looked at.
    """
    weights = {(take, cue.index): float(cue.frames) for take, _ in takes for cue in plan.cues}
    parts = Parts(weights, *span)
    table = "cue on a GPU" if plan.engine.needs_gpu else "cue on a CPU"
    steps = {
        key: CueProgress(parts, key[0], plan.cues[key[1]], table, post, stop) for key in weights
    }
    boundary = functools.partial(_cue_boundary, at_cue_boundary, pause)
    if plan.engine.takes_prompt_audio:  # each cue continues the one before: in order
        rendered = _render_in_order(plan, takes, steps, checkpoints, stop, boundary, seconds)
    else:  # independent cues: one per core (numpy, Rubber Band and scipy release the GIL)
        rendered = _render_independent(plan, takes, steps, checkpoints, stop, boundary, seconds)
    joins = []
    for cues in rendered:
        with timed(seconds, "mix"):
            joins.append(joined(plan.cues, cues, plan.rate))
    return joins


def _cue_boundary(at_cue_boundary: Callable[[], None] | None, pause: threading.Event | None):
    """Before a cue begins, the one place that does: the caller's hook, then stop here if the
    job was told to pause (`Paused`; the cues begun before run on to their checkpoints)."""
    if at_cue_boundary is not None:
        at_cue_boundary()
    check_pause(pause)


def _render_independent(
    plan: ScorePlan,
    takes: Sequence[Take],
    steps: dict[tuple[int, int], CueProgress],
    checkpoints: Checkpoints,
    stop: threading.Event,
    boundary: Callable[[], None],
    seconds: Timings,
) -> list[list[RenderedCue]]:
    def one(job: tuple[int, int, Cue]) -> RenderedCue:
        take, seed, cue = job
        boundary()
        progress = steps[take, cue.index]
        if cue.silent:
            return _rest_with_progress(plan, cue, seed, progress)
        kept = _kept(checkpoints, take, cue, progress)
        if kept is not None:
            return kept
        conditioning = _conditioning(plan, cue, seconds)
        with timed(seconds, "engine"):
            made = generated(
                plan.engine, conditioning, seed + cue.index, progress.within("generate"), stop
            )
        return _music_cue(plan, cue, seed + cue.index, made, progress, checkpoints, seconds)

    done = parallel_map(one, [(take, seed, cue) for take, seed in takes for cue in plan.cues])
    n = len(plan.cues)
    return [done[i * n : (i + 1) * n] for i in range(len(takes))]


def _render_in_order(
    plan: ScorePlan,
    takes: Sequence[Take],
    steps: dict[tuple[int, int], CueProgress],
    checkpoints: Checkpoints,
    stop: threading.Event,
    boundary: Callable[[], None],
    seconds: Timings,
) -> list[list[RenderedCue]]:
    """Cue after cue, each take continuing its own previous cue; takes of one cue in one pass
    when the engine can (`TakesInOnePass`)."""
    per_take: dict[int, list[RenderedCue]] = {take: [] for take, _ in takes}
    for cue in plan.cues:
        boundary()  # every cue before is checkpointed
        if cue.silent:
            for take, seed in takes:
                per_take[take].append(_rest_with_progress(plan, cue, seed, steps[take, cue.index]))
            continue
        pending = []
        for take, seed in takes:
            kept = _kept(checkpoints, take, cue, steps[take, cue.index])
            if kept is None:
                pending.append((take, seed))
            else:
                per_take[take].append(kept)
        if not pending:
            continue
        rate = plan.engine.sample_rate
        prompts = [prompt((per_take[take] or [None])[-1], rate) for take, _ in pending]
        conditioning = _conditioning(plan, cue, seconds)
        seeds = [seed + cue.index for _, seed in pending]
        mine = [steps[take, cue.index] for take, _ in pending]
        with timed(seconds, "engine"):
            made = _generated_takes(plan.engine, conditioning, seeds, mine, prompts, stop)
        for (take, _), progress, seed, audio in zip(pending, mine, seeds, made, strict=True):
            rendered = _music_cue(plan, cue, seed, audio, progress, checkpoints, seconds)
            per_take[take].append(rendered)
    return [per_take[take] for take, _ in takes]


def _kept(
    checkpoints: Checkpoints, take: int, cue: Cue, progress: CueProgress
) -> RenderedCue | None:
    """The cue as an interrupted run of this job left it (said so on its progress), or None."""
    kept = kept_cue(checkpoints, take, cue.index)
    if kept is not None:
        progress.at("level", 1.0, "kept from the interrupted run")
    return kept


def kept_cue(checkpoints: Checkpoints, take: int, cue_index: int) -> RenderedCue | None:
    """The cue as an interrupted run of this job left it, or None (none, or unreadable)."""
    arrays = checkpoints.load_cue(take, cue_index)
    if arrays is None:
        return None
    try:
        return cue_from_arrays(arrays)
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        return None  # written by another version of the code: render it again


def _conditioning(plan: ScorePlan, cue: Cue, seconds: Timings) -> CueConditioning:
    """What the picture says over the cue, plus the tail it rings on under the next cue (no
    prompt: the takes that continue music add their own)."""
    start, duration = plan.cue_seconds(cue)
    tail = 0.0 if cue.index == len(plan.cues) - 1 else TAIL_SECONDS
    with timed(seconds, "frames"):
        conditioning = cue_conditioning(plan.analysis, start, duration + tail, prompt_audio=None)
    return replace(conditioning, controls=plan.cue_controls(cue, tail))


# --- the stages of one cue: generate → align → level ---------------------------------------


def generated(
    engine: MusicEngine,
    conditioning: CueConditioning,
    seed: int,
    progress: ProgressFn,
    stop: threading.Event,
) -> Generated:
    """Stage 1, generate: the engine's music for one cue of one take."""
    audio, beats = engine.generate_with_beats(conditioning, seed, progress, stop)
    return Generated(audio, beats)


def _generated_takes(
    engine: MusicEngine,
    conditioning: CueConditioning,
    seeds: list[int],
    progress: list[CueProgress],
    prompts: list,
    stop: threading.Event,
) -> list[Generated]:
    """Stage 1 for several takes of one cue, each continuing its own prompt; in one batched
    pass when the engine can (`TakesInOnePass`)."""
    if len(seeds) > 1 and isinstance(engine, TakesInOnePass):
        report = [p.within("generate") for p in progress]
        audios = engine.generate_takes(
            conditioning, seeds, lambda f, m: [r(f, m) for r in report], stop, prompts
        )
        return [Generated(a, None) for a in audios]
    return [
        generated(engine, replace(conditioning, prompt_audio=p), s, pr.within("generate"), stop)
        for p, s, pr in zip(prompts, seeds, progress, strict=True)
    ]


def _music_cue(
    plan: ScorePlan,
    cue: Cue,
    seed: int,
    made: Generated,
    progress: CueProgress,
    checkpoints: Checkpoints,
    seconds: Timings,
) -> RenderedCue:
    """The chain after generation, in order — align → level — then the checkpoint."""
    start, duration = plan.cue_seconds(cue)
    rate = plan.engine.sample_rate
    points = cue_sync_points(plan.analysis, start, duration)
    controls = plan.cue_controls(cue)
    with timed(seconds, "align"):
        alignment = aligned(
            made,
            rate,
            np.array([p.time for p in points]),
            stretch_bound(plan.request.max_stretch, controls),
            plan.rate,
            progress.within("align"),
            priorities=[p.priority for p in points],
        )
        alignment, warning = without_holes(made.audio, rate, alignment, plan.rate, duration)
    with timed(seconds, "level"):
        music = intensity_in_mix(alignment, rate, controls, plan.engine)
        target, ceiling = plan.request.loudness_target
        audio = levelled(music, rate, target, progress.within("level"), ceiling)
    progress.at("level", 1.0, "levelled")
    tempo = float(getattr(made.beats, "tempo", 0.0) or alignment.beats_after.tempo)
    said = (f"{cue.name}: {warning}",) if warning else ()
    rendered = RenderedCue(audio, seed, tempo, alignment, warnings=said)
    checkpoints.save_cue(progress.take, cue.index, cue_arrays(rendered))
    return rendered


def aligned(
    made: Generated,
    sample_rate: int,
    cuts: np.ndarray,
    max_stretch: float,
    fps: float,
    progress: ProgressFn,
    priorities=None,
):
    """Stage 2, align: the music warped so its beats land on `cuts` (seconds from the cue
    start; ranked by `priorities`, see `gvmgen.align.Priority`), at the engine's rate; a
    `gvmgen.align.AlignmentResult`."""
    progress(0.0, "aligning to the cuts")
    return align_to_cuts(
        made.audio,
        sample_rate,
        cuts,
        max_stretch=max_stretch,
        fps=fps,
        beats=made.beats,
        progress=lambda f, m: progress(f, f"aligning: {m}"),
        priorities=priorities,
    )


def levelled(
    audio: np.ndarray,
    sample_rate: int,
    target_lufs: float,
    progress: ProgressFn,
    true_peak_dbtp: float = DEFAULT_TRUE_PEAK_DBTP,
) -> np.ndarray:
    """Stage 3, level: the aligned music at 48 kHz, `target_lufs` integrated, true peaks under
    `true_peak_dbtp` (the delivery standard's ceiling)."""
    progress(span("level", "resample")[0], "levelling: resampling")
    delivered = resample(audio, sample_rate, DELIVERY_RATE)
    loudness = scaled(progress, *span("level", "loudness"))
    out, _ = normalize_loudness(
        delivered,
        DELIVERY_RATE,
        target_lufs,
        true_peak_dbtp,
        progress=lambda f, m: loudness(f, f"levelling: {m}"),
    )
    return out


def stretch_bound(max_stretch: float, controls) -> float:
    """The alignment's stretch limit: an editor's single tempo holds it within half the tempo's
    tolerance (±1 of the ±2 BPM), whatever the engine."""
    tempo = controls.start.tempo
    if tempo is not None and tempo.single:  # the arranger's grid takes the other half
        return min(max_stretch, TEMPO_TOLERANCE / 2 / tempo.low)
    return max_stretch


def intensity_in_mix(alignment, sample_rate: int, controls, engine) -> np.ndarray:
    """The aligned music with intensity's share of the mix: the level across intensity markers
    (every engine), and a brightness tilt for an engine that cannot compose by intensity."""
    grid = alignment.beats_after
    downbeats = grid.times[grid.downbeats] if len(grid.times) else np.zeros(0)
    audio = alignment.audio
    if "intensity" not in getattr(engine, "steered_controls", ()):
        audio = brightness_tilt(audio, sample_rate, controls, downbeats)
    return intensity_levels(audio, sample_rate, controls, downbeats)


# --- rests, prompts, joins -----------------------------------------------------------------


def _rest_with_progress(plan: ScorePlan, cue: Cue, seed: int, progress: CueProgress):
    progress.at("level", 1.0, "rest: silence over the gap")
    return rest(cue, plan.rate, plan.request.max_stretch, seed)


def rest(cue: Cue, rate: float, max_stretch: float, seed: int) -> RenderedCue:
    """A silent cue: exact-length zeros at 48 kHz, made without the engine (`seed`: the
    take's, the cue's index is added as for music)."""
    duration = cue.frames / rate
    length = _sample_at(cue.end, rate) - _sample_at(cue.start, rate)
    none = np.zeros(0, np.float64)
    beats = BeatGrid(none, np.zeros(0, bool), 0.0, none, 0.0)
    plan = AlignmentPlan(none, duration, duration, max_stretch, (), (), (), ())
    nan = float("nan")  # nothing aimed at: no rate to give
    metrics = AlignmentMetrics(nan, nan, nan, 0.0, 0.0, 0, 0.0, 0, [])
    audio = np.zeros((2, 0), np.float32)
    alignment = AlignmentResult(audio, plan, metrics, beats, beats)
    return RenderedCue(np.zeros((2, length), np.float32), seed + cue.index, 0.0, alignment, True)


def prompt(previous: RenderedCue | None, sample_rate: int) -> np.ndarray | None:
    """The last `PROMPT_SECONDS` of the take's previous cue as aligned, before levelling, at
    the engine's `sample_rate`; for a first cue or after a rest the music starts afresh: None."""
    if previous is None or previous.silent:
        return None
    audio = previous.alignment.audio
    return audio[:, -round(PROMPT_SECONDS * sample_rate) :]


def joined(cues: Sequence[Cue], rendered: list[RenderedCue], rate: float) -> list[RenderedCue]:
    """The levelled cues of one take laid on one track, each tail under the next cue's start.

    The track is cut back into one piece per cue at frame-exact sample positions, so the clips
    sit end to end on the timeline (no gap, no overlap) and the crossfades are baked in.
    """
    bounds = [_sample_at(cue.start, rate) for cue in cues]
    total = _sample_at(cues[-1].end, rate)
    starts = [b / DELIVERY_RATE for b in bounds]
    ends = [*bounds[1:], total]
    following = [*rendered[1:], None]
    audio = [
        released(c, f, b - a) for c, f, a, b in zip(rendered, following, bounds, ends, strict=True)
    ]
    track = join_cues(audio, starts, DELIVERY_RATE, total / DELIVERY_RATE)
    return [replace(c, audio=track[:, a:b]) for c, a, b in zip(rendered, bounds, ends, strict=True)]


def released(cue: RenderedCue, following: RenderedCue | None, slot: int) -> np.ndarray:
    """The cue's audio; before a rest, cut `RELEASE_SECONDS` past its slot with a raised-cosine
    fade to zero there, so the music rings briefly into the rest and nothing more (the equal
    power crossfade alone would leave it at -30 dB at the end)."""
    if following is None or not following.silent or cue.silent:
        return cue.audio
    release = round(RELEASE_SECONDS * DELIVERY_RATE)
    audio = np.array(cue.audio[:, : slot + release], dtype=np.float32)
    length = max(audio.shape[1] - slot, 0)
    if length:
        fall = 0.5 * (1.0 + np.cos(np.pi * (np.arange(length) + 0.5) / length))
        audio[:, slot:] *= fall.astype(np.float32)
    return audio


def _sample_at(frame: int, rate: float) -> int:
    """The 48 kHz sample where `frame` starts; rounding each boundary keeps clips contiguous."""
    return round(frame * DELIVERY_RATE / rate)
