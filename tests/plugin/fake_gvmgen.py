"""A fake `gvmgen` for the Lua scripts: `gvmgen client submit|ping|list ... --json-lines` as
docs/protocol.md / the contract fix it, launched by io.popen exactly as the real one would be.

It really scores in the sense the scripts care about: it reads the exported OTIO, splits the range
into cues (batch: at `cue` markers, at most 30 s), and writes 48 kHz WAVs whose sample counts are
cut at the same frame-exact boundaries as the pipeline (round(frame * 48000 / rate)), with a
report.json so a later `--mode regenerate` finds the earlier takes.

FAKE_GVMGEN selects a behaviour: ok (default), down, no_weights, bad_range, fail, cancelled,
silent (dies without a line), warnings (a result that carries two), slow (0.3 s per stage;
`client cancel` stops it through files in FAKE_GVMGEN_STATE), and for `client list`: no_jobs
(prints nothing, exit 0, as the real client with no jobs), list_crash (a traceback, exit 1),
list_killed (no word, exit 137).
FAKE_GVMGEN_LOG, when set, gets one JSON line of argv per call.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import uuid
from fractions import Fraction
from pathlib import Path

SAMPLE_RATE = 48000
CUE_SECONDS = 30
WARNINGS = [
    "clip 'S3': media /Volumes/Rushes/A003.mov not found; scored on its edit points alone",
    "mood 'tense' chose among takes only:\nGVMGen is conditioned on picture",
]


def emit(**event) -> None:
    print(json.dumps(event), flush=True)


def error(code: str, message: str, exit_code: int, field: str | None = None, hint=None) -> int:
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    if hint:
        body["hint"] = hint
    emit(type="error", error=body)
    return exit_code


def exact_rate(rate: float) -> Fraction:
    for base in (24, 30, 60):
        if abs(rate - base * 1000 / 1001) < 5e-3:
            return Fraction(base * 1000, 1001)
    return Fraction(round(rate))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gvmgen")
    sub = parser.add_subparsers(dest="command", required=True)
    client = sub.add_parser("client").add_subparsers(dest="action", required=True)
    submit = client.add_parser("submit")
    submit.add_argument("--input", required=True)
    submit.add_argument("--range")
    submit.add_argument("--mode", default="range", choices=("range", "regenerate", "batch"))
    submit.add_argument("--out", required=True)
    submit.add_argument("--engine", default="auto")
    submit.add_argument("--seed", type=int)
    submit.add_argument("--takes", type=int, default=1)
    submit.add_argument("--rate")
    submit.add_argument("--edit-points-only", action="store_true")
    for flag in ("--mood", "--intensity", "--tempo", "--duck", "--loudness"):  # the controls
        submit.add_argument(flag)
    submit.add_argument("--no-duck", action="store_true")
    for name in ("ping", "list"):
        client.add_parser(name)
    client.add_parser("cancel").add_argument("job_id")
    for action in client.choices.values():
        action.add_argument("--json-lines", action="store_true")
        action.add_argument("--data-dir")
        action.add_argument("--connect")
        action.add_argument("--timeout", type=float)
        action.add_argument("--spawn", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    if os.environ.get("FAKE_GVMGEN_LOG"):
        with open(os.environ["FAKE_GVMGEN_LOG"], "a") as log:
            log.write(json.dumps(argv) + "\n")
    args = parse_args(argv)
    mode = os.environ.get("FAKE_GVMGEN", "ok")
    if mode == "silent":
        print(
            'Traceback (most recent call last):\n  File "client.py", line 1\n'
            "RuntimeError: the client crashed\n",
            file=sys.stderr,
        )
        return 1
    if mode == "down":
        return error(
            "backend_unreachable",
            "no GVMGen backend answers at ipc://gvmgen; start it with `gvmgen serve`",
            3,
        )
    if args.action == "ping":
        emit(type="pong", version="0.1.0", engine="arranger", device="cpu", queue=0)
        return 0
    if args.action == "cancel":
        Path(os.environ["FAKE_GVMGEN_STATE"], f"cancel-{args.job_id}").touch()
        emit(type="cancelling", job_id=args.job_id)
        return 0
    if args.action == "list":
        return list_jobs(mode)
    return submit(args, mode)


def list_jobs(mode: str) -> int:
    """`client list`: one line per job, none at all when there are no jobs (a fresh install)."""
    if mode == "list_crash":
        print("Traceback (most recent call last):\nOSError: the data dir is gone", file=sys.stderr)
        return 1
    if mode == "list_killed":  # killed without a word: only the exit status tells
        return 137
    if mode != "no_jobs":
        emit(type="job", job_id="abc123", state="done", mode="range")
    return 0


def submit(args: argparse.Namespace, mode: str) -> int:
    import opentimelineio as otio

    job_id = uuid.uuid4().hex[:12]
    timeline = otio.adapters.read_from_file(args.input)
    rate = exact_rate(timeline.global_start_time.rate)
    total = round(timeline.tracks.duration().to_seconds() * rate)
    first, last = (0, total) if args.range is None else parse_range(args.range)
    if mode == "bad_range" or not 0 <= first < last <= total:
        return error(
            "invalid_request",
            f"range {args.range!r} lies outside the timeline (0-{total} frames)",
            2,
            field="range",
        )
    emit(type="accepted", job_id=job_id)
    if mode == "no_weights":
        emit(
            type="failed",
            job_id=job_id,
            error={
                "code": "no_weights",
                "message": "no GVMGen weights in ~/.cache/gvmgen/models",
                "hint": "run `gvmgen models import state_dict.bin` or use --engine arranger",
            },
        )
        return 2
    if mode == "fail":
        emit(
            type="failed",
            job_id=job_id,
            error={"code": "timeline_error", "message": "clip 'A003' has no media"},
        )
        return 2
    if mode == "cancelled":
        emit(type="cancelled", job_id=job_id)
        return 4
    out = Path(args.out)
    previous = read_report(out)
    if args.mode == "regenerate" and previous is None:
        emit(
            type="failed",
            job_id=job_id,
            error={
                "code": "invalid_request",
                "message": f"nothing to regenerate in {args.out!r}: score the range there first",
            },
        )
        return 2
    take = 1 + max((t["take"] for t in previous["takes"]), default=0) if previous else 1
    seed = args.seed if args.seed is not None else take - 1
    bounds = cue_bounds(timeline, rate, first, last, args.mode)
    for i, stage in enumerate(("timeline", "cuts", "plan", "generate", "write")):
        if mode == "slow":  # a job long enough to press Cancel in
            time.sleep(0.3)
            if Path(os.environ["FAKE_GVMGEN_STATE"], f"cancel-{job_id}").exists():
                emit(type="cancelled", job_id=job_id)
                return 4
        emit(
            type="progress",
            job_id=job_id,
            stage=stage,
            cue=None,
            take=take,
            fraction=(i + 1) / 6,
            eta_seconds=1.0,
            message=f"{stage} ...",
        )
    if mode == "slow" and wait_for_cancel(job_id, seconds=10.0):
        emit(type="cancelled", job_id=job_id)
        return 4
    result = write_take(out, job_id, args, rate, first, bounds, take, seed, previous)
    if mode == "warnings":  # as the real backend words them (gvmgen.timeline.edit, controls)
        result["warnings"] = WARNINGS
    emit(type="done", job_id=job_id, result=result)
    return 0


def wait_for_cancel(job_id: str, seconds: float) -> bool:
    """A slow job's last stage: it ends only when cancelled or after `seconds`."""
    flag = Path(os.environ["FAKE_GVMGEN_STATE"], f"cancel-{job_id}")
    for _ in range(int(seconds / 0.05)):
        if flag.exists():
            return True
        time.sleep(0.05)
    return False


def parse_range(text: str) -> tuple[int, int]:
    first, last = text.split("-")
    return int(first.lstrip("f")), int(last.lstrip("f"))


def cue_bounds(timeline, rate: Fraction, first: int, last: int, mode: str) -> list[int]:
    """Cue boundaries (frames): batch splits at `cue` markers and every 30 s."""
    bounds = {first, last}
    if mode == "batch":
        for marker in timeline.tracks.markers:
            frame = round(marker.marked_range.start_time.to_seconds() * rate)
            if marker.name.lower().startswith("cue") and first < frame < last:
                bounds.add(frame)
        step = int(CUE_SECONDS * rate)
        for edge in sorted(bounds)[:-1]:
            bounds.update(range(edge + step, last, step))
    return sorted(bounds)


def write_take(out: Path, job_id, args, rate, first, bounds, take, seed, previous) -> dict:
    import numpy as np
    import soundfile

    folder = out / "takes" / f"take-{take:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    cues, wavs = [], []
    for index, (a, b) in enumerate(itertools.pairwise(bounds)):
        samples = round(b * SAMPLE_RATE / rate) - round(a * SAMPLE_RATE / rate)
        t = np.arange(samples) / SAMPLE_RATE
        tone = 0.2 * np.sin(2 * np.pi * (220 + 20 * index) * t)
        wav = (folder / f"cue-{index + 1:02d}.wav").resolve()
        soundfile.write(wav, np.stack([tone, tone], axis=1), SAMPLE_RATE, subtype="PCM_24")
        wavs.append(str(wav))
        cues.append(
            {
                "index": index,
                "name": f"cue {index + 1}",
                "start": float((a - first) / rate),
                "duration": float((b - a) / rate),
                "wav": str(wav),
                "seed": seed + index,
                "take": take,
                "engine": "arranger",
            }
        )
    takes = (previous["takes"] if previous else []) + [{"take": take, "seed": seed, "wavs": wavs}]
    result = {
        "job_id": job_id,
        "input": str(Path(args.input).resolve()),
        "mode": args.mode,
        "engine": "arranger",
        "rate": float(rate),
        "take": take,
        "takes": takes,
        "cues": cues,
        "range_in": f"f{bounds[0]}",
        "range_out": f"f{bounds[-1]}",
    }
    (out / "report.json").write_text(json.dumps(result))
    return result


def read_report(out: Path) -> dict | None:
    try:
        return json.loads((out / "report.json").read_text())
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
