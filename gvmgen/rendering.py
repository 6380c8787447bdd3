"""Rendering takes: each cue generated, aligned to its cuts, levelled, and joined at 48 kHz.

`render_takes(plan, takes, checkpoints, post, stop=, pause=, seconds=)` is the entry. The audio
goes through these stages, one function each, every one taking the previous stage's value:

    a cue of music:  generate → align → level        `generated` → `aligned` → `levelled`
                     (RenderedCue: `_music_cue` chains them and checkpoints the result)
    a rest:          exact-length silence              `rest`
    a take:          segues and rings → join           `joined` (`join_cues`)

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
from gvmgen.align.joins import (
    GONE_BEFORE_OUT,
    SEGUE_TOLERANCE,
    ending_gain,
    entrance_gain,
    loudness_step,
    release_gain,
)
from gvmgen.align.metrics import AlignmentMetrics
from gvmgen.align.plan_types import AlignmentPlan, Anchor, Piece, Splice, UnhitCut
from gvmgen.align.priorities import Priority
from gvmgen.align.render import render_alignment
from gvmgen.concurrency import Timings, parallel_map, timed
from gvmgen.conditioning import cue_conditioning, cue_cut_times, cue_sync_points
from gvmgen.controls import TEMPO_TOLERANCE, CueControls
from gvmgen.cues import Cue
from gvmgen.defaults import DEFAULT_TRUE_PEAK_DBTP
from gvmgen.engines import CueConditioning, MusicEngine, TakesInOnePass
from gvmgen.engines.base import Ending
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
from gvmgen.timeline.markers import is_cue_marker

TAIL_SECONDS = 1.5  # a cue's ending rings at most this long under the next cue or into a rest
# GVMGen's music cannot be re-composed to end: at the outer end it is released after its last
# downbeat that leaves room to decay ("release"), or faded ("fade"). bench/cue_bench.py
# measures both on the shared clips' own GVMGen music; see docs/BENCHMARKS.md.
GVMGEN_ENDING = "release"
GVMGEN_RELEASE = 0.6  # s: a released GVMGen ending decays over this after its last downbeat
GUARD_SECONDS = 0.2  # a composed ending is made silent over this before its end, after aligning
_SEGUE_ROUNDS = 3  # gain the entrance, level, measure again: within the tolerance by then
PROMPT_SECONDS = 10.0  # how much of the previous cue an engine that continues music hears


@dataclass(frozen=True)
class RenderedCue:
    audio: np.ndarray  # [2, N] at 48 kHz, the cue's exact length
    seed: int
    tempo: float
    alignment: AlignmentResult  # at the engine's rate
    silent: bool = False  # a rest: zeros, no engine, no alignment to speak of
    warnings: tuple[str, ...] = ()  # what the chain had to do instead, in words (the report's)
    stems: dict[str, np.ndarray] | None = None  # `--stems`: by name, `[2, N]`, summing to audio


class Generated(NamedTuple):
    """What the engine made for one cue: audio `[C, N]` at its rate, and its beats when it
    knows them (the arranger does; None: the aligner tracks them)."""

    audio: np.ndarray
    beats: BeatGrid | None
    stems: dict[str, np.ndarray] | None = None  # the engine's stems, summing to `audio`


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


def cue_from_arrays(arrays: dict[str, np.ndarray]) -> RenderedCue:
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
            joins.append(_joined_with_stems(plan, cues))
    return joins


def _joined_with_stems(plan: ScorePlan, cues: list[RenderedCue]) -> list[RenderedCue]:
    """`joined`, and each stem joined the same way (the same segues and rings), so the stems
    of every delivered piece still sum to it."""
    cues = segues_in_level(plan, cues)
    mix = joined(plan.cues, cues, plan.rate, plan.request.tail)
    names = next((tuple(c.stems) for c in cues if c.stems), ())
    if not names:
        return mix
    pieces = {
        name: joined(plan.cues, [_as_stem(c, name) for c in cues], plan.rate, plan.request.tail)
        for name in names
    }
    return [
        replace(piece, stems=None if piece.silent else {n: pieces[n][i].audio for n in names})
        for i, piece in enumerate(mix)
    ]


def segues_in_level(plan: ScorePlan, rendered: list[RenderedCue]) -> list[RenderedCue]:
    """Where the editor asked for no change at a join (no `cue` marker and no intensity marker
    on it: a tempo marker's segue, or a cue split to fit), the incoming cue enters at the
    short-term loudness the outgoing one leaves and eases to its own level over a few bars
    (`joins.entrance_gain`); it is levelled again, so its integrated loudness stays on target."""
    out = list(rendered)
    for i in range(1, len(plan.cues)):
        if plan.cues[i - 1].silent or plan.cues[i].silent or _change_asked(plan, plan.cues[i]):
            continue
        out[i] = _entering_in_level(plan, out[i - 1], out[i], plan.cues[i - 1 : i + 1])
    return out


def _change_asked(plan: ScorePlan, cue: Cue) -> bool:
    """An editor's `cue` marker, or an intensity marker, on the cue's first frame."""

    def on_first_frame(seconds: float) -> bool:
        return round(seconds * plan.rate) == cue.start

    intensity = any(
        c.control == "intensity" and on_first_frame(c.time) for c in plan.control_changes
    )
    cue_marker = any(
        is_cue_marker(m) and on_first_frame(m.time.to_seconds()) for m in plan.edit.markers
    )
    return intensity or cue_marker


def _entering_in_level(
    plan: ScorePlan, outgoing: RenderedCue, incoming: RenderedCue, pair: Sequence[Cue]
) -> RenderedCue:
    """`incoming` with its entrance at the loudness `outgoing` leaves across their join (a few
    rounds: gain the entrance by the step measured on the two joined, level the cue again)."""
    target, ceiling = plan.request.loudness_target
    own, step_db, current = incoming.audio, 0.0, incoming
    first = pair[0].start  # the two cues alone, from the outgoing one's start
    pair = [replace(c, start=c.start - first, end=c.end - first) for c in pair]
    for _ in range(_SEGUE_ROUNDS):
        pieces = joined(pair, [outgoing, current], plan.rate)
        track = np.concatenate([p.audio for p in pieces], axis=1)
        step = loudness_step(track, DELIVERY_RATE, pieces[0].audio.shape[1] / DELIVERY_RATE)
        if not np.isfinite(step) or abs(step) <= SEGUE_TOLERANCE:
            break
        step_db -= step
        gained = own * entrance_gain(own.shape[1], DELIVERY_RATE, step_db)
        audio, _ = normalize_loudness(gained, DELIVERY_RATE, target, ceiling)
        stems = incoming.stems
        if stems is not None:  # the same gain on every stem: they still sum to the mix
            gain = gain_between(own, audio)
            stems = {n: (a * gain).astype(np.float32) for n, a in stems.items()}
        current = replace(incoming, audio=audio, stems=stems)
    return current


def _as_stem(cue: RenderedCue, name: str) -> RenderedCue:
    audio = cue.stems[name] if cue.stems else np.zeros_like(cue.audio)
    return replace(cue, audio=audio, stems=None)


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
                plan.engine,
                conditioning,
                seed + cue.index,
                progress.within("generate"),
                stop,
                stems=plan.request.stems,
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
    """What the picture says over the cue and how it ends (`cue_ending`), over the cue plus
    what may ring past its out frame (no prompt: the takes that continue music add their own)."""
    start, duration = plan.cue_seconds(cue)
    ending = cue_ending(plan, cue)
    with timed(seconds, "frames"):
        whole = cue_conditioning(plan.analysis, start, duration + ending.ring, prompt_audio=None)
    cuts = cue_cut_times(plan.analysis, start, duration)  # the ring's cuts are the next cue's
    controls = plan.cue_controls(cue, ending.ring)
    return replace(whole, cuts=cuts, ending=ending, controls=controls)


def cue_ending(plan: ScorePlan, cue: Cue) -> Ending:
    """How `cue` ends: the request's kind on its out frame, ringing `TAIL_SECONDS` under the
    next cue (the segue) or into a following rest, and the request's `tail` past the range's
    out frame (0: decayed by it)."""
    _, duration = plan.cue_seconds(cue)
    following = plan.cues[cue.index + 1] if cue.index + 1 < len(plan.cues) else None
    if following is None:
        ring = float(plan.request.tail)
    elif following.silent:
        ring = min(TAIL_SECONDS, following.frames / plan.rate)
    else:
        ring = TAIL_SECONDS
    return Ending(plan.request.ending, duration, ring)


# --- the stages of one cue: generate → align → level ---------------------------------------


def generated(
    engine: MusicEngine,
    conditioning: CueConditioning,
    seed: int,
    progress: ProgressFn,
    stop: threading.Event,
    stems: bool = False,
) -> Generated:
    """Stage 1, generate: the engine's music for one cue of one take (with `stems`, as stems
    too, when the engine makes them)."""
    if stems and callable(getattr(engine, "generate_stems_with_beats", None)):
        parts, beats = engine.generate_stems_with_beats(conditioning, seed, progress, stop)
        return Generated(sum(parts.values()), beats, parts)
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
    """The chain after generation, in order — align → ending → level — then the checkpoint."""
    start, duration = plan.cue_seconds(cue)
    rate = plan.engine.sample_rate
    points = cue_sync_points(plan.analysis, start, duration)
    controls = plan.cue_controls(cue)
    ending = cue_ending(plan, cue)
    times = np.array([p.time for p in points])
    priorities = [p.priority for p in points]
    if (
        ending.ring > 0
        and ending.kind != "fade"
        and getattr(plan.engine, "composes_endings", False)
    ):
        # the composed accent is on the out frame, a beat of its own: the aligner keeps it
        # there as it keeps a hit, so no stretch before it pushes the button off
        times, priorities = np.append(times, ending.out), [*priorities, Priority.MUST_HIT]
    with timed(seconds, "align"):
        alignment = aligned(
            made,
            rate,
            times,
            stretch_bound(plan.request.max_stretch, controls),
            plan.rate,
            progress.within("align"),
            priorities=priorities,
            duration=ending.out + ending.ring,
            # composed music is cut into only by its composer: stretch, never splice, so the
            # music the arranger wrote between its anchors (and its ending) stays whole
            splices=not getattr(plan.engine, "composes_endings", False),
        )
        alignment, warning = without_holes(made.audio, rate, alignment, plan.rate, duration)
        warped = _warped_stems(made.stems, rate, alignment.plan)
        if warped is not None:  # the delivered mix is the sum of the stems
            alignment = replace(alignment, audio=sum(warped.values()))
    with timed(seconds, "level"):
        music = intensity_in_mix(alignment, rate, controls, plan.engine)
        if getattr(plan.engine, "composes_endings", False):
            music = music * _ending_guard(music.shape[-1], rate, ending)
        else:
            music = ended(music, rate, ending, alignment.beats_after)
        target, ceiling = plan.request.loudness_target
        audio = levelled(music, rate, target, progress.within("level"), ceiling)
        stems = _stems_following(warped, rate, audio)
    progress.at("level", 1.0, "levelled")
    tempo = float(getattr(made.beats, "tempo", 0.0) or alignment.beats_after.tempo)
    said = (f"{cue.name}: {warning}",) if warning else ()
    rendered = RenderedCue(audio, seed, tempo, alignment, warnings=said, stems=stems)
    checkpoints.save_cue(progress.take, cue.index, cue_arrays(rendered))
    return rendered


def _warped_stems(
    stems: dict[str, np.ndarray] | None, sample_rate: int, plan: AlignmentPlan
) -> dict[str, np.ndarray] | None:
    """Each stem through the alignment's own warp plan (the mix's), or None without stems."""
    if not stems:
        return None
    return {name: render_alignment(audio, sample_rate, plan) for name, audio in stems.items()}


def _stems_following(
    stems: dict[str, np.ndarray] | None, sample_rate: int, mix: np.ndarray
) -> dict[str, np.ndarray] | None:
    """The stems at 48 kHz with the gain curve that took their sum to the delivered `mix`
    (intensity, ending, loudness and the limiter: each one gain for every channel), so the
    stems still sum to the mix."""
    if stems is None:
        return None
    delivered = {name: resample(audio, sample_rate, DELIVERY_RATE) for name, audio in stems.items()}
    gain = gain_between(sum(delivered.values()), mix)
    return {name: (audio * gain).astype(np.float32) for name, audio in delivered.items()}


def gain_between(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The per-sample gain `[N]` that made `after` `[C, N]` of `before` (the least-squares gain
    across channels where `before` sounds; interpolated across its silences)."""
    n = min(before.shape[1], after.shape[1])
    before, after = before[:, :n].astype(np.float64), after[:, :n].astype(np.float64)
    power = (before**2).sum(axis=0)
    sounding = power > 1e-12 * max(float(power.max(initial=0.0)), 1e-30)
    gain = np.zeros(n)
    gain[sounding] = (before * after).sum(axis=0)[sounding] / power[sounding]
    where = np.flatnonzero(sounding)
    if len(where):
        gain = np.interp(np.arange(n), where, gain[where])
    return gain.astype(np.float32)


def aligned(
    made: Generated,
    sample_rate: int,
    cuts: np.ndarray,
    max_stretch: float,
    fps: float,
    progress: ProgressFn,
    priorities: Sequence[Priority] | None = None,
    duration: float | None = None,
    splices: bool = True,
) -> AlignmentResult:
    """Stage 2, align: the music warped so its beats land on `cuts` (seconds from the cue
    start; ranked by `priorities`, see `gvmgen.align.Priority`), at the engine's rate,
    `duration` long (default: the music's); a `gvmgen.align.AlignmentResult`."""
    progress(0.0, "aligning to the cuts")
    return align_to_cuts(
        made.audio,
        sample_rate,
        cuts,
        max_stretch=max_stretch,
        fps=fps,
        beats=made.beats,
        duration=duration,
        allow_splices=splices,
        progress=lambda f, m: progress(f, f"aligning: {m}"),
        priorities=priorities,
    )


def _ending_guard(n: int, sample_rate: int, ending: Ending) -> np.ndarray:
    """For an engine that composed its ending: silence by the end of what may sound, whatever
    the alignment did to the last moments (a short release into the end, 1 where the music has
    already rung out)."""
    stop = ending.out + ending.ring if ending.ring > 0 else ending.out - GONE_BEFORE_OUT
    return release_gain(n, sample_rate, max(stop - GUARD_SECONDS, 0.0), max(stop, 0.0))


def ended(audio: np.ndarray, sample_rate: int, ending: Ending, beats: BeatGrid) -> np.ndarray:
    """Stage 2½, ending, for music an engine could not end by itself (GVMGen). At the outer end
    (`ending.ring` 0) it plays to its last downbeat that leaves `GVMGEN_RELEASE` before the out
    frame, then is released over that (`GVMGEN_ENDING` "release", chosen by
    `bench/cue_bench.py`), or fades (a fade ending, or no downbeat to end on); what may ring
    past the out frame fades by its end."""
    n = audio.shape[-1]
    gain = None
    if ending.ring == 0 and ending.kind != "fade" and GVMGEN_ENDING == "release":
        downbeat = _last_downbeat(beats, ending.out - GVMGEN_RELEASE)
        if downbeat is not None:
            gain = release_gain(n, sample_rate, downbeat + 0.05, downbeat + GVMGEN_RELEASE)
    if gain is None:
        fade = ending.ring == 0 and ending.kind != "fade"
        gain = ending_gain(n, sample_rate, replace(ending, kind="fade") if fade else ending)
    return (np.asarray(audio, np.float32) * gain).astype(np.float32)


def _last_downbeat(beats: BeatGrid, latest: float) -> float | None:
    times = np.asarray(getattr(beats, "times", np.zeros(0)), np.float64)
    flags = np.asarray(getattr(beats, "downbeats", np.zeros(len(times), bool)), bool)
    found = times[flags & (times <= latest)] if len(flags) == len(times) else times[:0]
    return float(found[-1]) if len(found) else None


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


def stretch_bound(max_stretch: float, controls: CueControls) -> float:
    """The alignment's stretch limit: an editor's single tempo holds it within half the tempo's
    tolerance (±1 of the ±2 BPM), whatever the engine."""
    tempo = controls.start.tempo
    if tempo is not None and tempo.single:  # the arranger's grid takes the other half
        return min(max_stretch, TEMPO_TOLERANCE / 2 / tempo.low)
    return max_stretch


def intensity_in_mix(
    alignment: AlignmentResult, sample_rate: int, controls: CueControls, engine: MusicEngine
) -> np.ndarray:
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


def joined(
    cues: Sequence[Cue], rendered: list[RenderedCue], rate: float, tail: float = 0.0
) -> list[RenderedCue]:
    """The levelled cues of one take laid on one track, each cue's ending under the next.

    Consecutive cues meet in a segue: the outgoing cue's ending (its accent on the shared
    frame, then its ring) under the incoming cue's entrance, in an equal-power crossfade from
    that downbeat over whole beats of the incoming cue (at least one, at most `TAIL_SECONDS`).
    The segues are baked in: the track is cut back into one piece per cue at frame-exact
    sample positions, so clips of consecutive cues sit end to end. A rest is no audio at all
    (a gap on the track); the cue before it keeps its ring into it, and the last cue its `tail`:
    those pieces are longer than their cue by what rings past the out frame.
    """
    bounds = [_sample_at(cue.start, rate) for cue in cues]
    end = _sample_at(cues[-1].end, rate)
    total = end + round(tail * DELIVERY_RATE)
    starts = [b / DELIVERY_RATE for b in bounds]
    fades = [_segue_seconds(nxt) for nxt in rendered[1:]]
    rests = [c.silent for c in rendered]
    track = join_cues(
        [c.audio for c in rendered], starts, DELIVERY_RATE, total / DELIVERY_RATE, fades, rests
    )
    pieces = []
    for i, (cue, made) in enumerate(zip(cues, rendered, strict=True)):
        stop = bounds[i + 1] if i + 1 < len(cues) else total
        if i + 1 < len(cues) and cues[i + 1].silent and not cue.silent:
            rest_end = bounds[i + 2] if i + 2 < len(cues) else end
            stop = min(bounds[i] + made.audio.shape[1], rest_end)  # its ring, declared
        audio = track[:, 0:0] if cue.silent else track[:, bounds[i] : stop]
        pieces.append(replace(made, audio=audio))
    return pieces


def take_track(cues: Sequence[Cue], rendered: Sequence[RenderedCue], rate: float) -> np.ndarray:
    """One take as a single track `[2, N]` at 48 kHz: every cue's audio at its start, rests
    silent, rings and the tail included (for the preview, the picture and whole-take loudness)."""
    ends = [
        _sample_at(c.start, rate) + r.audio.shape[1] for c, r in zip(cues, rendered, strict=True)
    ]
    track = np.zeros((2, max(_sample_at(cues[-1].end, rate), *ends)), np.float32)
    for cue, made in zip(cues, rendered, strict=True):
        first = _sample_at(cue.start, rate)
        track[:, first : first + made.audio.shape[1]] += made.audio
    return track


def _segue_seconds(incoming: RenderedCue) -> float:
    """The segue's crossfade: whole beats of the incoming cue within `TAIL_SECONDS`, at least
    one (a rest has no beats: its side of the join is silence, the outgoing rings into it)."""
    if incoming.silent:
        return TAIL_SECONDS
    beat = 60.0 / incoming.tempo if incoming.tempo > 0 else 0.5
    return beat * max(1, int(TAIL_SECONDS / beat + 1e-9))


def _sample_at(frame: int, rate: float) -> int:
    """The 48 kHz sample where `frame` starts; rounding each boundary keeps clips contiguous."""
    return round(frame * DELIVERY_RATE / rate)
