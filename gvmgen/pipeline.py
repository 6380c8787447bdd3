"""`score(request, progress)`: the one place where the stages meet.

    timeline.read → cuts → cue plan → frames → engine → align → joins and loudness → WAVs + OTIO

Every user mistake is found before anything is written; everything a run writes goes through a
staging folder, so a failure leaves the output folder as it was.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gvmgen import outputs
from gvmgen.analysis import Analysis, analyze_edit, is_timeline, load_edit
from gvmgen.conditioning import cue_conditioning, cue_cut_times
from gvmgen.cues import BATCH_CUE_SECONDS, Cue, CutMark, plan_cues
from gvmgen.engines import EngineChoice, choose_engine
from gvmgen.errors import Cancelled, InputError
from gvmgen.media.audio import DELIVERY_RATE, resample
from gvmgen.schema import CueReport, CutHit, ScoreMode, ScoreRequest, ScoreResult, TakeInfo

Progress = Callable[[float, str], None]

TAIL_SECONDS = 1.5  # each cue rings on this long under the next one's first downbeat
PROMPT_SECONDS = 10.0  # how much of the previous cue an engine that continues music hears
CUE_MARKER_PREFIX = "cue"
MAX_WORKERS = 4  # cues rendered at once when they are independent
_TIMING_LOCK = threading.Lock()


@dataclass
class _Run:
    """The state of one scoring run, shared by the step helpers below."""

    request: ScoreRequest
    job_id: str
    edit: object
    analysis: Analysis
    choice: EngineChoice
    cues: list[Cue]
    takes: list[tuple[int, int]]  # (take number, seed)
    progress: Progress
    cancel: threading.Event | None
    previous: outputs.PreviousScore | None  # what an earlier run left in the output folder
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return float(self.edit.rate)

    def cue_seconds(self, cue: Cue) -> tuple[float, float]:
        return cue.start / self.rate, cue.frames / self.rate


@dataclass(frozen=True)
class _RenderedCue:
    audio: np.ndarray  # [2, N] at 48 kHz, the cue's exact length
    seed: int
    tempo: float
    alignment: object  # gvmgen.align.AlignmentResult (engine rate)


def score(
    request: ScoreRequest | dict,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> ScoreResult:
    """Score `request.input` and write the outputs to `request.out_dir`."""
    from gvmgen.schema import parse_request

    request = request if isinstance(request, ScoreRequest) else parse_request(request)
    run = _prepare(request, progress or (lambda f, m: None), cancel)
    with outputs.staging(Path(request.out_dir).resolve(), run.job_id) as stage:
        takes = [_render_take(run, take, seed) for take, seed in run.takes]
        result = _write_outputs(run, takes, stage)
    return result


def _prepare(request: ScoreRequest, progress: Progress, cancel) -> _Run:
    """Everything that can fail because of the user's input, before a single file is written."""
    seconds: dict[str, float] = {}
    previous = outputs.read_previous(Path(request.out_dir))
    with _timed(seconds, "timeline"):
        range_text = _range_to_score(request, previous)
        edit = load_edit(request.input, range_text, request.allow_missing_media)
    takes = _plan_takes(request, edit, previous)
    with _timed(seconds, "engine"):
        choice = choose_engine(request.engine)
    progress(0.02, f"engine: {choice.reason}")
    with _timed(seconds, "cuts"):
        kind = "timeline" if is_timeline(request.input) else "video"
        analysis = analyze_edit(edit, Path(request.input), kind)
    progress(0.10, f"{len(analysis.cuts)} cuts in {analysis.duration:.1f} s")
    cues = _plan(edit, analysis, choice.engine, request.mode)
    job_id = request.job_id or uuid.uuid4().hex[:12]
    return _Run(
        request, job_id, edit, analysis, choice, cues, takes, progress, cancel, previous, seconds
    )


def _range_to_score(request: ScoreRequest, previous: outputs.PreviousScore | None) -> str | None:
    """The request's range; regenerate without one takes the range scored in the folder."""
    if request.mode != ScoreMode.REGENERATE.value:
        return request.range
    if previous is None:
        raise InputError(
            f"nothing to regenerate in {request.out_dir!r}: score the range there first "
            "(--mode range), then regenerate into the same --out folder"
        )
    return request.range or f"{previous.range_in}-{previous.range_out}"


def _plan(edit, analysis: Analysis, engine, mode: str) -> list[Cue]:
    rate = float(edit.rate)
    total = round(edit.duration.to_seconds() * rate)
    marks = [CutMark(c.frame, c.score if c.kind == "shot" else 1.0) for c in analysis.cuts]
    markers = [
        (round(m.time.to_seconds() * rate), m.name)
        for m in edit.markers
        if m.name.strip().lower().startswith(CUE_MARKER_PREFIX)
    ]
    window = engine.window_seconds
    if mode == ScoreMode.BATCH.value:
        window = min(window, BATCH_CUE_SECONDS)
    return plan_cues(total, rate, marks, markers, max_seconds=window)


def _plan_takes(
    request: ScoreRequest, edit, previous: outputs.PreviousScore | None
) -> list[tuple[int, int]]:
    """(take, seed) for each take this run makes. Takes on disk are never overwritten: a run
    into a folder that scored this range before adds takes after the last one."""
    first_take, used = 1, set()
    if previous is not None:
        _check_same_range(previous, request, edit)
        first_take, used = previous.next_take, previous.seeds
    if request.seed is not None:  # asked for: reproduce exactly, even a seed used before
        seeds = [(request.seed + i) % 2**31 for i in range(request.takes)]
    else:
        seeds = _fresh_seeds(used, request.takes)
    return [(first_take + i, s) for i, s in enumerate(seeds)]


def _fresh_seeds(used: set[int], count: int) -> list[int]:
    """Seeds not used before in this folder: 0, 1, … for a first score (reproducible)."""
    seeds, seed = [], 0
    while len(seeds) < count:
        if seed not in used:
            seeds.append(seed)
        seed += 1
    return seeds


def _check_same_range(previous: outputs.PreviousScore, request: ScoreRequest, edit) -> None:
    from gvmgen.analysis import range_timecodes

    here = range_timecodes(edit)
    same_input = previous.input == str(Path(request.input).resolve())
    if not same_input or (previous.range_in, previous.range_out) != here:
        raise InputError(
            f"{request.out_dir!r} holds takes of {Path(previous.input).name} "
            f"{previous.range_in}-{previous.range_out}, not of {Path(request.input).name} "
            f"{here[0]}-{here[1]}; score into a new --out folder (takes are never overwritten)"
        )


def _render_take(run: _Run, take: int, seed: int) -> list[_RenderedCue]:
    """Music for every cue of one take, aligned to its cuts, levelled, joined at 48 kHz."""
    if run.choice.engine.takes_prompt_audio:  # each cue continues the one before: in order
        rendered, previous = [], None
        for cue in run.cues:
            rendered.append(_render_cue(run, cue, seed + cue.index, previous, take))
            previous = rendered[-1].alignment.audio
    else:  # independent cues: one per core (numpy, Rubber Band and scipy release the GIL)
        rendered = parallel_map(
            lambda cue: _render_cue(run, cue, seed + cue.index, None, take), run.cues
        )
    return _joined(run, rendered)


def parallel_map(fn, items: list) -> list:
    """`[fn(x) for x in items]` on a few threads; the first exception propagates."""
    workers = min(MAX_WORKERS, os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _render_cue(run: _Run, cue: Cue, seed: int, previous, take: int) -> _RenderedCue:
    from gvmgen.align import align_to_cuts, normalize_loudness

    _check_cancel(run.cancel)
    engine = run.choice.engine
    start, duration = run.cue_seconds(cue)
    is_last = cue.index == len(run.cues) - 1
    tail = 0.0 if is_last else TAIL_SECONDS
    prompt = _prompt(previous, engine) if engine.takes_prompt_audio else None
    with _timed(run.seconds, "frames"):
        conditioning = cue_conditioning(run.analysis, start, duration + tail, prompt_audio=prompt)
    with _timed(run.seconds, "engine"):
        audio, beats = _generate(run, conditioning, seed, cue, take)
    with _timed(run.seconds, "align"):
        aligned = align_to_cuts(
            audio,
            engine.sample_rate,
            cue_cut_times(run.analysis, start, duration),
            max_stretch=run.request.max_stretch,
            fps=run.rate,
            beats=beats,
        )
    with _timed(run.seconds, "level"):
        delivered = resample(aligned.audio, engine.sample_rate, DELIVERY_RATE)
        levelled, _ = normalize_loudness(delivered, DELIVERY_RATE, run.request.target_lufs)
    tempo = float(getattr(beats, "tempo", 0.0) or aligned.beats_after.tempo)
    return _RenderedCue(levelled, seed, tempo, aligned)


def _prompt(previous: np.ndarray | None, engine) -> np.ndarray | None:
    if previous is None:
        return None
    return previous[:, -round(PROMPT_SECONDS * engine.sample_rate) :]


def _generate(run: _Run, conditioning, seed: int, cue: Cue, take: int):
    """Audio from the engine, and its beat grid when the engine knows it (None otherwise)."""
    share = 0.75 / (len(run.cues) * len(run.takes))
    done = 0.12 + share * ((take - run.takes[0][0]) * len(run.cues) + cue.index)

    def progress(fraction: float, message: str) -> None:
        run.progress(done + share * fraction, f"take {take} {cue.name}: {message}")

    engine = run.choice.engine
    with_beats = getattr(engine, "generate_with_beats", None)
    if with_beats is not None:
        return with_beats(conditioning, seed, progress, run.cancel)
    return engine.generate(conditioning, seed, progress, run.cancel), None


def _joined(run: _Run, cues: list[_RenderedCue]) -> list[_RenderedCue]:
    """The levelled cues laid on one track, each tail under the next cue's start.

    The track is cut back into one piece per cue at frame-exact sample positions, so the clips
    sit end to end on the timeline (no gap, no overlap) and the crossfades are baked in.
    """
    from gvmgen.align import join_cues

    with _timed(run.seconds, "mix"):
        bounds = [_sample_at(cue.start, run.rate) for cue in run.cues]
        total = _sample_at(run.cues[-1].end, run.rate)
        starts = [b / DELIVERY_RATE for b in bounds]
        track = join_cues([c.audio for c in cues], starts, DELIVERY_RATE, total / DELIVERY_RATE)
        ends = [*bounds[1:], total]
    return [
        _RenderedCue(track[:, a:b], c.seed, c.tempo, c.alignment)
        for c, a, b in zip(cues, bounds, ends, strict=True)
    ]


def _sample_at(frame: int, rate: float) -> int:
    """The 48 kHz sample where `frame` starts; rounding each boundary keeps clips contiguous."""
    return round(frame * DELIVERY_RATE / rate)


def _write_outputs(run: _Run, takes: list[list[_RenderedCue]], stage: Path) -> ScoreResult:
    from gvmgen import report

    run.progress(0.88, "measuring and writing")
    with _timed(run.seconds, "write"):
        take_infos, cue_reports = _write_takes(run, takes, stage)
        result = report.build_result(run, take_infos, cue_reports, takes)
        report.write_all(run, result, takes, stage)
    run.progress(1.0, "done")
    return result


def _write_takes(run: _Run, takes, stage: Path):
    from gvmgen.media.audio import write_wav

    previous = run.previous
    infos = [] if previous is None else [TakeInfo.model_validate(t) for t in previous.takes]
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for (take, seed), cues in zip(run.takes, takes, strict=True):
        folder = Path("takes") / outputs.take_dir_name(take)
        wavs = []
        for cue, rendered in zip(run.cues, cues, strict=True):
            relative = folder / outputs.cue_wav_name(cue.index)
            write_wav(stage / relative, rendered.audio, DELIVERY_RATE)
            wavs.append(str(Path(run.request.out_dir).resolve() / relative))
        infos.append(TakeInfo(take=take, seed=seed, wavs=wavs, created=now))
    # the report describes the first take of this run: the one on the "GVMGen Score" track
    main_take, main_wavs = run.takes[0][0], infos[len(infos) - len(run.takes)].wavs
    reports = parallel_map(
        lambda job: _cue_report(run, *job, main_take),
        list(zip(run.cues, takes[0], main_wavs, strict=True)),
    )
    return infos, reports


def _cue_report(run: _Run, cue: Cue, rendered: _RenderedCue, wav: str, take: int) -> CueReport:
    """Metrics re-measured on the delivered audio, never taken from the plan."""
    from gvmgen.align import integrated_lufs, measure_alignment
    from gvmgen.analysis import timecode_at

    start, duration = run.cue_seconds(cue)
    cuts = cue_cut_times(run.analysis, start, duration)
    with _timed(run.seconds, "measure"):
        metrics = measure_alignment(
            rendered.audio, DELIVERY_RATE, cuts, fps=run.rate, plan=rendered.alignment.plan
        )
        loudness = integrated_lufs(rendered.audio, DELIVERY_RATE)
    plan = rendered.alignment.plan
    return CueReport(
        index=cue.index,
        name=cue.name,
        start=start,
        duration=duration,
        record_in=timecode_at(run.edit, cue.start),
        record_out=timecode_at(run.edit, cue.end),
        engine=run.choice.engine.name,
        seed=rendered.seed,
        take=take,
        wav=wav,
        tempo=round(rendered.tempo, 2),
        hit_rate_1frame=metrics.hit_rate_1frame,
        hit_rate_50ms=metrics.hit_rate_50ms,
        hit_rate_100ms=metrics.hit_rate_100ms,
        max_stretch=metrics.max_stretch,
        mean_stretch=metrics.mean_stretch,
        splices=metrics.splices,
        clicks=metrics.clicks,
        loudness_lufs=round(loudness, 2),
        unhit_cuts=[round(float(u.time), 3) for u in plan.unhit],
        cuts=[CutHit.model_validate(c) for c in metrics.per_cut],
    )


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("scoring cancelled")


@contextmanager
def _timed(seconds: dict[str, float], stage: str):
    """Add the block's wall time to `seconds[stage]` (summed over threads when in parallel)."""
    began = time.perf_counter()
    try:
        yield
    finally:
        with _TIMING_LOCK:
            seconds[stage] = seconds.get(stage, 0.0) + time.perf_counter() - began


def result_json(result: ScoreResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2)
