"""Kill `gvmgen serve` (kill -9) at random moments of a job, and check what the editor gets.

    .venv/bin/python bench/crash_bench.py [--trials 40] [--seed 21] [--json FILE]

Each trial starts a server (the counting arranger of tests/backend: deterministic music, a
known time per cue) whose file operations are slowed and marked by the test hooks: each staged
WAV is written in two halves 0.15 s apart, each rename of the commit is followed by 0.15 s,
and the stage's removal waits 0.3 s. The trial picks a phase (round robin) and a random moment
inside it, kills the server there, restarts it, and follows the job to its end:

    accepted       right after `accepted`, before or just after the worker claimed the job
    rendering      while the engine makes the cues (0.5 s each)
    staging write  while the WAVs, timelines, picture and report are written into the stage
    commit         after the commit was decided, among its renames
    cleanup        after report.json is in place, before the stage is removed

Half the trials score into an empty folder, half into one that already holds a take (so the
commit renames one take folder into an existing `takes/`). Checked in every trial:
  - every listing of --out, taken every few milliseconds from submit to the end: no temp file,
    no file outside what the finished job shows, no WAV of another size than its final one,
    no take folder without all its cues;
  - after the restart: no stage, no reservation, no temp file left in --out;
  - the outputs identical to an uninterrupted run's (every WAV's samples, report.json and the
    cue sheet, with paths, job ids, dates and timings set aside);
  - no job lost (the job is done, the store holds it once), no finished cue rendered twice
    (no cue checkpointed at the kill is generated again).
The phase a kill landed in is read from the hooks' marks, not assumed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "backend"))
sys.path.insert(0, str(ROOT))

PHASES = ("accepted", "rendering", "staging write", "commit", "cleanup")
KINDS = ("empty folder", "second take")
SLOW = 0.15  # seconds added to each staged WAV write and each commit rename
CLEANUP_SLOW = 0.3
STEPS, STEP_SECONDS = 10, 0.05  # 0.5 s per cue
HOOKED = {"slow_wavs": SLOW, "slow_moves": SLOW, "slow_cleanup": CLEANUP_SLOW}
VOLATILE = {"job_id", "created", "seconds"}  # report.json fields that differ run to run


@dataclass
class Outcome:
    phase_aimed: str
    phase_hit: str = ""
    kind: str = ""
    listings: int = 0  # distinct listings seen (each checked)
    scans: int = 0  # listings taken
    problems: list[str] = field(default_factory=list)
    checkpointed: int = 0  # cues finished (checkpointed) when the server died
    rendered_again: int = 0  # ... of which the restarted server generated again
    stage_at_kill: bool = False  # a stage or reservation was in --out when the server died
    reclaimed: bool = False  # ... and none was left after the restart
    outputs_identical: bool = False
    job_lost: bool = False
    seconds: float = 0.0


# ---- servers ----


def start_server(data: Path, calls: Path, hooks: dict | None) -> subprocess.Popen:
    env = dict(os.environ, GVMGEN_TEST_HOOKS=json.dumps(hooks) if hooks else "")
    argv = [sys.executable, str(ROOT / "tests" / "backend" / "counting_server.py")]
    argv += [str(data), str(calls), str(STEPS), str(STEP_SECONDS), "20"]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"the server did not start: {line!r}")
    threading.Thread(target=process.stdout.read, daemon=True).start()  # never block it
    return process


def client(data: Path):
    from gvmgen_backend.client import Client, find_endpoint

    return Client(find_endpoint(data))


def submit(data: Path, timeline: Path, out: Path) -> str:
    body = {
        "input": str(timeline),
        "out_dir": str(out),
        "mode": "batch",
        "engine": "arranger",
        "key": uuid.uuid4().hex,
        "watch": False,
    }
    with client(data) as c:
        return c.request("submit", body)[1]["job_id"]


def follow(data: Path, job_id: str) -> list:
    with client(data) as c:
        return list(c.follow("watch", {"job_id": job_id}, deadline=time.monotonic() + 180))


# ---- what the folder shows ----


def visible(out: Path) -> dict[str, int]:
    """relative path -> size of every file an editor sees (not the stage, not reservations)."""
    found = {}
    with contextlib.suppress(FileNotFoundError):
        for root, dirs, files in os.walk(out):
            relative_root = Path(root).relative_to(out)
            if relative_root == Path("."):
                dirs[:] = [
                    d for d in dirs if not d.startswith(".staging-") and d != ".reservations"
                ]
            for name in files:
                path = Path(root) / name
                with contextlib.suppress(FileNotFoundError):
                    found[(relative_root / name).as_posix()] = path.lstat().st_size
    return found


def listing_problems(seen: dict[str, int], final: dict[str, int], before: dict[str, int]):
    """What is wrong with one listing: temp files, files the finished job does not show, WAVs
    of another size than their final one, take folders missing cues."""
    from gvmgen.atomic import is_temp_name

    problems = []
    for name, size in seen.items():
        if is_temp_name(Path(name).name):
            problems.append(f"temp file {name}")
        elif name not in final and name not in before:
            problems.append(f"stale file {name}")
        elif name.endswith(".wav") and size != final.get(name, before.get(name)):
            problems.append(f"partial {name} ({size} bytes)")
    takes = {n.rsplit("/", 1)[0] for n in seen if n.startswith("takes/")}
    for take in takes:
        want = {n for n in final if n.startswith(take + "/")} or {
            n for n in before if n.startswith(take + "/")
        }
        have = {n for n in seen if n.startswith(take + "/")}
        if have != want:
            problems.append(f"partial take folder {take} ({len(have)} of {len(want)} files)")
    return problems


class Lister(threading.Thread):
    """Lists --out every few milliseconds, keeping every distinct listing."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.listings, self.halt = out, [], threading.Event()
        self.scans = 0

    def run(self) -> None:
        last = None
        while not self.halt.is_set():
            seen = visible(self.out)
            self.scans += 1
            if seen != last:
                self.listings.append(seen)
                last = seen
            time.sleep(0.002)

    def stop(self) -> list[dict[str, int]]:
        self.halt.set()
        self.join()
        self.listings.append(visible(self.out))
        return self.listings


def normalised(out: Path) -> dict:
    """The folder's files as an editor would compare them: WAV samples, and report.json and
    the cue sheet with this folder's path, job ids, dates and timings set aside."""
    import soundfile

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value.replace(str(out), "OUT") if isinstance(value, str) else value

    files = {}
    for name in visible(out):
        path = out / name
        if name.endswith(".wav"):  # the samples: the bext chunk names the job and the time
            files[name] = soundfile.read(path, dtype="int32")[0].tobytes()
        elif name == "report.json":
            files[name] = scrub(json.loads(path.read_text()))
        elif name.endswith(".csv"):
            files[name] = path.read_text().replace(str(out), "OUT")
        else:
            files[name] = None  # present (score.otio and report.png embed the folder's path)
    return files


def leftovers(out: Path) -> list[str]:
    from gvmgen.atomic import is_temp_name

    if not out.exists():  # killed before the job made its folder
        return []
    left = [p.name for p in out.iterdir() if p.name.startswith((".staging-", ".reservations"))]
    left += [str(p) for p in out.rglob("*") if is_temp_name(p.name)]
    return left


# ---- the kill ----


def marks(path: Path) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        stamp, _, text = line.partition(" ")
        with contextlib.suppress(ValueError):
            found.append((float(stamp), text.split(" ", 1)[0]))
    return found


def wait_for(condition, seconds: float = 60.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.002)
    return False


def kill_in(phase: str, server, rng: random.Random, mark_file: Path, calls: Path, cues: int):
    """Kill at a random moment of `phase`; returns the time of the kill."""
    began = {
        "accepted": lambda: True,
        "rendering": lambda: calls.exists() and calls.read_text().strip(),
        "staging write": lambda: any(k == "wav" for _, k in marks(mark_file)),
        "commit": lambda: any(k == "decided" for _, k in marks(mark_file)),
        "cleanup": lambda: any(k == "cleanup" for _, k in marks(mark_file)),
    }[phase]
    width = {
        "accepted": 0.03,
        "rendering": cues * STEPS * STEP_SECONDS,
        "staging write": cues * SLOW + 0.3,
        "commit": 5 * SLOW,
        "cleanup": CLEANUP_SLOW,
    }[phase]
    wait_for(began, 120)
    time.sleep(rng.uniform(0, width))
    server.send_signal(signal.SIGKILL)
    killed = time.time()
    server.wait(30)
    return killed


def phase_hit(killed: float, mark_file: Path, calls_seen: bool) -> str:
    kinds = [k for t, k in marks(mark_file) if t <= killed]
    if "cleanup" in kinds:
        return "cleanup"
    if "decided" in kinds:
        return "commit"
    if "wav" in kinds:
        return "staging write"
    return "rendering" if calls_seen else "accepted"


def checkpointed(out: Path) -> set[int]:
    """Seeds of the cues a killed job had checkpointed (seed = take seed + cue index)."""
    found = set()
    for stage in out.glob(".staging-*"):
        state = (
            json.loads((stage / "job.json").read_text()) if (stage / "job.json").exists() else {}
        )
        seeds = dict(state.get("takes", []))
        for path in stage.glob("cues/take-*/cue-*.npz"):
            take = int(path.parent.name.split("-")[1])
            if take in seeds:
                found.add(seeds[take] + int(path.stem.split("-")[1]) - 1)
    return found


# ---- trials ----


def first_take(timeline: Path, out: Path) -> None:
    """An earlier, uninterrupted job's take in `out` (the second-take trials score beside it)."""
    from counting_engine import CountingArranger

    from gvmgen.engines import EngineRegistry
    from gvmgen.pipeline import Scorer

    scorer = Scorer(EngineRegistry(engines={"arranger": CountingArranger()}))
    scorer.score(
        {"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"}
    )


def reference(kind: str, timeline: Path, folder: Path) -> dict:
    """The same job's outputs without a kill."""
    data, out = folder / "data", folder / "out"
    if kind == "second take":
        first_take(timeline, out)
    server = start_server(data, folder / "calls", None)
    try:
        job = submit(data, timeline, out)
        assert follow(data, job)[-1][0] == "done"
    finally:
        server.terminate()
        server.wait(60)
    return {"files": normalised(out), "sizes": visible(out), "out": out}


def trial(n: int, phase: str, kind: str, rng, timeline: Path, folder: Path, refs: dict):
    outcome = Outcome(phase, kind=kind)
    began = time.monotonic()
    data, out = folder / "data", folder / "out"
    calls, calls_after, mark_file = folder / "calls", folder / "calls-after", folder / "marks"
    if kind == "second take":
        first_take(timeline, out)
    before = visible(out)
    ref = refs[kind]
    final = {name.replace(str(ref["out"]), str(out)): size for name, size in ref["sizes"].items()}
    server = start_server(data, calls, {"marks": str(mark_file), **HOOKED})
    lister = Lister(out)
    lister.start()
    job = submit(data, timeline, out)
    killed = kill_in(phase, server, rng, mark_file, calls, cues=3)
    calls_seen = calls.exists() and bool(calls.read_text().strip())
    outcome.phase_hit = phase_hit(killed, mark_file, calls_seen)
    finished = checkpointed(out)
    outcome.checkpointed = len(finished)
    outcome.stage_at_kill = bool(leftovers(out))
    second = start_server(data, calls_after, None)
    try:
        events = follow(data, job)
        with client(data) as c:
            jobs = c.request("list", {"limit": 1000})[1]["jobs"]
    finally:
        second.terminate()
        second.wait(60)
    listings = lister.stop()
    outcome.listings, outcome.scans = len(listings), lister.scans
    for seen in listings:
        outcome.problems += listing_problems(seen, final, before)
    outcome.job_lost = events[-1][0] != "done" or [j["job_id"] for j in jobs] != [job]
    if outcome.job_lost:
        why = events[-1][1].get("error", {}).get("message", "")
        outcome.problems.append(f"job lost or not done: {events[-1][0]} {why}, {len(jobs)} job(s)")
    left = leftovers(out)
    outcome.problems += [f"left in --out: {name}" for name in left]
    outcome.reclaimed = outcome.stage_at_kill and not left
    got, want = normalised(out), ref["files"]
    outcome.outputs_identical = got == want
    if got != want:
        differ = sorted(n for n in set(got) | set(want) if got.get(n) != want.get(n))
        outcome.problems.append(f"outputs differ from the uninterrupted run: {', '.join(differ)}")
    again = [int(s) for s in calls_after.read_text().split()] if calls_after.exists() else []
    outcome.rendered_again = len(finished & set(again))
    if outcome.rendered_again:
        outcome.problems.append(f"finished cue(s) rendered again: {sorted(finished & set(again))}")
    outcome.problems = sorted(set(outcome.problems))
    outcome.seconds = time.monotonic() - began
    print(
        f"trial {n:2d}  {kind:12s}  aimed {phase:13s}  hit {outcome.phase_hit:13s}  "
        f"{outcome.scans:5d} listings ({outcome.listings} distinct)  "
        f"{'ok' if not outcome.problems else '; '.join(outcome.problems)}",
        flush=True,
    )
    return outcome


def make_timeline(folder: Path) -> Path:
    """The backend tests' batch timeline: 8 s, `cue` markers every 2 s (three cues)."""
    import opentimelineio as otio

    from gvmgen.media.synth import make_test_clip

    rate = 25
    media = make_test_clip(folder / "long.mp4", duration=8.0, cut_frames=(30, 90, 140, 170))
    ref = otio.schema.ExternalReference(
        str(media),
        available_range=otio.opentime.range_from_start_end_time(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(8 * rate, rate)
        ),
    )
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(name="long", media_reference=ref, source_range=ref.available_range)
    )
    timeline = otio.schema.Timeline(name="batch")
    timeline.tracks.append(track)
    for i, frame in enumerate(range(0, 8 * rate, 2 * rate)):
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=f"cue {i + 1}",
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(frame, rate), otio.opentime.RationalTime(1, rate)
                ),
            )
        )
    path = folder / "batch.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--keep", type=Path, help="copy each failed trial's folder here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="crash-bench-") as tmp:
        tmp = Path(tmp)
        timeline = make_timeline(tmp)
        refs = {kind: reference(kind, timeline, tmp / f"ref-{i}") for i, kind in enumerate(KINDS)}
        outcomes = []
        phases = args.phases
        for n in range(args.trials):
            phase, kind = phases[n % len(phases)], KINDS[(n // len(phases)) % len(KINDS)]
            folder = tmp / f"trial-{n}"
            folder.mkdir()
            outcomes.append(trial(n, phase, kind, rng, timeline, folder, refs))
            if outcomes[-1].problems and args.keep:
                shutil.copytree(folder, args.keep / folder.name, dirs_exist_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
    summary = summarise(outcomes, load, os.getloadavg(), args)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["trials_with_problems"] == 0 else 1


def seen_in_listings(outcomes: list[Outcome], kind: str) -> int:
    """How many (trial, file) problems of one kind the listings showed: "temp file", ..."""
    return sum(p.startswith(kind + " ") for o in outcomes for p in o.problems)


def summarise(outcomes: list[Outcome], load_before, load_after, args) -> dict:
    return {
        "trials": len(outcomes),
        "seed": args.seed,
        "phases_aimed": dict(Counter(o.phase_aimed for o in outcomes)),
        "phases_hit": dict(Counter(o.phase_hit for o in outcomes)),
        "kinds": dict(Counter(o.kind for o in outcomes)),
        "listings_taken": sum(o.scans for o in outcomes),
        "distinct_listings_checked": sum(o.listings for o in outcomes),
        "temp_files_seen": seen_in_listings(outcomes, "temp file"),
        "partial_files_seen": seen_in_listings(outcomes, "partial"),
        "stale_files_seen": seen_in_listings(outcomes, "stale file"),
        "trials_with_a_stage_at_the_kill": sum(o.stage_at_kill for o in outcomes),
        "stages_reclaimed_after_restart": sum(o.reclaimed for o in outcomes),
        "left_in_out_after_restart": seen_in_listings(outcomes, "left in --out:"),
        "outputs_identical": sum(o.outputs_identical for o in outcomes),
        "jobs_lost": sum(o.job_lost for o in outcomes),
        "trials_with_problems": sum(bool(o.problems) for o in outcomes),
        "problems": dict(Counter(re.sub(r"\d+", "N", p) for o in outcomes for p in o.problems)),
        "cues_checkpointed_at_the_kill": sum(o.checkpointed for o in outcomes),
        "finished_cues_rendered_again": sum(o.rendered_again for o in outcomes),
        "median_trial_seconds": statistics.median(o.seconds for o in outcomes),
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in load_after],
    }


if __name__ == "__main__":
    sys.exit(main())
