"""`cue_sheet.csv`: the music cue sheet a supervisor files with a delivery, one row per cue.

Columns: cue number and name, record in and out (timecode, the timeline's own), duration
(timecode and seconds), engine, take, seed, licence, non-commercial flag, file. Rests (silence
over a gap) are left out: no music, nothing to file.
"""

from __future__ import annotations

import csv
import io

from gvmgen.atomic import write_text_atomic

CUE_SHEET = "cue_sheet.csv"
COLUMNS = (
    "cue",
    "name",
    "record_in",
    "record_out",
    "duration_tc",
    "duration_seconds",
    "engine",
    "take",
    "seed",
    "licence",
    "non_commercial",
    "file",
)


def cue_sheet_text(result, duration_timecode) -> str:
    """The CSV of `result`'s placed take (a ScoreResult); `duration_timecode(seconds)` gives a
    duration in the timeline's timecode."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180, as spreadsheets expect
    writer.writerow(COLUMNS)
    for cue in result.cues:
        if cue.silent:
            continue
        flag = {True: "yes", False: "no", None: "unknown"}[cue.non_commercial]
        writer.writerow(
            (
                cue.index + 1,
                cue.name,
                cue.record_in,
                cue.record_out,
                duration_timecode(cue.duration),
                f"{cue.duration:.3f}",
                cue.engine,
                cue.take,
                cue.seed,
                cue.licence,
                flag,
                cue.wav,
            )
        )
    return out.getvalue()


def write_cue_sheet(path, result, duration_timecode) -> None:
    write_text_atomic(path, cue_sheet_text(result, duration_timecode))
