"""The outputs of a run: score.otio (+ the input's own format), report.json, report.png, preview.

Called by the pipeline with everything already rendered: the job's `ScorePlan`, its take numbers,
the rendered cues and the measured reports; writes into the staging folder.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import opentimelineio as otio

from gvmgen import outputs
from gvmgen import timeline as tl
from gvmgen.align import KIND_PRIORITY, Priority
from gvmgen.align.ducking import duck
from gvmgen.analysis import range_timecodes, timecode_at
from gvmgen.atomic import write_text_atomic
from gvmgen.concurrency import Timings
from gvmgen.conditioning import SyncPoint, cue_sync_points
from gvmgen.cue_sheet import CUE_SHEET, write_cue_sheet
from gvmgen.cues import Cue
from gvmgen.errors import MediaError, TimelineError
from gvmgen.media.audio import DELIVERY_RATE, load_audio
from gvmgen.media.preview import mux_preview, render_timeline_preview
from gvmgen.media.range_audio import read_range_audio
from gvmgen.picture import draw_report
from gvmgen.progress import ProgressFn
from gvmgen.progress import report as tell
from gvmgen.rendering import RenderedCue, take_track
from gvmgen.schema import (
    ControlsReport,
    CueReport,
    CutEntry,
    CutHit,
    DialogueRegion,
    MissedMustHit,
    ScoreResult,
    TakeInfo,
)
from gvmgen.score_plan import ScorePlan
from gvmgen.steering import statements
from gvmgen.timeline.markers import TimelineMarker, must_hits
from gvmgen.timeline.ranges import timecode

log = logging.getLogger(__name__)

SCORE_OTIO = "score.otio"
REPORT_PICTURE = "report.png"
PREVIEW = "preview.mp4"
PREVIEW_DUCK_DB = -12.0  # the video's own sound under the new music in preview.mp4
# Input formats we also answer in, for NLEs that do not read .otio (EDL is a cut list: input only).
ANSWER_IN_KIND = {".xml": "score.xml", ".fcpxml": "score.fcpxml", ".aaf": "score.aaf"}


def build_result(
    plan: ScorePlan,
    take: int,
    take_infos: list[TakeInfo],
    cues: list[CueReport],
    loudness: float,
    seconds: Timings,
) -> ScoreResult:
    """The job's ScoreResult: `take` is the take this job placed on the track, `cues` its
    cues as measured, `loudness` its whole track's, `take_infos` every take in the folder."""
    out_dir = plan.out_dir
    range_in, range_out = range_timecodes(plan.edit)
    suffix = Path(plan.request.input).suffix.lower()
    extra = [str(out_dir / ANSWER_IN_KIND[suffix])] if suffix in ANSWER_IN_KIND else []
    wants_preview = plan.request.preview
    request = plan.request
    return ScoreResult(
        job_id=plan.job_id,
        input=str(Path(plan.request.input).resolve()),
        mode=plan.request.mode,
        engine=plan.engine.name,
        engine_reason=plan.choice.reason,
        range_in=range_in,
        range_out=range_out,
        rate=plan.rate,
        duration=plan.analysis.duration,
        take=take,
        takes=take_infos,
        cues=cues,
        cuts=(entries := cut_entries(plan, cues)),
        missed_must_hits=missed_must_hits(entries),
        loudness_lufs=loudness,
        timeline=str(out_dir / SCORE_OTIO),
        extra_timelines=extra,
        report_json=str(out_dir / outputs.REPORT_NAME),
        report_picture=str(out_dir / REPORT_PICTURE),
        preview=str(out_dir / PREVIEW) if wants_preview else None,
        seconds={k: round(v, 3) for k, v in seconds.items()},
        warnings=list(plan.warnings),
        controls=controls_report(plan),
        dialogue=[DialogueRegion(start=a, end=b) for a, b in plan.dialogue],
        duck_db=request.ducking,
        loudness_target=list(request.loudness_target),
        loudness_standard=request.loudness,
        cue_sheet=str(out_dir / CUE_SHEET),
    )


def controls_report(plan: ScorePlan) -> ControlsReport:
    """What the editor asked (request and markers) and what the engine could do with it."""
    controls = plan.controls
    steered = tuple(getattr(plan.engine, "steered_controls", ()))
    applied, not_applied = statements(
        controls, len(plan.control_changes), steered, plan.request.takes
    )
    return ControlsReport(
        mood=controls.mood,
        intensity=controls.intensity,
        tempo=None if controls.tempo is None else str(controls.tempo),
        markers=[f"{c.marker} at {c.time:.2f} s" for c in plan.control_changes],
        applied=applied,
        not_applied=not_applied,
    )


def cut_entries(plan: ScorePlan, cues: list[CueReport]) -> list[CutEntry]:
    """Every cut of the range (the progress line's and report.png's count) and every `hit`
    marker on no cut, in time order: its record timecode, kind, cue and priority, whether its
    cue aimed at it, and — if so — whether it was hit, how surely, and if not, why."""
    rate = float(plan.rate)
    moments = [(c.time, c.frame, c.kind) for c in plan.analysis.cuts]
    markers = getattr(plan.analysis.edit, "markers", ()) if plan.analysis.edit else ()
    moments += [
        (h.seconds, round(h.seconds * rate), "marker")
        for h in _must_hits(markers)
        if not any(abs(h.seconds - c.time) <= 1.0 / rate + 1e-9 for c in plan.analysis.cuts)
    ]
    points: dict[int, tuple] = {}
    entries = []
    for time, frame, kind in sorted(moments):
        cue = cue_of(plan.cues, frame)
        start, duration = plan.cue_seconds(cue)
        if cue.index not in points:
            points[cue.index] = (
                () if cue.silent else cue_sync_points(plan.analysis, start, duration)
            )
        point = next((p for p in points[cue.index] if abs(p.time - (time - start)) < 1e-6), None)
        priority = point.priority if point else Priority.MUST_HIT if kind == "marker" else None
        target = point is not None and point.priority.counted
        rows = [h for h in cues[cue.index].cuts if abs(h.time - (time - start)) < 1e-3]
        row = rows[0] if rows and target else None
        entries.append(_cut_entry(plan, time, frame, kind, cue.index, priority, point, row))
    return entries


def _cut_entry(
    plan: ScorePlan,
    time: float,
    frame: int,
    kind: str,
    cue: int,
    priority: Priority | None,
    point: SyncPoint | None,
    row: CutHit | None,
) -> CutEntry:
    """One cut's row of report.json: `row` is its measure when its cue aimed at it."""
    priority = priority or KIND_PRIORITY.get(kind)
    return CutEntry(
        time=round(time, 6),
        record=timecode_at(plan.edit, frame),
        kind=kind,
        cue=cue,
        target=row is not None,
        hit=row.hit if row else None,
        priority=priority.label if priority else None,
        label=point.label if point else "",
        certain=row.certain if row else None,
        reachable=row.reachable if row else None,
        reason=row.reason if row and not row.hit else None,
        alternative=row.alternative if row and not row.hit else None,
    )


def _must_hits(markers: Sequence[TimelineMarker]) -> tuple:
    return must_hits(list(markers))


def missed_must_hits(entries: list[CutEntry]) -> list[MissedMustHit]:
    """The editor's `hit` markers the delivered music misses, with why and what would reach
    them (for the CLI summary and report.json)."""
    return [
        MissedMustHit(
            time=e.time,
            record=e.record,
            label=e.label,
            reason=e.reason or "not aimed at",
            alternative=e.alternative,
        )
        for e in entries
        if e.priority == "must-hit" and e.hit is not True
    ]


def cue_of(cues: Sequence[Cue], frame: int) -> Cue:
    """The cue holding `frame` (a cue boundary belongs to the cue it starts)."""
    for cue in cues:
        if cue.start <= frame < cue.end:
            return cue
    return cues[-1] if frame >= cues[-1].end else cues[0]


def write_all(
    plan: ScorePlan,
    takes: Sequence[int],
    result: ScoreResult,
    first_take: list[RenderedCue],
    stage: Path,
    progress: ProgressFn | None = None,
) -> None:
    """Every output but the WAVs into `stage`: `takes` are this job's take numbers (the first
    on top), `first_take` the first one's rendered cues (drawn, and in the preview).
    `progress` hears after each file, and before report.png and the preview, the slow ones."""
    timeline = _score_timeline(plan, takes, result, stage)
    _write_timelines(timeline, result, stage)
    tell(progress, 0.15, f"wrote {SCORE_OTIO}")
    tell(progress, 0.2, f"drawing {REPORT_PICTURE}")
    draw_report(plan, first_take, stage / REPORT_PICTURE, result)
    tell(progress, 0.6 if result.preview else 0.9, f"wrote {REPORT_PICTURE}")
    write_cue_sheet(stage / CUE_SHEET, result, lambda secs: _duration_timecode(plan, secs))
    if result.preview:
        tell(progress, 0.6, f"rendering {PREVIEW}")
        _write_preview(plan, first_take, stage / PREVIEW)
        tell(progress, 0.9, f"wrote {PREVIEW}")
    write_text_atomic(stage / outputs.REPORT_NAME, result.model_dump_json(indent=2))
    tell(progress, 1.0, f"wrote {outputs.REPORT_NAME}")


def _score_timeline(plan: ScorePlan, takes: Sequence[int], result: ScoreResult, stage: Path):
    """The input timeline with one audio track per take of this job (the first on top)."""
    this_run = {t.take: t for t in result.takes if t.take in set(takes)}
    timeline = plan.edit.timeline
    for i, take in enumerate(takes):
        name = tl.SCORE_TRACK_NAME if i == 0 else f"{tl.SCORE_TRACK_NAME} (take {take})"
        info = this_run[take]
        placed = [
            _placed(plan, cue, Path(w), stage, report.ring)
            for cue, w, report in zip(plan.cues, info.wavs, info.cues, strict=True)
            if w is not None  # a rest: the track's gap
        ]
        timeline = tl.timeline_with_score(
            timeline,
            placed,
            track_name=name,
            markers=_cue_markers(plan, result) if i == 0 else (),
            metadata=_timeline_metadata(result) if i == 0 else None,
        )
        if i == 0:
            timeline = _with_stem_tracks(timeline, plan, info, stage)
    return _relinked(timeline, stage, plan.out_dir)


def _with_stem_tracks(timeline: otio.schema.Timeline, plan: ScorePlan, info: TakeInfo, stage: Path):
    """`--stems`: one track per stem of the placed take ("GVMGen Drums" …), each stem clip
    where its cue's clip is."""
    names = next((list(c.stems) for c in info.cues if c.stems), [])
    for name in names:
        placed = [
            _placed(plan, cue, Path(report.stems[name]), stage, report.ring)
            for cue, report in zip(plan.cues, info.cues, strict=True)
            if name in report.stems
        ]
        track = f"{tl.SCORE_TRACK_NAME.split()[0]} {name.capitalize()}"
        timeline = tl.timeline_with_score(timeline, placed, track_name=track)
    return timeline


def _placed(plan: ScorePlan, cue: Cue, final_wav: Path, stage: Path, ring: float = 0.0):
    """A cue on the track, longer than its cue by what it declares rings past its out frame;
    the WAV is read from the stage now and linked to its final home."""
    start = plan.edit.range.start_time + otio.opentime.RationalTime(cue.start, plan.rate)
    frames = cue.frames + math.floor(ring * plan.rate + 1e-6)
    record = otio.opentime.TimeRange(start, otio.opentime.RationalTime(frames, plan.rate))
    staged = stage / final_wav.relative_to(plan.out_dir)
    meta = {"job_id": plan.job_id, "cue": cue.index, "engine": plan.engine.name, "ring": ring}
    return tl.PlacedCue(staged, record, name=f"GVMGen {cue.name}", metadata=meta)


def _relinked(timeline: otio.schema.Timeline, stage: Path, out_dir: Path):
    """Point every staged WAV at the path it will have once the run is committed."""
    for clip in timeline.find_clips():
        ref = clip.media_reference
        url = getattr(ref, "target_url", "") or ""
        if url.startswith(str(stage)):
            ref.target_url = str(out_dir) + url[len(str(stage)) :]
    return timeline


def _cue_markers(plan: ScorePlan, result: ScoreResult) -> list:
    markers = []
    for cue, report in zip(plan.cues, result.cues, strict=True):
        start = plan.edit.range.start_time + otio.opentime.RationalTime(cue.start, plan.rate)
        marker = otio.schema.Marker(
            name=f"GVMGen {cue.name}",
            marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(1, plan.rate)),
            color=otio.schema.MarkerColor.PURPLE,
        )
        marker.metadata["gvmgen"] = {
            "job_id": plan.job_id,
            "seed": report.seed,
            "take": report.take,
            "hit_rate_50ms": report.hit_rate_50ms,
            "max_stretch": report.max_stretch,
        }
        markers.append(marker)
    return markers


def _timeline_metadata(result: ScoreResult) -> dict:
    return {
        "job_id": result.job_id,
        "engine": result.engine,
        "engine_reason": result.engine_reason,
        "take": result.take,
        "seeds": [c.seed for c in result.cues],
        "loudness_lufs": result.loudness_lufs if math.isfinite(result.loudness_lufs) else None,
        "hit_rate_50ms": _mean([c.hit_rate_50ms for c in result.cues]),
    }


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]  # rests have None
    return round(sum(finite) / len(finite), 4) if finite else None


def _write_timelines(timeline: otio.schema.Timeline, result: ScoreResult, stage: Path) -> None:
    tl.write_timeline(timeline, stage / SCORE_OTIO)
    for path in list(result.extra_timelines):
        try:
            tl.write_timeline(timeline, stage / Path(path).name)
        except TimelineError as error:  # score.otio stands; the other format is a courtesy
            log.warning("%s", error)
            result.extra_timelines.remove(path)


def _duration_timecode(plan: ScorePlan, seconds: float) -> str:
    frames = round(seconds * plan.rate)
    return timecode(otio.opentime.RationalTime(frames, plan.rate), plan.rate, plan.edit.drop_frame)


def _write_preview(plan: ScorePlan, cues: list[RenderedCue], target: Path) -> None:
    track = take_track(plan.cues, cues, plan.rate)[
        :, : round(plan.analysis.duration * DELIVERY_RATE)
    ]
    if plan.dialogue and plan.request.ducking:  # the music as placed: ducked under dialogue
        track = duck(track, DELIVERY_RATE, list(plan.dialogue), plan.request.ducking)
    if plan.analysis.kind == "timeline":
        _write_timeline_preview(plan, track, target)
        return
    media = plan.edit.segments[0].media_path
    start = plan.edit.range.start_time.to_seconds()
    duration = plan.analysis.duration
    track = _with_original_ducked(track, media, start, duration)
    mux_preview(media, track, DELIVERY_RATE, target, start=start, duration=duration)


def _write_timeline_preview(plan: ScorePlan, music: np.ndarray, target: Path) -> None:
    """The range as the viewer plays it: its flattened picture, its own sound at full level and
    the music (ducked under its dialogue) over it."""
    own = read_range_audio(plan.edit).audio
    length = min(own.shape[1], music.shape[1])
    mixed = music.copy()
    mixed[:, :length] += own[:, :length]
    peak = float(np.abs(mixed).max(initial=0.0))
    mixed = mixed / np.float32(peak) if peak > 1.0 else mixed
    render_timeline_preview(plan.edit, mixed, DELIVERY_RATE, target)


def _with_original_ducked(
    track: np.ndarray, media: Path | None, start: float, duration: float
) -> np.ndarray:
    """The music `[C, N]` with the video's own sound under it at PREVIEW_DUCK_DB (dialogue and
    effects stay audible, the music leads); the music alone when the video has no sound."""
    try:
        original, _ = load_audio(media, DELIVERY_RATE, track.shape[0], start, duration)
    except MediaError:  # no audio track (or none decodable): the preview is the music alone
        return track
    length = min(track.shape[1], original.shape[1])
    mixed = track.copy()
    mixed[:, :length] += original[:, :length] * np.float32(10 ** (PREVIEW_DUCK_DB / 20))
    peak = float(np.abs(mixed).max(initial=0.0))
    return mixed / np.float32(peak) if peak > 1.0 else mixed
