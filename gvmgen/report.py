"""The outputs of a run: score.otio (+ the input's own format), report.json, report.png, preview.

Called by the pipeline with everything already rendered; writes into the staging folder.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from gvmgen import outputs
from gvmgen.analysis import range_timecodes
from gvmgen.atomic import write_text_atomic
from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.progress import ProgressFn
from gvmgen.progress import report as tell
from gvmgen.schema import CueReport, CutEntry, ScoreResult, TakeInfo

log = logging.getLogger(__name__)

SCORE_OTIO = "score.otio"
REPORT_PICTURE = "report.png"
PREVIEW = "preview.mp4"
PREVIEW_DUCK_DB = -12.0  # the video's own sound under the new music in preview.mp4
# Input formats we also answer in, for NLEs that do not read .otio (EDL is a cut list: input only).
ANSWER_IN_KIND = {".xml": "score.xml", ".fcpxml": "score.fcpxml", ".aaf": "score.aaf"}


def build_result(
    run, take_infos: list[TakeInfo], cues: list[CueReport], takes, loudness: float | None = None
) -> ScoreResult:
    """The run's ScoreResult; `loudness`: the first take's track loudness when measured already."""
    out_dir = Path(run.request.out_dir).resolve()
    range_in, range_out = range_timecodes(run.edit)
    suffix = Path(run.request.input).suffix.lower()
    extra = [str(out_dir / ANSWER_IN_KIND[suffix])] if suffix in ANSWER_IN_KIND else []
    wants_preview = run.request.preview and run.analysis.kind == "video"
    return ScoreResult(
        job_id=run.job_id,
        input=str(Path(run.request.input).resolve()),
        mode=run.request.mode,
        engine=run.choice.engine.name,
        engine_reason=run.choice.reason,
        range_in=range_in,
        range_out=range_out,
        rate=run.rate,
        duration=run.analysis.duration,
        take=run.takes[0][0],
        takes=take_infos,
        cues=cues,
        cuts=cut_entries(run, cues),
        loudness_lufs=_track_loudness(takes[0]) if loudness is None else loudness,
        timeline=str(out_dir / SCORE_OTIO),
        extra_timelines=extra,
        report_json=str(out_dir / outputs.REPORT_NAME),
        report_picture=str(out_dir / REPORT_PICTURE),
        preview=str(out_dir / PREVIEW) if wants_preview else None,
        seconds={k: round(v, 3) for k, v in run.seconds.items()},
    )


def cut_entries(run, cues: list[CueReport]) -> list[CutEntry]:
    """Every cut of the range (the progress line's and report.png's count), each with its
    record timecode, kind, cue, whether its cue aimed at it, and — if so — whether it was hit."""
    from gvmgen.analysis import timecode_at
    from gvmgen.conditioning import cue_cut_times

    entries = []
    for cut in run.analysis.cuts:
        cue = cue_of(run.cues, cut.frame)
        start, duration = run.cue_seconds(cue)
        offset = cut.time - start
        aimed = [] if cue.silent else cue_cut_times(run.analysis, start, duration)
        target = any(abs(offset - t) < 1e-6 for t in aimed)
        hits = [h.hit for h in cues[cue.index].cuts if abs(h.time - offset) < 1e-3]
        entries.append(
            CutEntry(
                time=round(cut.time, 6),
                record=timecode_at(run.edit, cut.frame),
                kind=cut.kind,
                cue=cue.index,
                target=target,
                hit=(hits[0] if hits else None) if target else None,
            )
        )
    return entries


def cue_of(cues, frame: int):
    """The cue holding `frame` (a cue boundary belongs to the cue it starts)."""
    for cue in cues:
        if cue.start <= frame < cue.end:
            return cue
    return cues[-1] if frame >= cues[-1].end else cues[0]


def _track_loudness(cues) -> float:
    from gvmgen.align import integrated_lufs

    track = np.concatenate([c.audio for c in cues], axis=1)
    return round(integrated_lufs(track, DELIVERY_RATE), 2)


def write_all(run, result: ScoreResult, takes, stage: Path, progress: ProgressFn | None = None):
    """Every output but the WAVs into `stage`; `progress` hears after each file, and before
    report.png and the preview, the slow ones."""
    from gvmgen.picture import draw_report

    timeline = _score_timeline(run, result, stage)
    _write_timelines(timeline, result, stage)
    tell(progress, 0.15, f"wrote {SCORE_OTIO}")
    tell(progress, 0.2, f"drawing {REPORT_PICTURE}")
    draw_report(run, takes[0], stage / REPORT_PICTURE, result)
    tell(progress, 0.6 if result.preview else 0.9, f"wrote {REPORT_PICTURE}")
    if result.preview:
        tell(progress, 0.6, f"muxing {PREVIEW}")
        _write_preview(run, takes[0], stage / PREVIEW)
        tell(progress, 0.9, f"wrote {PREVIEW}")
    write_text_atomic(stage / outputs.REPORT_NAME, result.model_dump_json(indent=2))
    tell(progress, 1.0, f"wrote {outputs.REPORT_NAME}")


def _score_timeline(run, result: ScoreResult, stage: Path):
    """The input timeline with one audio track per take of this run (the first on top)."""
    from gvmgen import timeline as tl

    out_dir = Path(run.request.out_dir).resolve()
    this_run = {t.take: t for t in result.takes if t.take in {n for n, _ in run.takes}}
    timeline = run.edit.timeline
    for i, (take, _) in enumerate(run.takes):
        name = tl.SCORE_TRACK_NAME if i == 0 else f"{tl.SCORE_TRACK_NAME} (take {take})"
        placed = [
            _placed(run, cue, Path(w), out_dir, stage)
            for cue, w in zip(run.cues, this_run[take].wavs, strict=True)
        ]
        timeline = tl.timeline_with_score(
            timeline,
            placed,
            track_name=name,
            markers=_cue_markers(run, result) if i == 0 else (),
            metadata=_timeline_metadata(result) if i == 0 else None,
        )
    return _relinked(timeline, stage, out_dir)


def _placed(run, cue, final_wav: Path, out_dir: Path, stage: Path):
    """A cue on the track; the WAV is read from the stage now and linked to its final home."""
    import opentimelineio as otio

    from gvmgen import timeline as tl

    start = run.edit.range.start_time + otio.opentime.RationalTime(cue.start, run.rate)
    record = otio.opentime.TimeRange(start, otio.opentime.RationalTime(cue.frames, run.rate))
    staged = stage / final_wav.relative_to(out_dir)
    meta = {"job_id": run.job_id, "cue": cue.index, "engine": run.choice.engine.name}
    return tl.PlacedCue(staged, record, name=f"GVMGen {cue.name}", metadata=meta)


def _relinked(timeline, stage: Path, out_dir: Path):
    """Point every staged WAV at the path it will have once the run is committed."""
    for clip in timeline.find_clips():
        ref = clip.media_reference
        url = getattr(ref, "target_url", "") or ""
        if url.startswith(str(stage)):
            ref.target_url = str(out_dir) + url[len(str(stage)) :]
    return timeline


def _cue_markers(run, result: ScoreResult) -> list:
    import opentimelineio as otio

    markers = []
    for cue, report in zip(run.cues, result.cues, strict=True):
        start = run.edit.range.start_time + otio.opentime.RationalTime(cue.start, run.rate)
        marker = otio.schema.Marker(
            name=f"GVMGen {cue.name}",
            marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(1, run.rate)),
            color=otio.schema.MarkerColor.PURPLE,
        )
        marker.metadata["gvmgen"] = {
            "job_id": run.job_id,
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


def _write_timelines(timeline, result: ScoreResult, stage: Path) -> None:
    from gvmgen import timeline as tl
    from gvmgen.errors import TimelineError

    tl.write_timeline(timeline, stage / SCORE_OTIO)
    for path in list(result.extra_timelines):
        try:
            tl.write_timeline(timeline, stage / Path(path).name)
        except TimelineError as error:  # score.otio stands; the other format is a courtesy
            log.warning("%s", error)
            result.extra_timelines.remove(path)


def _write_preview(run, cues, target: Path) -> None:
    from gvmgen.media.preview import mux_preview

    track = np.concatenate([c.audio for c in cues], axis=1)
    media = run.edit.segments[0].media_path
    start = run.edit.range.start_time.to_seconds()
    track = _with_original_ducked(track, media, start, run.analysis.duration)
    mux_preview(media, track, DELIVERY_RATE, target, start=start, duration=run.analysis.duration)


def _with_original_ducked(track: np.ndarray, media, start: float, duration: float) -> np.ndarray:
    """The music `[C, N]` with the video's own sound under it at PREVIEW_DUCK_DB (dialogue and
    effects stay audible, the music leads); the music alone when the video has no sound."""
    from gvmgen.errors import MediaError
    from gvmgen.media.audio import load_audio

    try:
        original, _ = load_audio(media, DELIVERY_RATE, track.shape[0], start, duration)
    except MediaError:  # no audio track (or none decodable): the preview is the music alone
        return track
    length = min(track.shape[1], original.shape[1])
    mixed = track.copy()
    mixed[:, :length] += original[:, :length] * np.float32(10 ** (PREVIEW_DUCK_DB / 20))
    peak = float(np.abs(mixed).max(initial=0.0))
    return mixed / np.float32(peak) if peak > 1.0 else mixed
