"""What an editor receives for each cue beyond the music: the copy ducked under the timeline's
own dialogue, the Broadcast WAV `bext` chunk, and the terms it comes under.

The chain is align → ending → loudness → duck → stems: the clean music (levelled, joined) is
what every measure reads; the ducked copy is made from it last, and is the one placed on the
timeline when the range has dialogue under that cue. Both are written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gvmgen import __version__, outputs
from gvmgen.align.ducking import ATTACK, HOLD, RELEASE, duck
from gvmgen.align.loudness import METER_OVERSAMPLE, true_peak_dbtp
from gvmgen.cues import Cue
from gvmgen.licences import cue_licence, silence_licence
from gvmgen.media.audio import DELIVERY_RATE, write_wav
from gvmgen.media.bwf import BextInfo, add_bext, coding_history, samples_since_midnight
from gvmgen.media.dialogue import find_speech  # torch and silero load when it is first called
from gvmgen.media.range_audio import read_range_audio
from gvmgen.rendering import RenderedCue
from gvmgen.schema import CueReport
from gvmgen.score_plan import ScorePlan, Take
from gvmgen.steering import rank_takes, take_features
from gvmgen.timeline.edit import Edit

CLEAN_DIR = "clean"  # the clean copies of a ducked take, beside its placed WAVs


def dialogue_regions(edit: Edit, depth_db: float | None) -> tuple[tuple[float, float], ...]:
    """Speech in the range's own sound (seconds from the range start), or () when ducking is
    off or the range has no sound."""
    if depth_db is None:
        return ()
    heard = read_range_audio(edit)
    if heard.source == "none":
        return ()
    return tuple(
        (round(r.start, 3), round(r.end, 3)) for r in find_speech(heard.audio, heard.sample_rate)
    )


def ducked(
    audio: np.ndarray,
    regions: tuple[tuple[float, float], ...],
    depth_db: float | None,
    cue_start: float,
) -> np.ndarray | None:
    """The cue's music `[2, N]` at 48 kHz ducked under `regions`, or None when no dip reaches
    this cue (then the clean copy is the one placed)."""
    if not regions or depth_db is None:
        return None
    end = cue_start + audio.shape[1] / DELIVERY_RATE
    reach = [(s, e) for s, e in regions if s - ATTACK < end and e + HOLD + RELEASE > cue_start]
    if not reach:
        return None
    return duck(audio, DELIVERY_RATE, list(regions), depth_db, offset=cue_start)


def bext_info(
    *,
    edit: Edit,
    cue_frame: int,
    cue_name: str,
    engine: str,
    seed: int,
    take: int,
    licence: str,
    job_id: str,
    loudness_lufs: float | None,
    true_peak_dbtp: float | None,
    ducked_db: float | None = None,
) -> BextInfo:
    """The chunk of one delivered cue WAV: placed at its record in point (`cue_frame`, frames
    from the range start at the timeline's rate), named by engine, seed, take and licence."""
    absolute = int(edit.global_start.value + edit.range.start_time.value + cue_frame)
    what = f"GVMGen Scoring {cue_name}; engine {engine}; seed {seed}; take {take}"
    if ducked_db is not None:
        what += f"; ducked {ducked_db:g} dB under dialogue"
    return BextInfo(
        description=f"{what}; licence: {licence}",
        time_reference=samples_since_midnight(absolute, edit.rate, DELIVERY_RATE),
        originator_reference=job_id[:32],
        loudness_lufs=loudness_lufs,
        true_peak_dbtp=true_peak_dbtp,
        coding_history=coding_history(DELIVERY_RATE, 24, 2, __version__),
    )


def write_cue_wavs(
    stage: Path, folder: Path, plan: ScorePlan, cue: Cue, audio: np.ndarray
) -> tuple[str, str | None]:
    """The cue's WAVs under `stage / folder` (a take's folder): the placed one — ducked when a
    dip reaches it — and, then, the clean one in `clean/`. Relative paths (placed, clean)."""
    name = outputs.cue_wav_name(cue.index)
    start, _ = plan.cue_seconds(cue)
    dipped = None if cue.silent else ducked(audio, plan.dialogue, plan.request.ducking, start)
    placed = Path(folder) / name
    write_wav(Path(stage) / placed, audio if dipped is None else dipped, DELIVERY_RATE)
    if dipped is None:
        return str(placed), None
    clean = Path(folder) / CLEAN_DIR / name
    write_wav(Path(stage) / clean, audio, DELIVERY_RATE)
    return str(placed), str(clean)


STEMS_DIR = "stems"  # a take's stem WAVs (`--stems`), beside its placed WAVs


def write_stem_wavs(
    stage: Path, folder: Path, plan: ScorePlan, cue: Cue, stems: dict[str, np.ndarray]
) -> dict[str, str]:
    """The cue's stems under `stage / folder / stems`, ducked as its placed WAV is (the chain
    ends align → ending → loudness → duck → stems: every stem takes the mix's gains). Relative
    paths by stem name."""
    start, _ = plan.cue_seconds(cue)
    written = {}
    for name, audio in stems.items():
        dipped = ducked(audio, plan.dialogue, plan.request.ducking, start)
        relative = (
            Path(folder)
            / STEMS_DIR
            / outputs.cue_wav_name(cue.index).replace(".wav", f"-{name}.wav")
        )
        write_wav(Path(stage) / relative, audio if dipped is None else dipped, DELIVERY_RATE)
        written[name] = str(relative)
    return written


def stamp_cue_wavs(
    stage: Path, plan: ScorePlan, cue: Cue, report: CueReport, placed: str, clean: str | None
) -> None:
    """The `bext` chunk on the cue's delivered WAVs (the report's measures in it)."""
    for relative, depth in ((placed, plan.request.ducking if clean else None), (clean, None)):
        if relative is None:
            continue
        info = bext_info(
            edit=plan.edit,
            cue_frame=cue.start,
            cue_name=cue.name,
            engine=report.engine,
            seed=report.seed,
            take=report.take,
            licence=report.licence,
            job_id=plan.job_id,
            loudness_lufs=report.loudness_lufs,
            true_peak_dbtp=report.true_peak_dbtp,
            ducked_db=depth,
        )
        add_bext(Path(stage) / relative, info)


def cue_terms(plan: ScorePlan, audio: np.ndarray, silent: bool) -> dict:
    """The CueReport fields of whose music it is, its 4x true peak and measured features."""
    terms = silence_licence() if silent else cue_licence(plan.engine)
    fields = {
        "licence": terms.summary,
        "non_commercial": terms.non_commercial,
        "weights": terms.weights,
    }
    if silent:
        return fields
    provenance = getattr(plan.engine, "provenance", None)
    if provenance is not None:  # precision, windows, retries: how the model ran
        fields["engine_run"] = {k: v for k, v in provenance().items() if k != "weights"}
    peak = true_peak_dbtp(audio, DELIVERY_RATE, METER_OVERSAMPLE)
    features = take_features(audio, DELIVERY_RATE).to_dict() if _wants_features(plan) else None
    return fields | {"true_peak_dbtp": round(peak, 2), "features": features}


def _wants_features(plan: ScorePlan) -> bool:
    """Features are measured when they decide something: controls given, or several takes of
    an engine the controls cannot steer (GVMGen's takes are ranked by them)."""
    return plan.controls.given or bool(plan.control_changes) or plan.request.takes > 1


def placed_first(
    plan: ScorePlan, takes: list[Take], rendered: list[list[RenderedCue]]
) -> tuple[list[Take], list[list[RenderedCue]]]:
    """`takes` and their rendered cues with the one to place first: for an engine the editor's
    mood or tempo cannot steer, the take whose measured features come nearest (the others stay,
    in order, as alternatives); otherwise as they are."""
    steered = getattr(plan.engine, "steered_controls", ())
    asked = plan.controls.mood is not None or plan.controls.tempo is not None
    if len(takes) < 2 or not asked or {"mood", "tempo"} <= set(steered):
        return takes, rendered
    features = []
    for cues in rendered:
        music = [c.audio for c in cues if not c.silent]
        track = np.concatenate(music, axis=1) if music else np.zeros((2, DELIVERY_RATE))
        features.append(take_features(track, DELIVERY_RATE))
    order = rank_takes(features, plan.controls)
    return [takes[i] for i in order], [rendered[i] for i in order]
