"""The Resolve menu commands end to end: menu command → clip placed and read back.

The real Lua scripts (LuaJIT 2.1 via lupa) run against the fake Resolve of tests/plugin, drive
the real `gvmgen client`, and a real `gvmgen serve` (arranger engine, warm) scores synthetic
media. Two jobs: Score Marked Range over 30 s, and Score Whole Timeline over a 5-minute
timeline (two `cue` markers, a cut every few seconds). Each command's wall time is split into
ours (export, the client's start and submit, reading the result, import, place + read back +
save) and the pipeline's (from the job's `accepted` line to its `done` line). Side by side:
what a user does without the scripts — `gvmgen score` on the same exported timeline in a fresh
process (then File › Import › Timeline by hand, not timed).

Run: `.venv/bin/python bench/plugin_bench.py` (about 3-6 minutes on 2 cores, most of it the
5-minute batch scored twice); `--quick` checks the bench itself on a 1-minute timeline.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 24
RANGE_SECONDS = 30
BATCH_MINUTES = 5
CUE_MARKERS = ((0.37, "cue B"), (0.71, "cue C"))

# Passes the real client's stdout through and notes when each JSON line arrived.
SHIM = """
import json, subprocess, sys, time
log = open(sys.argv[1], "a")
log.write(json.dumps(["start", time.perf_counter()]) + "\\n")
child = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, text=True)
for line in child.stdout:
    sys.stdout.write(line); sys.stdout.flush()
    try:
        kind = json.loads(line).get("type")
    except ValueError:
        kind = None
    log.write(json.dumps([kind, time.perf_counter()]) + "\\n")
log.write(json.dumps(["exit", time.perf_counter()]) + "\\n")
sys.exit(child.wait())
"""


def shot_lengths(total: int) -> list[int]:
    """Shots of 2-7 s in an irregular pattern, summing to `total` frames."""
    lengths, pattern, i = [], (97, 131, 61, 167, 83, 149, 53, 113), 0
    while sum(lengths) < total:
        lengths.append(min(pattern[i % len(pattern)], total - sum(lengths)))
        i += 1
    return lengths


def make_media(folder: Path, seconds: int) -> tuple[Path, list[int]]:
    from gvmgen.media.synth import make_test_clip

    shots = shot_lengths(seconds * RATE)
    cuts = [sum(shots[:i]) for i in range(1, len(shots))]
    path = make_test_clip(
        folder / f"source-{seconds}s.mp4", rate=Fraction(RATE), duration=seconds, cut_frames=cuts
    )
    return path, shots


def editor_for(folder: Path, media: Path, shots: list[int], data_dir: Path, shim: Path):
    from gvmgen_plugin import installer
    from lupa import luajit21

    from tests.plugin.conftest import Editor
    from tests.plugin.fake_resolve import FakeResolve

    target = installer.plan(scripts_dir=folder / "Scripts")
    installer.install(target, say=lambda _: None)
    config = json.loads((target.folder / installer.CONFIG).read_text())
    config["gvmgen"] = [sys.executable, str(shim), str(folder / "client-times.jsonl"),
                        *config["gvmgen"]]  # fmt: skip
    config.update(scores_dir=str(folder / "scores"), data_dir=str(data_dir), engine="arranger")
    (target.folder / installer.CONFIG).write_text(json.dumps(config))
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    lua.execute('collectgarbage("stop")')  # scoder/lupa#294 (see tests/plugin/conftest.py)
    resolve = FakeResolve(lua, rate=str(RATE), scripts_root=folder / "Scripts")
    offset = 0
    for i, frames in enumerate(shots):
        resolve.timeline.add_video_clip(f"S{i + 1:03d}", frames, str(media), source_start=offset)
        offset += frames
    for fraction, name in CUE_MARKERS:
        resolve.timeline.AddMarker(round(fraction * offset), "Blue", name, "", 1, "")
    return Editor(lua, resolve, folder / "Scripts", target.folder)


def run_command(editor, command: str, times_path: Path) -> dict:
    """Run one menu command; its wall time split into phases (seconds)."""
    times_path.unlink(missing_ok=True)
    editor.resolve.calls.clear()
    began = time.perf_counter()
    lines = editor.run(command)
    ended = time.perf_counter()
    chatter = ("placed", "%", "job", "scoring", "range from")
    problems = [line for line in lines if not any(word in line for word in chatter)]
    if problems:
        raise SystemExit(f"{command} failed: {problems}")
    client = {kind: t for kind, t in (json.loads(x) for x in times_path.read_text().splitlines())}
    calls = editor.resolve.calls
    export = next((a, b) for name, a, b in calls if name == "Export")
    imports = [(a, b) for name, a, b in calls if name == "ImportMedia"]
    phases = {
        "export": export[1] - began,  # context, range, Export()
        "client start + submit": client["accepted"] - client["start"],
        "pipeline": client["done"] - client["accepted"],
        "result + client exit": imports[0][0] - client["done"],
        "import": sum(b - a for a, b in imports),
        "place + read back + save": ended - imports[-1][1],
    }
    phases["launch"] = client["start"] - export[1]  # io.popen of the shim, then the client
    phases["total"] = ended - began
    phases["ours"] = phases["total"] - phases["pipeline"]
    return phases


def cold_cli(exported: Path, out: Path, *extra: str) -> float:
    """`gvmgen score` as a user would run it by hand, in a fresh process."""
    command = [sys.executable, "-m", "gvmgen.cli", "score", str(exported), "--engine", "arranger",
               "--out", str(out), *extra]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - began


def placed_clips(editor) -> list[tuple[int, int]]:
    tracks = [t for t in editor.timeline.audio if t.name.startswith("GVMGen Score")]
    return sorted((i.start, i.duration) for t in tracks for i in t.items)


def report(name: str, phases: dict, cli: float) -> None:
    ours = phases["ours"]
    total = phases["total"]
    print(f"\n{name}: menu command → placed and read back {total:.2f} s "
          f"(ours {ours:.2f} s = {ours / total:.1%}; "
          f"pipeline {phases['pipeline']:.2f} s)")  # fmt: skip
    for key in ("export", "launch", "client start + submit", "pipeline", "result + client exit",
                "import", "place + read back + save"):  # fmt: skip
        print(f"  {key:<26} {phases[key]:7.2f} s")
    print(
        f"  vs `gvmgen score` cold, same timeline: {cli:.2f} s → plugin/CLI = "
        f"{phases['total'] / cli:.2f}× (the CLI still leaves the import to the editor)"
    )


def main() -> None:
    global BATCH_MINUTES, RANGE_SECONDS
    from tests.plugin.backend_process import running_backend

    if "--quick" in sys.argv:  # a smoke run of the bench itself: 1-minute timeline, 10 s range
        BATCH_MINUTES, RANGE_SECONDS = 1, 10

    with tempfile.TemporaryDirectory(prefix="plugin-bench-") as tmp:
        tmp = Path(tmp)
        shim = tmp / "client_shim.py"
        shim.write_text(SHIM)
        began = time.perf_counter()
        media, shots = make_media(tmp, BATCH_MINUTES * 60)
        print(f"media: {BATCH_MINUTES} min at {RATE} fps, {len(shots)} shots "
              f"({time.perf_counter() - began:.1f} s to make)")  # fmt: skip
        data_dir = tmp / "data"
        with running_backend(data_dir):
            results = {}
            # warm-up: the first job loads the worker's engine; an editor's second command is
            # the common case, so the first small range is not timed
            warm = editor_for(tmp / "warm", media, shots[:3], data_dir, shim)
            warm.timeline.set_marks(0, 47)
            run_command(warm, "Score Marked Range", tmp / "warm" / "client-times.jsonl")

            editor = editor_for(tmp / "range", media, shots, data_dir, shim)
            first = 10 * RATE
            editor.timeline.set_marks(first, first + RANGE_SECONDS * RATE - 1)
            phases = run_command(editor, "Score Marked Range", tmp / "range" / "client-times.jsonl")
            assert placed_clips(editor) == [(86400 + first, RANGE_SECONDS * RATE)]
            exported = next((tmp / "range" / "scores").rglob("timeline.otio"))
            cli = cold_cli(exported, tmp / "cli-range", "--range",
                           f"f{first}-f{first + RANGE_SECONDS * RATE}")  # fmt: skip
            results["range"] = (phases, cli)

            editor = editor_for(tmp / "batch", media, shots, data_dir, shim)
            phases = run_command(
                editor, "Score Whole Timeline", tmp / "batch" / "client-times.jsonl"
            )
            clips = placed_clips(editor)
            assert clips[0][0] == 86400 and sum(d for _, d in clips) == sum(shots)
            assert all(a + d == b for (a, d), (b, _) in itertools.pairwise(clips))
            exported = next((tmp / "batch" / "scores").rglob("timeline.otio"))
            cli = cold_cli(exported, tmp / "cli-batch", "--mode", "batch")
            results["batch"] = (phases, cli, len(clips))
        report(f"Score Marked Range, {RANGE_SECONDS} s", *results["range"])
        phases, cli, count = results["batch"]
        report(f"Score Whole Timeline, {BATCH_MINUTES} min, {count} cues", phases, cli)


if __name__ == "__main__":
    main()
