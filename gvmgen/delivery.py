"""What an editor receives for each cue beyond the music: the copy ducked under the timeline's
own dialogue, the Broadcast WAV `bext` chunk, and the terms it comes under.

The chain is align → ending → loudness → duck → stems: the clean music (levelled, joined) is
what every measure reads; the ducked copy is made from it last, and is the one placed on the
timeline when the range has dialogue under that cue. Both are written.
"""

from __future__ import annotations

import numpy as np

from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.media.bwf import BextInfo, coding_history, samples_since_midnight

CLEAN_DIR = "clean"  # the clean copies of a ducked take, beside its placed WAVs


def dialogue_regions(edit, depth_db: float | None) -> tuple[tuple[float, float], ...]:
    """Speech in the range's own sound (seconds from the range start), or () when ducking is
    off or the range has no sound."""
    if depth_db is None:
        return ()
    from gvmgen.media.dialogue import find_speech
    from gvmgen.media.range_audio import read_range_audio

    heard = read_range_audio(edit)
    if heard.source == "none":
        return ()
    return tuple(
        (round(r.start, 3), round(r.end, 3)) for r in find_speech(heard.audio, heard.sample_rate)
    )


def ducked(
    audio: np.ndarray, regions, depth_db: float | None, cue_start: float
) -> np.ndarray | None:
    """The cue's music `[2, N]` at 48 kHz ducked under `regions`, or None when no dip reaches
    this cue (then the clean copy is the one placed)."""
    from gvmgen.align.ducking import ATTACK, HOLD, RELEASE, duck

    if not regions or depth_db is None:
        return None
    end = cue_start + audio.shape[1] / DELIVERY_RATE
    reach = [(s, e) for s, e in regions if s - ATTACK < end and e + HOLD + RELEASE > cue_start]
    if not reach:
        return None
    return duck(audio, DELIVERY_RATE, list(regions), depth_db, offset=cue_start)


def bext_info(
    *,
    edit,
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
    from gvmgen import __version__

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
