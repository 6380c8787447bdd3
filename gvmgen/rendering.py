"""Rendering takes: each cue generated, aligned to its cuts, levelled, and joined at 48 kHz.

Cues of an engine that continues music (GVMGen) go in order, every take continuing its own
previous cue, and the takes of one cue in one batched pass when the engine can; independent
cues (the arranger) render one per core. Every finished cue is checkpointed in the job's
staging folder and taken from there when a killed job runs again: as plain arrays and JSON
(`cue_arrays` / `cue_from_arrays`), never a pickle, so a checkpoint cannot run code on load.
A job's `pause` is looked at only before a cue begins, so a pause lets the cues already begun
finish and be checkpointed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass, replace

import numpy as np

from gvmgen.conditioning import cue_conditioning, cue_cut_times
from gvmgen.cues import Cue
from gvmgen.engines import TakesInOnePass
from gvmgen.media.audio import DELIVERY_RATE, resample
from gvmgen.progress import Parts, ProgressFn, check_pause

TAIL_SECONDS = 1.5  # each cue rings on this long under the next one's first downbeat
RELEASE_SECONDS = 0.5  # into a rest, music fades to nothing over this (then digital silence)
PROMPT_SECONDS = 10.0  # how much of the previous cue an engine that continues music hears
MAX_WORKERS = 4  # cues rendered at once when they are independent
# Of one cue's share: (generate, align, level); GVMGen's time is all in the model.
CUE_SHARES = {True: (0.90, 0.08, 0.02), False: (0.35, 0.50, 0.15)}
_TIMING_LOCK = threading.Lock()


@dataclass(frozen=True)
class RenderedCue:
    audio: np.ndarray  # [2, N] at 48 kHz, the cue's exact length
    seed: int
    tempo: float
    alignment: object  # gvmgen.align.AlignmentResult (engine rate)
    silent: bool = False  # a rest: zeros, no engine, no alignment to speak of


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
    from gvmgen.align.aligner import AlignmentResult
    from gvmgen.align.beats import BeatGrid
    from gvmgen.align.metrics import AlignmentMetrics
    from gvmgen.align.plan_types import AlignmentPlan, Anchor, Piece, Splice, UnhitCut

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


class _CueSteps:
    """Progress of one cue of one take: its share of the job, split generate/align/level."""

    def __init__(self, run, parts: Parts, take: int, cue: Cue):
        self.run, self.parts, self.take, self.cue = run, parts, take, cue
        self.shares = CUE_SHARES[bool(run.choice.engine.needs_gpu)]

    def at(self, stage: str, fraction: float, message: str) -> None:
        whole = self.parts.advance((self.take, self.cue.index), fraction)
        text = f"take {self.take} {self.cue.name}: {message}"
        self.run.post(stage, whole, text, self.cue.index, self.take)

    def within(self, stage: str) -> ProgressFn:
        """A `progress(fraction, message)` for one stage of this cue."""
        generate, align, _ = self.shares
        start, width = {
            "generate": (0.0, generate),
            "align": (generate, align),
            "level": (generate + align, 1.0 - generate - align),
        }[stage]
        return lambda fraction, message: self.at(stage, start + width * fraction, message)


def render_takes(run, start: float, end: float) -> list[list[RenderedCue]]:
    """Music for every cue of every take, aligned, levelled and joined at 48 kHz; progress
    fills `[start, end]` of the job."""
    weights = {(take, cue.index): float(cue.frames) for take, _ in run.takes for cue in run.cues}
    parts = Parts(weights, start, end)
    steps = {key: _CueSteps(run, parts, key[0], run.cues[key[1]]) for key in weights}
    if run.choice.engine.takes_prompt_audio:  # each cue continues the one before: in order
        rendered = _render_in_order(run, steps)
    else:  # independent cues: one per core (numpy, Rubber Band and scipy release the GIL)
        rendered = _render_independent(run, steps)
    return [_joined(run, cues) for cues in rendered]


def _render_independent(run, steps: dict) -> list[list[RenderedCue]]:
    jobs = [(take, seed, cue) for take, seed in run.takes for cue in run.cues]
    done = parallel_map(
        lambda job: _checkpointed(run, steps[job[0], job[2].index], job[1], job[2]), jobs
    )
    n = len(run.cues)
    return [done[i * n : (i + 1) * n] for i in range(len(run.takes))]


def _checkpointed(run, steps: _CueSteps, seed: int, cue: Cue) -> RenderedCue:
    """The cue from this job's checkpoint, or rendered now and checkpointed."""
    check_pause(run.pause)  # a cue boundary: the cues started before run on to their checkpoints
    if cue.silent:
        return _rest(run, steps, seed, cue)
    kept = _kept(run, steps.take, cue)
    if kept is not None:
        steps.at("level", 1.0, "kept from the interrupted run")
        return kept
    conditioning = _conditioning(run, cue, None)
    with timed(run.seconds, "engine"):
        audio, beats = run.choice.engine.generate_with_beats(
            conditioning, seed + cue.index, steps.within("generate"), run.stop
        )
    rendered = _aligned_and_levelled(run, steps, cue, seed + cue.index, audio, beats)
    run.job.save_cue(steps.take, cue.index, cue_arrays(rendered))
    return rendered


def _kept(run, take: int, cue: Cue) -> RenderedCue | None:
    """The cue as an interrupted run of this job left it, or None (none, or unreadable)."""
    arrays = run.job.load_cue(take, cue.index)
    if arrays is None:
        return None
    try:
        return cue_from_arrays(arrays)
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        return None  # written by another version of the code: render it again


def _render_in_order(run, steps: dict) -> list[list[RenderedCue]]:
    """Cue after cue, each take continuing its own previous cue; takes of one cue in one pass
    when the engine can (`TakesInOnePass`)."""
    per_take: dict[int, list[RenderedCue]] = {take: [] for take, _ in run.takes}
    for cue in run.cues:
        check_pause(run.pause)  # a cue boundary: every cue before is checkpointed
        if cue.silent:
            for take, seed in run.takes:
                per_take[take].append(_rest(run, steps[take, cue.index], seed, cue))
            continue
        pending = []
        for take, seed in run.takes:
            kept = _kept(run, take, cue)
            if kept is None:
                pending.append((take, seed))
            else:
                steps[take, cue.index].at("level", 1.0, "kept from the interrupted run")
                per_take[take].append(kept)
        fresh = _render_cue_takes(run, steps, cue, pending, per_take)
        for take, _ in pending:
            run.job.save_cue(take, cue.index, cue_arrays(fresh[take]))
            per_take[take].append(fresh[take])
    return [per_take[take] for take, _ in run.takes]


def _render_cue_takes(run, steps: dict, cue: Cue, pending, per_take) -> dict:
    """{take: rendered cue} for the takes of `cue` not kept from an interrupted run."""
    if not pending:
        return {}
    engine = run.choice.engine
    prompts = [_prompt((per_take[take] or [None])[-1], engine) for take, _ in pending]
    conditioning = _conditioning(run, cue, None)
    seeds = [seed + cue.index for _, seed in pending]
    mine = [steps[take, cue.index] for take, _ in pending]
    with timed(run.seconds, "engine"):
        if len(pending) > 1 and isinstance(engine, TakesInOnePass):
            report = [s.within("generate") for s in mine]
            audios = engine.generate_takes(
                conditioning, seeds, lambda f, m: [r(f, m) for r in report], run.stop, prompts
            )
            made = [(a, None) for a in audios]
        else:
            made = [
                engine.generate_with_beats(
                    replace(conditioning, prompt_audio=p), s, st.within("generate"), run.stop
                )
                for p, s, st in zip(prompts, seeds, mine, strict=True)
            ]
    return {
        take: _aligned_and_levelled(run, st, cue, s, audio, beats)
        for (take, _), st, s, (audio, beats) in zip(pending, mine, seeds, made, strict=True)
    }


def _conditioning(run, cue: Cue, prompt):
    start, duration = run.cue_seconds(cue)
    tail = 0.0 if cue.index == len(run.cues) - 1 else TAIL_SECONDS
    with timed(run.seconds, "frames"):
        return cue_conditioning(run.analysis, start, duration + tail, prompt_audio=prompt)


def parallel_map(fn, items: list) -> list:
    """`[fn(x) for x in items]` on a few threads; the first exception propagates."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _aligned_and_levelled(run, steps: _CueSteps, cue: Cue, seed: int, audio, beats):
    """The engine's music aligned to the cue's cuts, at 48 kHz, at the target loudness."""
    from gvmgen.align import align_to_cuts, normalize_loudness

    engine = run.choice.engine
    start, duration = run.cue_seconds(cue)
    align = steps.within("align")
    align(0.0, "aligning to the cuts")
    with timed(run.seconds, "align"):
        aligned = align_to_cuts(
            audio,
            engine.sample_rate,
            cue_cut_times(run.analysis, start, duration),
            max_stretch=run.request.max_stretch,
            fps=run.rate,
            beats=beats,
            progress=lambda f, m: align(f, f"aligning: {m}"),
        )
    level = steps.within("level")
    level(0.0, "levelling: resampling")
    with timed(run.seconds, "level"):
        delivered = resample(aligned.audio, engine.sample_rate, DELIVERY_RATE)
        levelled, _ = normalize_loudness(
            delivered,
            DELIVERY_RATE,
            run.request.target_lufs,
            progress=lambda f, m: level(0.2 + 0.8 * f, f"levelling: {m}"),
        )
    level(1.0, "levelled")
    tempo = float(getattr(beats, "tempo", 0.0) or aligned.beats_after.tempo)
    return RenderedCue(levelled, seed, tempo, aligned)


def _rest(run, steps: _CueSteps, seed: int, cue: Cue) -> RenderedCue:
    """A silent cue: exact-length zeros at 48 kHz, made without the engine."""
    from gvmgen.align.aligner import AlignmentResult
    from gvmgen.align.beats import BeatGrid
    from gvmgen.align.metrics import AlignmentMetrics
    from gvmgen.align.plan_types import AlignmentPlan

    _, duration = run.cue_seconds(cue)
    length = _sample_at(cue.end, run.rate) - _sample_at(cue.start, run.rate)
    none = np.zeros(0, np.float64)
    beats = BeatGrid(none, np.zeros(0, bool), 0.0, none, 0.0)
    plan = AlignmentPlan(none, duration, duration, run.request.max_stretch, (), (), (), ())
    nan = float("nan")  # nothing aimed at: no rate to give
    metrics = AlignmentMetrics(nan, nan, nan, 0.0, 0.0, 0, 0.0, 0, [])
    audio = np.zeros((2, 0), np.float32)
    steps.at("level", 1.0, "rest: silence over the gap")
    alignment = AlignmentResult(audio, plan, metrics, beats, beats)
    return RenderedCue(np.zeros((2, length), np.float32), seed + cue.index, 0.0, alignment, True)


def _prompt(previous: RenderedCue | None, engine) -> np.ndarray | None:
    """The end of the take's previous cue; after a rest the music starts afresh."""
    if previous is None or previous.silent:
        return None
    audio = previous.alignment.audio
    return audio[:, -round(PROMPT_SECONDS * engine.sample_rate) :]


def _joined(run, cues: list[RenderedCue]) -> list[RenderedCue]:
    """The levelled cues laid on one track, each tail under the next cue's start.

    The track is cut back into one piece per cue at frame-exact sample positions, so the clips
    sit end to end on the timeline (no gap, no overlap) and the crossfades are baked in.
    """
    from gvmgen.align import join_cues

    with timed(run.seconds, "mix"):
        bounds = [_sample_at(cue.start, run.rate) for cue in run.cues]
        total = _sample_at(run.cues[-1].end, run.rate)
        starts = [b / DELIVERY_RATE for b in bounds]
        ends = [*bounds[1:], total]
        following = [*cues[1:], None]
        audio = [
            _released(c, f, b - a) for c, f, a, b in zip(cues, following, bounds, ends, strict=True)
        ]
        track = join_cues(audio, starts, DELIVERY_RATE, total / DELIVERY_RATE)
    return [
        RenderedCue(track[:, a:b], c.seed, c.tempo, c.alignment, c.silent)
        for c, a, b in zip(cues, bounds, ends, strict=True)
    ]


def _released(cue: RenderedCue, following: RenderedCue | None, slot: int) -> np.ndarray:
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


@contextmanager
def timed(seconds: dict[str, float], stage: str):
    """Add the block's wall time to `seconds[stage]` (summed over threads when in parallel)."""
    began = time.perf_counter()
    try:
        yield
    finally:
        with _TIMING_LOCK:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - began
