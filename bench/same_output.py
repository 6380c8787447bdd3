"""Does a change keep what the user gets? The demo and the batch bench's 10-minute timeline,
scored by two commits' code side by side, in one run.

For each pair BEFORE AFTER (any git revisions of this repository): `gvmgen demo`, then (with
`--batch`) the batch bench's timeline (80 edit points, 4 `cue` markers, arranger, batch mode),
each with the code of BEFORE and of AFTER, exported with `git archive`. Compared:

* the delivered WAVs: their samples, and their bext chunk but for what names the run (job id,
  date and time of making), so two runs of one commit compare equal; byte-identity is said too
  (it holds where the WAVs carry no date), and byte-identity but for those 50 bytes of the
  bext chunk (every other byte of the file: header, chunks, samples);
* report.json, less the timings, dates, job ids and the takes' `made_from` (a field that
  AFTER may add);
* the batch's wall and CPU time (all threads; a loaded machine inflates it less than the wall
  time), AFTER / BEFORE (with `--rounds 2`: before, after, after, before, summed per side, so
  a load drifting during the run weighs on both alike).

Run: `.venv/bin/python bench/same_output.py eb02856^ eb02856 --batch` (prints one JSON line per
pair; exit 1 when any output differs). Not a `*_bench.py`: it needs the revisions to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_FIELDS = ("originator_ref", "originator_date", "originator_time")  # bext: what names a run
RUN_BYTES = slice(288, 338)  # where they lie in the bext chunk's data (EBU Tech 3285)

_SCORE_BATCH = """
import sys, time
from pathlib import Path
tree, fixture, out = map(Path, sys.argv[1:4])
sys.path.insert(0, str(tree / "bench"))
import gvmgen
assert Path(gvmgen.__file__).resolve().is_relative_to(tree.resolve()), gvmgen.__file__
import batch_bench
from gvmgen.pipeline import score
timeline = fixture / "batch.otio"
if not timeline.exists():
    fixture.mkdir(parents=True, exist_ok=True)
    batch_bench.make_timeline(batch_bench.make_media(fixture), timeline)
began, cpu = time.perf_counter(), time.process_time()
score({"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"})
print(time.perf_counter() - began, time.process_time() - cpu)
"""

_DEMO = """
import sys
from pathlib import Path
import gvmgen
assert Path(gvmgen.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve())
from gvmgen.cli import main
sys.exit(main(["demo", "--out", sys.argv[2]]))
"""


def export(revision: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True)
    if archive.returncode:
        sys.exit(f"same_output: {revision!r} is not a revision here: {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run_code(tree: Path, program: str, *args: str, cwd: Path) -> str:
    """`program` with `tree`'s gvmgen (never the checkout's), in `cwd`; its stdout."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", program, str(tree), *args],
        cwd=cwd, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode:
        sys.exit(f"same_output: {tree.name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def wav_keys(folder: Path) -> dict[str, tuple]:
    import soundfile as sf
    from wavinfo import WavInfoReader

    keys = {}
    for path in sorted(folder.rglob("*.wav")):
        samples, rate = sf.read(str(path), dtype="int32", always_2d=True)
        bext = WavInfoReader(str(path)).bext
        said = {k: v for k, v in vars(bext).items() if k not in RUN_FIELDS} if bext else None
        keys[str(path.relative_to(folder))] = (
            hashlib.sha256(samples.tobytes()).hexdigest(),
            rate,
            json.dumps(said, sort_keys=True, default=str),
            hashlib.sha256(path.read_bytes()).hexdigest(),
            hashlib.sha256(without_run_bytes(path.read_bytes())).hexdigest(),
        )
    return keys


def without_run_bytes(data: bytes) -> bytes:
    """A RIFF WAV's bytes with the bext chunk's originator reference, date and time zeroed."""
    out, at = bytearray(data), 12
    while at + 8 <= len(out):
        size = int.from_bytes(out[at + 4 : at + 8], "little")
        if out[at : at + 4] == b"bext":
            start = at + 8 + RUN_BYTES.start
            out[start : at + 8 + RUN_BYTES.stop] = bytes(RUN_BYTES.stop - RUN_BYTES.start)
        at += 8 + size + size % 2  # chunks are padded to an even length
    return bytes(out)


def report_of(folder: Path) -> dict:
    text = (folder / "report.json").read_text(encoding="utf-8")
    report = json.loads(text.replace(str(folder.resolve()), "<out>").replace(str(folder), "<out>"))
    for name in ("seconds", "job_id"):
        report.pop(name, None)
    for take in report.get("takes", []):
        for name in ("created", "job_id", "made_from"):
            take.pop(name, None)
    return report


def compared(before: Path, after: Path) -> dict:
    a, b = wav_keys(before), wav_keys(after)
    same_names = a.keys() == b.keys()
    return {
        "wavs": len(a),
        "same_audio_and_bext": same_names and all(a[k][:3] == b[k][:3] for k in a),
        "byte_identical": same_names and all(a[k][3] == b[k][3] for k in a),
        "byte_identical_but_run": same_names and all(a[k][4] == b[k][4] for k in a),
        "same_report": report_of(before) == report_of(after),
    }


def check_pair(before: str, after: str, work: Path, batch: bool, rounds: int) -> dict:
    trees = {
        side: export(rev, work / side / "tree")
        for side, rev in (("before", before), ("after", after))
    }
    for side, tree in trees.items():
        run_code(tree, _DEMO, str(work / side / "demo"), cwd=work)
    result = {
        "before": before,
        "after": after,
        "demo": compared(work / "before" / "demo", work / "after" / "demo"),
    }
    if batch:
        order = ["before", "after", "after", "before"] if rounds == 2 else ["before", "after"]
        wall, cpu = {"before": [], "after": []}, {"before": [], "after": []}
        for i, side in enumerate(order):
            out = work / side / f"batch-{i}"
            took = run_code(trees[side], _SCORE_BATCH, str(work / "fixture"), str(out), cwd=work)
            seconds = took.strip().splitlines()[-1].split()
            wall[side].append(round(float(seconds[0]), 1))
            cpu[side].append(round(float(seconds[-1]), 1))  # all threads: load inflates it less
        last = {side: work / side / f"batch-{order.index(side)}" for side in trees}
        result["batch"] = compared(last["before"], last["after"])
        result["batch"] |= {"wall_s": wall, "cpu_s": cpu}
        for name, runs in (("wall", wall), ("cpu", cpu)):
            ratio = sum(runs["after"]) / sum(runs["before"])
            result["batch"][f"{name}_after_over_before"] = round(ratio, 3)
    result["load"] = os.getloadavg()[0]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("revisions", nargs="+", metavar="BEFORE AFTER", help="pairs of revisions")
    parser.add_argument("--batch", action="store_true", help="also the 10-minute batch, timed")
    parser.add_argument("--rounds", type=int, choices=(1, 2), default=1)
    args = parser.parse_args()
    if len(args.revisions) % 2:
        parser.error("revisions come in pairs: BEFORE AFTER [BEFORE AFTER …]")
    same = True
    pairs = list(zip(args.revisions[::2], args.revisions[1::2], strict=True))
    for before, after in pairs:
        with tempfile.TemporaryDirectory(prefix="same-output-") as tmp:
            began = time.perf_counter()
            result = check_pair(before, after, Path(tmp), args.batch, args.rounds)
            result["wall_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(result), flush=True)
        checks = [result["demo"]] + ([result["batch"]] if args.batch else [])
        same &= all(c["same_audio_and_bext"] and c["same_report"] for c in checks)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
