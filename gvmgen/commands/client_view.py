"""What `gvmgen client` shows a person (without --json-lines): jobs and takes as tables.

Scripts read the replies themselves (`--json-lines`, or `takes --json`); these lines are for
an editor at a terminal: which job is which (its input and out folder), why one failed, and
the takes in a folder with how well each hit its cuts.
"""

from __future__ import annotations

import time
from pathlib import Path

from gvmgen.errors import one_line

JOB_COLUMNS = ("job", "state", "mode", "done", "created", "input", "out")


def job_table(jobs: list[dict]) -> list[str]:
    """One row per job (a `status` reply body), newest first as given; a failed job's reason
    on the line under it."""
    rows = [_job_row(job) for job in jobs]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(JOB_COLUMNS)]
    lines = [_joined(JOB_COLUMNS, widths)]
    for job, row in zip(jobs, rows, strict=True):
        lines.append(_joined(row, widths))
        if reason := _reason(job):
            lines.append(f"  └ {reason}")
    return lines


def job_line(job: dict) -> str:
    """One job as a sentence (`status`): state, progress, and what it was given."""
    message = job.get("message")
    said = f" — {message}" if message and message != job["state"] else ""
    text = (
        f"job {job['job_id']}: {_state(job)}, {job['mode']}, {job['fraction']:.0%}{said}\n"
        f"  input {job.get('input') or '?'}\n  out   {job.get('out_dir') or '?'}"
    )
    reason = _reason(job)
    return text + (f"\n  {reason}" if reason else "")


def takes_table(body: dict) -> list[str]:
    """The takes in an output folder (a `takes` reply body): one row each."""
    takes = body.get("takes") or []
    where = body["out_dir"]
    if body.get("input"):
        where += f" ({Path(body['input']).name}, {body['range_in']}-{body['range_out']})"
    if not takes:
        return [f"no takes in {where}"]
    columns = ("take", "seed", "created", "cues", "cuts hit ±50ms", "loudness", "job")
    rows = [_take_row(take) for take in takes]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    return [f"{len(takes)} take(s) in {where}", _joined(columns, widths)] + [
        _joined(row, widths) for row in rows
    ]


def _job_row(job: dict) -> tuple[str, ...]:
    return (
        job["job_id"],
        _state(job),
        job["mode"],
        f"{job['fraction']:.0%}",
        _clock(job.get("created")),
        Path(job["input"]).name if job.get("input") else "?",
        job.get("out_dir") or "?",
    )


def _state(job: dict) -> str:
    if job["state"] == "running" and job.get("cancel_requested"):
        return "cancelling"
    return job["state"]


def _reason(job: dict) -> str:
    if job["state"] == "failed" and job.get("error"):
        error = job["error"]
        return "failed: " + one_line(error.get("message", ""), error.get("hint"))
    if job.get("warnings"):
        return "warning: " + "; ".join(job["warnings"])
    return ""


def _take_row(take: dict) -> tuple[str, ...]:
    cues = take.get("cues") or []
    cuts = [cut for cue in cues for cut in cue.get("cuts") or []]
    hits = sum(1 for cut in cuts if cut.get("hit"))
    loudness = take.get("loudness_lufs")
    return (
        str(take["take"]),
        str(take["seed"]),
        take.get("created", "")[:16].replace("T", " "),
        str(len(cues) or len(take.get("wavs", []))),
        f"{hits}/{len(cuts)} ({hits / len(cuts):.0%})" if cuts else "-",
        f"{loudness:.1f} LUFS" if loudness is not None else "-",
        take.get("job_id") or "-",
    )


def _clock(stamp: float | None) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(stamp)) if stamp else "?"


def _joined(cells, widths) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
