"""`Scorer.score(request)`: the one place where the stages meet.

    timeline.read → cuts → cue plan → frames → engine → align → joins and loudness → WAVs + OTIO

A `Scorer` keeps its engines warm between jobs (GVMGen's weights load once per process). Every
user mistake is found before anything is written. A job works in its own staging folder in the
output folder (`gvmgen.outputs.Job`): each finished cue is kept there, so a job killed midway
and run again with the same `job_id` renders only the cues it had not finished, and the same
`job_id` after the job completed returns its result without making a new take. A failed or
cancelled job leaves the output folder as it was. A paused job (a server stopping) stops at
the next cue boundary and keeps its staging folder, so the same `job_id` resumes it.

Progress arrives as typed `ProgressEvent`s on the calling thread (the work runs on worker
threads), over the whole job and never going backwards.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gvmgen import fingerprint, outputs, report
from gvmgen.align import (
    fit_ranks,
    integrated_lufs,
    measure_alignment,
    metre_ceiling,
    sync_weights,
    take_fit,
)
from gvmgen.analysis import (
    Analysis,
    analyze_edit,
    is_timeline,
    load_edit,
    range_timecodes,
    timecode_at,
)
from gvmgen.atomic import write_text_atomic
from gvmgen.concurrency import Timings, parallel_map, timed
from gvmgen.conditioning import cue_sync_points
from gvmgen.cues import Cue, CuePlan, analysis_holes, plan_cues, split_to_fit
from gvmgen.delivery import (
    cue_terms,
    dialogue_regions,
    placed_first,
    stamp_cue_wavs,
    write_cue_wavs,
    write_stem_wavs,
)
from gvmgen.engines import EngineRegistry, MusicEngine
from gvmgen.errors import InputError, JobError, Paused
from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.progress import (
    Parts,
    ProgressFn,
    Pump,
    Update,
    check_cancel,
    check_pause,
    scaled,
    span,
)
from gvmgen.rendering import RenderedCue, render_takes, take_track
from gvmgen.schema import (
    CueMetrics,
    CueReport,
    ProgressEvent,
    ScoreMode,
    ScoreRequest,
    ScoreResult,
    TakeInfo,
    parse_request,
)
from gvmgen.score_plan import ScorePlan, Take
from gvmgen.timeline.edit import Edit
from gvmgen.timeline.markers import is_cue_marker, read_conventions

OnEvent = Callable[[ProgressEvent], None]

SILENCE_ENGINE = "silence"  # what the report names as the maker of a rest


class Scorer:
    """Scores requests with engines kept warm between calls (one instance per worker).

    One job at a time per Scorer: its engines are not meant to run two jobs at once (GVMGen
    holds one model on the device). Jobs in other processes, or other Scorers, may share an
    output folder: take numbers and the commit are locked per folder.
    """

    def __init__(self, engines: EngineRegistry | None = None):
        self.engines = engines if engines is not None else EngineRegistry()

    def score(
        self,
        request: ScoreRequest | dict,
        *,
        on_event: OnEvent | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        progress_from: float = 0.0,
        at_cue_boundary: Callable[[], None] | None = None,
        max_cue_seconds: float | None = None,
    ) -> ScoreResult:
        """Score `request.input` into `request.out_dir`.

        `on_event` hears every step, on this thread. Setting `cancel` stops the job within a
        step (about a second) with `Cancelled`, leaving the output folder as it was. Setting
        `pause` lets the cue being rendered finish and be checkpointed, then stops with
        `Paused`: nothing shows in the output folder, and the same `job_id` resumes the job.

        :param progress_from: the fraction an earlier, interrupted attempt of this job reached;
            its listeners never see less.
        :param at_cue_boundary: called before each cue begins (on a rendering thread), where
            every cue before is finished or running on to its checkpoint: a batch lets waiting
            interactive jobs run here. Then `pause` is looked at.
        :param max_cue_seconds: no music cue longer (the plan cuts longer ones into equal
            parts): a retry after the engine ran out of memory on long cues.
        """
        request = request if isinstance(request, ScoreRequest) else parse_request(request)
        job_id = request.job_id or uuid.uuid4().hex[:12]
        check_cancel(cancel)
        check_pause(pause)

        def deliver(update: Update, eta: float | None) -> None:
            if on_event is not None:
                on_event(ProgressEvent(job_id=job_id, eta_seconds=eta, **vars(update)))

        def job() -> ScoreResult:
            return _score_job(
                request,
                job_id,
                self.engines,
                pump,
                pause=pause,
                at_cue_boundary=at_cue_boundary,
                max_cue_seconds=max_cue_seconds,
            )

        pump = Pump(deliver, start=progress_from)
        return pump.run(job, cancel)


def score(
    request: ScoreRequest | dict,
    *,
    engines: EngineRegistry | None = None,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
) -> ScoreResult:
    """One job with its own engines (a service keeps a `Scorer` instead)."""
    return Scorer(engines).score(request, on_event=on_event, cancel=cancel, pause=pause)


def _score_job(
    request: ScoreRequest,
    job_id: str,
    engines: EngineRegistry,
    pump: Pump,
    *,
    pause: threading.Event | None,
    at_cue_boundary: Callable[[], None] | None,
    max_cue_seconds: float | None,
) -> ScoreResult:
    out_dir = Path(request.out_dir).resolve()
    outputs.check_out_dir(out_dir)
    outputs.recover(out_dir, keep={job_id})  # a killed job's half-made commit first
    previous = outputs.read_previous(out_dir)
    seconds: Timings = {}
    with timed(seconds, "timeline"):
        edit = _read_edit(request, previous)
    made_from = fingerprint.record(request, edit)
    done = _finished(previous, job_id, request, made_from)
    if done is not None:
        pump.post(Update("done", 1.0, "done: this job had finished before"))
        return done
    plan = _prepare(
        request, job_id, engines, edit, made_from, previous, pump, seconds, max_cue_seconds
    )
    needed = _scratch_bytes(plan)
    outputs.check_space(out_dir, needed)  # before a single file is written
    with outputs.user_os_errors(out_dir, needed), outputs.Job.open(out_dir, job_id) as job:
        key = _staging_key(plan, job)
        job.check_request(key)  # before this run touches anything there
        try:
            # finished meanwhile?
            done = _finished(outputs.read_previous(out_dir), job_id, request, made_from)
            if done is not None:
                job.discard()
                pump.post(Update("done", 1.0, "done: this job had finished before"))
                return done
            takes = job.resume_or_reserve(
                key, request.takes, lambda used: _choose_seeds(request, used)
            )
            rendered = render_takes(
                plan,
                takes,
                job,
                pump.post,
                stop=pump.stop,
                pause=pause,
                at_cue_boundary=at_cue_boundary,
                seconds=seconds,
                span=span("job", "render"),
            )
            check_pause(pause)  # every cue is checkpointed: the rerun only writes
            takes, rendered, ranks = _best_fit_first(plan, takes, rendered)
            takes, rendered = placed_first(plan, takes, rendered)
            return _write_outputs(plan, takes, rendered, job, pump, seconds, ranks)
        except Paused:
            raise  # the stage and its checkpoints stay for the rerun; nothing was committed
        except BaseException:
            job.discard()
            raise


def _scratch_bytes(plan: ScorePlan) -> int:
    """The disk this job needs in its folder at its peak (`outputs.scratch_bytes`)."""
    request = plan.request
    music = sum(cue.frames for cue in plan.cues) / plan.rate
    wavs = 1 + (request.ducking is not None)  # ducked: the unducked twin beside it
    stems = 4 if request.stems else 0  # drums, bass, harmony, melody (none from some engines)
    preview = Path(request.input).stat().st_size if request.preview else 0
    return outputs.scratch_bytes(music, request.takes, wavs, stems, preview_bytes=preview)


def _best_fit_first(plan: ScorePlan, takes: list[Take], rendered: list[list[RenderedCue]]):
    """The takes best fit first (`gvmgen.align.take_fit` of each aligned cue), and each take
    number's fit rank. The takes keep their reserved numbers; only the order they are placed
    and listed in changes."""
    keys = []
    for cues in rendered:
        measured = []
        for cue, made in zip(plan.cues, cues, strict=True):
            if made.silent:
                continue
            start, duration = plan.cue_seconds(cue)
            points = cue_sync_points(plan.analysis, start, duration)
            rows = made.alignment.metrics.per_cut
            if len(rows) == len(points):
                priorities = [p.priority for p in points]
                measured.append((rows, priorities, made.alignment.plan.max_stretch, duration))
        keys.append(take_fit(measured))
    ranks = fit_ranks(keys)
    order = sorted(range(len(takes)), key=lambda i: ranks[i])
    by_take = {take: rank for (take, _), rank in zip(takes, ranks, strict=True)}
    return [takes[i] for i in order], [rendered[i] for i in order], by_take


def _step(pump: Pump, update: Update) -> None:
    """Report a step of the job (any thread), and stop here if the job was cancelled."""
    pump.post(update)
    check_cancel(pump.stop)


def _poster(pump: Pump, stage: str) -> ProgressFn:
    """`progress(fraction of the job, message)` posting steps of `stage`."""
    return lambda fraction, message: pump.post(Update(stage, fraction, message))


def _stepper(pump: Pump, stage: str) -> ProgressFn:
    """`_poster`, and each step is also where a cancelled job stops."""
    return lambda fraction, message: _step(pump, Update(stage, fraction, message))


def _finished(
    previous: outputs.PreviousScore | None, job_id: str, request: ScoreRequest, made_from: dict
) -> ScoreResult | None:
    """The result of job `job_id` when it already completed in this folder, else None.

    :raises JobError: it completed from another request (`made_from` differs), naming what
        changed: its result would be stale.
    """
    ours = [] if previous is None else previous.takes_of(job_id)
    if not ours:
        return None
    first = TakeInfo.model_validate(min(ours, key=lambda t: t["take"]))
    _check_same_request(previous, first, request, made_from)
    latest = ScoreResult.model_validate(previous.report)
    if latest.job_id == job_id:
        return latest
    later = f"takes after take {first.take} were made since; score.otio shows take {latest.take}"
    return latest.model_copy(
        update={
            "job_id": job_id,
            "take": first.take,
            "cues": first.cues,
            "engine": next((c.engine for c in first.cues if not c.silent), latest.engine),
            "loudness_lufs": _take_loudness_of(first, latest),
            "warnings": [*latest.warnings, later],
        }
    )


def _take_loudness_of(info: TakeInfo, latest: ScoreResult) -> float:
    return info.loudness_lufs if info.loudness_lufs is not None else latest.loudness_lufs


def _check_same_request(
    previous: outputs.PreviousScore, first: TakeInfo, request: ScoreRequest, made_from: dict
) -> None:
    """JobError when the finished job `first` belongs to was made from another request."""
    if first.made_from is None:  # an older report: what it says of the request
        changed = _changes_said_in(previous, first, request, made_from)
    else:
        changed = fingerprint.changes(first.made_from, made_from)
    if not changed:
        return
    here = str(Path(request.input).resolve())
    if previous.input != here and fingerprint.EDIT_CHANGED in changed:
        where = f"{Path(previous.input).name} → {Path(here).name}"
        changed = [f"{c} ({where})" if c == fingerprint.EDIT_CHANGED else c for c in changed]
    was = f"{previous.range_in}-{previous.range_out}"
    if previous.input != here or was != made_from["range"]:
        fix = f"score it into a new --out folder (this one holds takes of {was})"
    else:
        fix = "give a new --job-id, or leave --job-id out and use --mode regenerate for a new take"
    out_dir = str(Path(request.out_dir).resolve())
    raise JobError(
        f"job id {first.job_id!r} already finished in {out_dir!r} from another request: "
        f"{'; '.join(changed)}; its result would not be this one's",
        field="job_id",
        hint=fix,
        code="job_changed",
    )


def _changes_said_in(
    previous: outputs.PreviousScore, first: TakeInfo, request: ScoreRequest, made_from: dict
) -> list[str]:
    """What a report older than `TakeInfo.made_from` lets us compare: the input, the range and
    the seed (other options it does not hold)."""
    changed = []
    if previous.input != str(Path(request.input).resolve()):
        changed.append(f"input {Path(previous.input).name} → {Path(request.input).name}")
    was = f"{previous.range_in}-{previous.range_out}"
    if was != made_from["range"]:
        changed.append(f"range {was} → {made_from['range']}")
    if request.seed is not None and request.seed != first.seed:
        changed.append(f"seed {first.seed} → {request.seed}")
    return changed


def _read_edit(request: ScoreRequest, previous: outputs.PreviousScore | None) -> Edit:
    """The scored range of the input, as read from its file."""
    range_text = _range_to_score(request, previous)
    return load_edit(request.input, range_text, request.allow_missing_media, rate=request.rate)


def _prepare(
    request: ScoreRequest,
    job_id: str,
    engines: EngineRegistry,
    edit: Edit,
    made_from: dict,
    previous: outputs.PreviousScore | None,
    pump: Pump,
    seconds: Timings,
    max_cue_seconds: float | None,
) -> ScorePlan:
    """Everything that can fail because of the user's input, before a single file is written."""
    if previous is not None:
        _check_same_range(previous, request, edit)
    with timed(seconds, "engine"):
        choice = engines.choose(request.engine)
    pump.post(Update("timeline", span("job", "timeline")[1], f"engine: {choice.reason}"))
    with timed(seconds, "cuts"):
        kind = "timeline" if is_timeline(request.input) else "video"
        analysis = analyze_edit(
            edit,
            Path(request.input),
            kind,
            progress=scaled(_poster(pump, "cuts"), *span("job", "cuts")),
            cancel=pump.stop,
        )
    edit = analysis.edit  # a clip whose media would not decode is left to its edit points
    found = f"{len(analysis.cuts)} cuts in {analysis.duration:.1f} s"
    pump.post(Update("cuts", span("job", "cuts")[1], found))
    conventions = read_conventions(edit.markers)
    cue_plan = _plan(edit, analysis, max_cue_seconds)
    cues = cue_plan.cues
    if all(c.silent for c in cues):  # a take of pure silence is no score (and has no loudness)
        raise InputError(
            f"{Path(request.input).name}: the range has no picture (gap or black throughout), "
            "so there is nothing to score; choose a range with picture (--range)",
            field="range",
        )
    if request.ducking is not None:
        listening = "dialogue: listening to the range's own sound"
        pump.post(Update("cuts", span("job", "cuts")[1], listening))
    with timed(seconds, "dialogue"):
        dialogue = dialogue_regions(edit, request.ducking)
    if dialogue:
        found = f"dialogue: {len(dialogue)} region(s) to duck under"
        pump.post(Update("cuts", span("job", "cuts")[1], found))
    said = (*edit.warnings, *analysis.warnings, *cue_plan.warnings, *conventions.warnings)
    plan = ScorePlan(
        request,
        job_id,
        edit,
        analysis,
        choice,
        cues,
        (*said, *_stem_warnings(request, choice.engine)),
        controls=request.controls(),
        control_changes=conventions.control_changes,
        dialogue=dialogue,
        made_from=made_from,
    )
    _step(pump, Update("plan", span("job", "plan")[1], f"plan: {len(cues)} cue(s)"))
    return plan


def _stem_warnings(request: ScoreRequest, engine: MusicEngine) -> tuple[str, ...]:
    """An engine that makes one mix says so when stems are asked for, rather than pretend."""
    if not request.stems or callable(getattr(engine, "generate_stems_with_beats", None)):
        return ()
    return (
        f"--stems: {engine.name} makes its music as one mix and has no stems; none were "
        "written (the arranger writes drums, bass, harmony and melody)",
    )


def _range_to_score(request: ScoreRequest, previous: outputs.PreviousScore | None) -> str | None:
    """The request's range; regenerate without one takes the range scored in the folder."""
    if request.mode != ScoreMode.REGENERATE.value:
        return request.range
    if previous is None:
        raise InputError(
            f"nothing to regenerate in {request.out_dir!r}: score the range there first "
            "(--mode range), then regenerate into the same --out folder",
            field="mode",
        )
    return request.range or f"{previous.range_in}-{previous.range_out}"


def _plan(edit: Edit, analysis: Analysis, max_cue_seconds: float | None = None) -> CuePlan:
    """The cues: one per `cue` marker's section, rests over gaps and long black; the same for a
    batch and for a range of the same pictures (no engine window splits a section). With
    `max_cue_seconds` (a retry after running out of memory), longer music cues are cut."""
    rate = float(edit.rate)
    total = round(edit.duration.to_seconds() * rate)
    markers = [
        (round(m.time.to_seconds() * rate), m.name) for m in edit.markers if is_cue_marker(m)
    ]
    # a tempo marker starts a new cue: one cue keeps one tempo, the next segues in at another
    markers += [
        (round(c.time * rate), c.marker)
        for c in read_conventions(edit.markers).control_changes
        if c.control == "tempo" and 0 < round(c.time * rate) < total
    ]
    plan = plan_cues(total, rate, markers, analysis_holes(analysis))
    if max_cue_seconds is None:
        return plan
    return split_to_fit(plan, math.floor(max_cue_seconds * rate))


def _choose_seeds(request: ScoreRequest, used: set[int]) -> list[int]:
    """One seed per take. Asked for: reproduce exactly, even a seed used before; otherwise
    seeds not used in this folder: 0, 1, … for a first score (reproducible)."""
    if request.seed is not None:
        return [(request.seed + i) % 2**31 for i in range(request.takes)]
    seeds, seed = [], 0
    while len(seeds) < request.takes:
        if seed not in used:
            seeds.append(seed)
        seed += 1
    return seeds


def _staging_key(plan: ScorePlan, job: outputs.Job) -> str:
    """The key the job's staging folder is kept under: the plan's fingerprint, or the older one
    a job staged before `made_from` existed was written with (so it still resumes)."""
    state = job.read_state()
    if state is not None and state.get("fingerprint") == _older_fingerprint(plan):
        return state["fingerprint"]
    return _fingerprint(plan)


def _fingerprint(plan: ScorePlan) -> str:
    """What a job's checkpoints are: a rerun under the same job id must ask for the same result
    (`plan.made_from`), from the same engine, over the same cues."""
    what = {
        "made_from": plan.made_from,
        "engine": plan.engine.name,
        "cues": [(c.start, c.frames) for c in plan.cues],
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


def _older_fingerprint(plan: ScorePlan) -> str:
    """The staging key before `made_from` (the input's path, some options): jobs staged then
    still resume. Kept as it was, key for key."""
    r = plan.request
    what = {
        "input": str(Path(r.input).resolve()),
        "range": range_timecodes(plan.edit),
        "mode": r.mode,
        "engine": plan.engine.name,
        "takes": r.takes,
        "seed": r.seed,
        "max_stretch": r.max_stretch,
        "target_lufs": r.target_lufs,
        "allow_missing_media": r.allow_missing_media,
        "cues": [(c.start, c.frames) for c in plan.cues],
    }
    if r.rate is not None:  # only when given, so jobs staged before the field keep their key
        what["rate"] = r.rate
    # the controls, likewise only when they differ from a request made before they existed
    asked = {f: getattr(r, f) for f in CONTROL_FIELDS if getattr(r, f) != _default(f)}
    if asked or plan.control_changes:
        what["controls"] = asked
        what["control_markers"] = [(c.time, c.control, str(c.value)) for c in plan.control_changes]
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


CONTROL_FIELDS = ("mood", "intensity", "tempo", "duck_db", "loudness")


def _default(field_name: str):
    return ScoreRequest.model_fields[field_name].default


def _check_same_range(previous: outputs.PreviousScore, request: ScoreRequest, edit: Edit) -> None:
    here = range_timecodes(edit)
    same_input = previous.input == str(Path(request.input).resolve())
    if not same_input or (previous.range_in, previous.range_out) != here:
        raise InputError(
            f"{request.out_dir!r} holds takes of {Path(previous.input).name} "
            f"{previous.range_in}-{previous.range_out}, not of {Path(request.input).name} "
            f"{here[0]}-{here[1]}; score into a new --out folder (takes are never overwritten)",
            field="out_dir",
        )


def _write_outputs(
    plan: ScorePlan,
    takes: list[Take],
    rendered: list[list[RenderedCue]],
    job: outputs.Job,
    pump: Pump,
    seconds: Timings,
    ranks: dict[int, int] | None = None,
) -> ScoreResult:
    """Measure and stage every take, then commit under the folder's lock: the report lists the
    takes on disk now (another job may have committed since this one started)."""
    _step(pump, Update("write", span("job", "measure")[0], "measuring and writing"))
    with timed(seconds, "write"):
        ours = _write_takes(plan, takes, rendered, job, pump, seconds, ranks or {})
        check_cancel(pump.stop)
        with outputs.commit_lock(plan.out_dir):  # half-made commits of killed jobs finished
            writing = span("job", "write")[0]
            _step(pump, Update("write", writing, "writing the timeline and report"))
            previous = outputs.read_previous(plan.out_dir)
            infos = _merged_takes(previous, ours)
            first = ours[0]  # the take this job places on the track
            result = report.build_result(
                plan, first.take, infos, first.cues, first.loudness_lufs, seconds
            )
            result.warnings.extend(_chain_warnings(takes, rendered))
            _write_all(plan, takes, result, rendered, job, pump)
            job.commit()
    pump.post(Update("done", 1.0, "done"))
    return result


def _chain_warnings(takes: list[Take], rendered: list[list[RenderedCue]]) -> list[str]:
    """What the audio chain did instead of what was asked, per cue (and take, if several)."""
    several = len(takes) > 1
    return [
        f"take {take}, {warning}" if several else warning
        for (take, _), cues in zip(takes, rendered, strict=True)
        for cue in cues
        for warning in cue.warnings
    ]


def _write_all(
    plan: ScorePlan,
    takes: list[Take],
    result: ScoreResult,
    rendered: list[list[RenderedCue]],
    job: outputs.Job,
    pump: Pump,
) -> None:
    """The timelines, picture, preview and report, staged; an extra timeline format that could
    not be written becomes a warning in the report (score.otio holds everything)."""
    asked = list(result.extra_timelines)
    in_job = scaled(_stepper(pump, "write"), *span("job", "write"))
    progress = scaled(in_job, *span("write", "files"))  # leaves room before "done"
    report.write_all(plan, [t for t, _ in takes], result, rendered[0], job.out, progress)
    dropped = [Path(p).name for p in asked if p not in result.extra_timelines]
    if dropped:
        result.warnings.extend(
            f"{name} not written: its format cannot hold this timeline; use score.otio"
            for name in dropped
        )
        write_text_atomic(job.out / outputs.REPORT_NAME, result.model_dump_json(indent=2))


def _merged_takes(previous: outputs.PreviousScore | None, ours: list[TakeInfo]) -> list[TakeInfo]:
    mine = {t.take for t in ours}
    kept = [] if previous is None else [TakeInfo.model_validate(t) for t in previous.takes]
    return sorted([t for t in kept if t.take not in mine] + ours, key=lambda t: t.take)


def _write_takes(
    plan: ScorePlan,
    takes: list[Take],
    rendered: list[list[RenderedCue]],
    job: outputs.Job,
    pump: Pump,
    seconds: Timings,
    ranks: dict[int, int],
) -> list[TakeInfo]:
    """Every take's WAVs into the stage, and every take's cues measured on them."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    wavs, written, stem_wavs = {}, {}, {}
    for (take, _), cues in zip(takes, rendered, strict=True):
        folder = Path("takes") / outputs.take_dir_name(take)
        for cue, audio in zip(plan.cues, cues, strict=True):
            wavs[take, cue.index], written[take, cue.index] = None, (None, None)
            if cue.silent:
                continue  # a rest: a gap on the track, no file
            placed, clean = write_cue_wavs(job.out, folder, plan, cue, audio.audio)
            written[take, cue.index] = (placed, clean)
            wavs[take, cue.index] = str(plan.out_dir / placed)
            if audio.stems:
                stems = write_stem_wavs(job.out, folder, plan, cue, audio.stems)
                stem_wavs[take, cue.index] = {n: str(plan.out_dir / p) for n, p in stems.items()}
    jobs = [
        (take, cue, audio)
        for (take, _), cues in zip(takes, rendered, strict=True)
        for cue, audio in zip(plan.cues, cues, strict=True)
    ]
    weights = {(t, c.index): float(c.frames) for t, c, _ in jobs}
    parts = Parts(weights, *span("job", "measure"))

    def measured(item: tuple[int, Cue, RenderedCue]) -> CueReport:
        take, cue, audio = item
        whole = parts.advance((take, cue.index), 0.0)
        _step(pump, Update("write", whole, f"take {take} {cue.name}: measuring", cue.index, take))
        placed, clean = written[take, cue.index]
        cue_report = _cue_report(plan, cue, audio, wavs[take, cue.index], take, seconds)
        if clean is not None:
            cue_report.clean_wav = str(plan.out_dir / clean)
        cue_report.stems = stem_wavs.get((take, cue.index), {})
        stamp_cue_wavs(job.out, plan, cue, cue_report, placed, clean)
        whole = parts.advance((take, cue.index), 1.0)
        _step(pump, Update("write", whole, f"take {take} {cue.name}: measured", cue.index, take))
        return cue_report

    def one(item):  # each take's whole-track loudness first, beside the cues' measures
        kind, what = item
        return _track_loudness(plan, what) if kind == "take" else measured(what)

    done = parallel_map(one, [("take", t) for t in rendered] + [("cue", j) for j in jobs])
    loudness, reports = done[: len(rendered)], done[len(rendered) :]
    n = len(plan.cues)
    return [
        TakeInfo(
            take=take,
            seed=seed,
            wavs=[wavs[take, c.index] for c in plan.cues],
            created=now,
            job_id=plan.job_id,
            cues=reports[i * n : (i + 1) * n],
            loudness_lufs=loudness[i],
            fit_rank=ranks.get(take),
            made_from=plan.made_from,
        )
        for i, (take, seed) in enumerate(takes)
    ]


def _track_loudness(plan: ScorePlan, cues: list[RenderedCue]) -> float:
    track = take_track(plan.cues, cues, plan.rate)
    return round(integrated_lufs(track, DELIVERY_RATE), 2)


def _cue_report(
    plan: ScorePlan, cue: Cue, rendered: RenderedCue, wav: str | None, take: int, seconds: Timings
) -> CueReport:
    """Metrics re-measured on the delivered audio, never taken from the plan; each target
    also says whether it is within the cue's metre ceiling."""
    if cue.silent:
        return _rest_report(plan, cue, rendered, wav, take)
    start, duration = plan.cue_seconds(cue)
    points = [p for p in cue_sync_points(plan.analysis, start, duration) if p.priority.counted]
    cuts = np.array([p.time for p in points], dtype=np.float64)
    aimed = rendered.alignment.plan
    with timed(seconds, "measure"):
        before = rendered.alignment.beats_before.tempo
        metrics = measure_alignment(
            rendered.audio, DELIVERY_RATE, cuts, fps=plan.rate, plan=aimed, tempo=before
        )
        loudness = integrated_lufs(rendered.audio, DELIVERY_RATE)
    period = rendered.alignment.beats_before.period
    ceiling = metre_ceiling(cuts, period, weights=sync_weights([p.priority for p in points]))
    rows = [dict(r, reachable=bool(c)) for r, c in zip(metrics.per_cut, ceiling, strict=True)]
    metrics = replace(metrics, per_cut=rows)
    # the cuts the delivered 48 kHz audio misses (the plan's `unhit` is at the engine's rate)
    unhit = [round(c["time"], 3) for c in metrics.per_cut if not c["hit"]]
    return CueReport(
        **CueMetrics.measured(metrics, round(loudness, 2), unhit),
        **_placement(plan, cue, rendered, wav, take),
        **cue_terms(plan, rendered.audio, silent=False),
        engine=plan.engine.name,
        tempo=round(rendered.tempo, 2),
        reachable=int(ceiling.sum()) if len(cuts) and period > 0 else None,
    )


def _rest_report(
    plan: ScorePlan, cue: Cue, rendered: RenderedCue, wav: str | None, take: int
) -> CueReport:
    """A rest: no music made, no cut aimed at, so no hit rate or loudness to claim."""
    return CueReport(
        hit_rate_1frame=None,
        hit_rate_50ms=None,
        hit_rate_100ms=None,
        max_stretch=0.0,
        mean_stretch=0.0,
        splices=0,
        loudness_lufs=None,
        **_placement(plan, cue, rendered, wav, take),
        **cue_terms(plan, rendered.audio, silent=True),
        engine=SILENCE_ENGINE,
        tempo=0.0,
        silent=True,
    )


def _placement(
    plan: ScorePlan, cue: Cue, rendered: RenderedCue, wav: str | None, take: int
) -> dict:
    start, duration = plan.cue_seconds(cue)
    return {
        "index": cue.index,
        "name": cue.name,
        "start": start,
        "duration": duration,
        "record_in": timecode_at(plan.edit, cue.start),
        "record_out": timecode_at(plan.edit, cue.end),
        "seed": rendered.seed,
        "take": take,
        "wav": wav,
        "ring": round(max(rendered.audio.shape[1] / DELIVERY_RATE - duration, 0.0), 4),
    }


def result_json(result: ScoreResult) -> str:
    return json.dumps(result.model_dump(mode="json"), indent=2)
