"""`gvmgen evaluate`: how well music fits picture — CMR and TA from the evaluation model, and
the model-free sync figures (cuts with a beat, re-tracked by `gvmgen.align`).

A pair is a video with its own music track, a video with a separate music file, a JSONL
manifest of those (as `train prepare` reads), or a finished `gvmgen score` output folder
(report.json names the input video and the WAV of each cue: picture against delivered music).
Each pair is cut into windows of the evaluator's length (30 s); a pair shorter than one
window is resampled in time to it. CMR is taken over all windows in fixed groups of 16.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gvmgen.errors import InputError
from gvmgen.train.sources import VIDEO_SUFFIXES, find_pairs

EVAL_RATE = 32_000  # EnCodec's rate


@dataclass(frozen=True)
class Excerpt:
    """Picture `[start, start + duration)` of `video` against `music` (from its start)."""

    name: str
    video: Path
    music: Path | None  # None: the video's own track over the same range
    start: float = 0.0
    duration: float | None = None
    cuts: tuple[float, ...] | None = None  # seconds from `start`; None: detect them


def excerpts_from_args(paths: list[str]) -> list[Excerpt]:
    """Every PAIR argument → excerpts. `VIDEO=MUSIC` pairs a video with a music file."""
    found = []
    for arg in paths:
        if "=" in arg and not Path(arg).exists():
            video, music = arg.split("=", 1)
            found.append(Excerpt(Path(video).name, Path(video), Path(music)))
        elif (Path(arg) / "report.json").is_file():
            found += score_folder_excerpts(Path(arg))
        else:
            pairs, skipped = find_pairs(arg)
            if skipped:
                raise InputError(f"{arg}: {skipped[0].name}: {skipped[0].reason}")
            found += [Excerpt(p.name, p.video, p.music) for p in pairs]
    if not found:
        raise InputError(
            "no pairs to evaluate: give videos, VIDEO=MUSIC, a manifest or a score folder"
        )
    return found


def score_folder_excerpts(folder: Path) -> list[Excerpt]:
    """The cues of a `gvmgen score` folder: the input video's range against each cue's WAV."""
    try:
        return _cue_excerpts(folder, json.loads((folder / "report.json").read_text()))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{folder}/report.json is not a `gvmgen score` report ({error})") from None


def _cue_excerpts(folder: Path, report: dict) -> list[Excerpt]:
    source = Path(report["input"])
    if source.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(
            f"{folder}: the scored input {source.name} is a timeline; evaluate reads the picture "
            "from a scored video file"
        )
    offset = timecode_seconds(report["range_in"], float(report["rate"]))
    return [
        Excerpt(
            f"{folder.name}/{cue['name']}",
            source,
            folder / cue["wav"],  # absolute in reports; relative ones are to the folder
            offset + float(cue["start"]),
            float(cue["duration"]),
            tuple(float(c["time"]) for c in cue.get("cuts", [])),
        )
        for cue in report["cues"]
    ]


def timecode_seconds(timecode: str, rate: float) -> float:
    """ "HH:MM:SS:FF" (or ;FF) at `rate` → seconds."""
    parts = timecode.replace(";", ":").split(":")
    hours, minutes, seconds, frames = (int(p) for p in parts)
    return (hours * 60 + minutes) * 60 + seconds + frames / round(rate)


# --- one excerpt → features and sync figures ----------------------------------------------


@dataclass
class ExcerptScore:
    name: str
    windows: int
    video: torch.Tensor  # [W, T, D_v]
    music: torch.Tensor  # [W, T, D_m]
    sync: dict

    def row(self) -> dict:
        return {"name": self.name, "windows": self.windows, **self.sync}


def score_excerpt(excerpt: Excerpt, model, steps: int) -> ExcerptScore:
    """Features of the excerpt's windows of `steps` s, and its cut-sync figures."""
    from gvmgen.media.audio import load_audio, resample, with_channels
    from gvmgen.media.video import clip_preprocess, probe, sample_frames

    info = probe(excerpt.video)
    duration = excerpt.duration or max(0.0, info.duration - excerpt.start)
    music_path = excerpt.music or excerpt.video
    music_start = excerpt.start if excerpt.music is None else 0.0
    audio, rate = load_audio(music_path, start=music_start, duration=duration)
    size = model.config.vision.image_size
    frames = sample_frames(excerpt.video, excerpt.start, duration, 1.0, clip_size=size).frames
    pixels = torch.from_numpy(clip_preprocess(frames, size=size))
    mono = resample(with_channels(audio, 1), rate, EVAL_RATE)
    video, music = excerpt_features(model, pixels, mono, steps)
    return ExcerptScore(excerpt.name, len(video), video, music, _sync(excerpt, info, audio, rate))


def excerpt_features(model, pixels: torch.Tensor, mono: np.ndarray, steps: int):
    """Per-second features `[W, steps, D]` of consecutive windows (short input: resampled)."""
    from gvmgen.train.evaluator_training import music_features, video_features

    seconds = min(len(pixels), int(len(mono[0]) // EVAL_RATE))
    if seconds < 1:
        raise InputError("an excerpt needs at least 1 s of picture and music")
    with torch.inference_mode():
        codes = model.encode_audio(torch.from_numpy(mono[:, : seconds * EVAL_RATE])[None])[0]
    video = video_features(model, pixels[:seconds])
    music = music_features(model, codes, seconds)
    if seconds < steps:
        return _resampled(video, steps)[None], _resampled(music, steps)[None]
    count = seconds // steps
    return video[: count * steps].unflatten(0, (count, steps)), music[: count * steps].unflatten(
        0, (count, steps)
    )


def _resampled(features: torch.Tensor, steps: int) -> torch.Tensor:
    """`[T, D]` → `[steps, D]` by linear interpolation over time."""
    out = torch.nn.functional.interpolate(
        features.T[None], size=steps, mode="linear", align_corners=False
    )
    return out[0].T


def _sync(excerpt: Excerpt, info, audio: np.ndarray, rate: int) -> dict:
    """Cut hits of the music (`gvmgen.align.measure_alignment`: beats re-tracked)."""
    from gvmgen.align import measure_alignment

    cuts = excerpt.cuts
    if cuts is None:
        from gvmgen.media.cuts import detect_shots

        cuts = tuple(
            c.time for c in detect_shots(excerpt.video, excerpt.start, excerpt.duration).cuts
        )
    metrics = measure_alignment(audio, rate, list(cuts), fps=float(info.rate))
    return {
        "cuts": len(cuts),
        "hit_rate_1frame": metrics.hit_rate_1frame,
        "hit_rate_50ms": metrics.hit_rate_50ms,
        "hit_rate_100ms": metrics.hit_rate_100ms,
    }


# --- the report ---------------------------------------------------------------------------


def evaluate(
    excerpts: list[Excerpt], model, evaluator=None, group: int = 16, progress=None
) -> dict:
    """Per-excerpt rows and the totals: CMR / TA (with an evaluator) and mean cut hits."""
    steps = evaluator.config.steps if evaluator is not None else 30
    scored = []
    for number, excerpt in enumerate(excerpts):
        if progress is not None:
            progress(number / len(excerpts), f"evaluate: {excerpt.name}")
        scored.append(score_excerpt(excerpt, model, steps))
    rows = [s.row() for s in scored]
    report = {"pairs": rows, "windows": sum(s.windows for s in scored), **_sync_totals(rows)}
    if evaluator is None:
        report["cmr"] = report["ta"] = None
        report["note"] = (
            "CMR and TA need --evaluator EVAL (train one with `gvmgen train evaluator`)"
        )
        return report
    video = torch.cat([s.video for s in scored])
    music = torch.cat([s.music for s in scored])
    scores = evaluator.scores(video, music, group)
    _per_pair_ta(rows, scored, scores.pop("ta_per_window"))
    return dict(report, **scores)


def _per_pair_ta(rows: list[dict], scored: list[ExcerptScore], per_window: list[float]) -> None:
    first = 0
    for row, item in zip(rows, scored, strict=True):
        row["ta"] = float(np.mean(per_window[first : first + item.windows]))
        first += item.windows


def _sync_totals(rows: list[dict]) -> dict:
    """Hit rates over all cuts of all pairs (a pair without cuts adds nothing)."""
    cuts = sum(r["cuts"] for r in rows)
    totals = {"cuts": cuts}
    for key in ("hit_rate_1frame", "hit_rate_50ms", "hit_rate_100ms"):
        hits = sum(r[key] * r["cuts"] for r in rows if r["cuts"])
        totals[key] = hits / cuts if cuts else None
    return totals
