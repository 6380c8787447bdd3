"""bench/crash_bench.py's listing check can fail: each kind of damage it looks for, shown a
listing that has it, is named (a checker that passes everything would make its counts empty)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))

from crash_bench import listing_problems, visible

FINAL = {
    "report.json": 900,
    "score.otio": 800,
    "takes/take-01/cue-01.wav": 1000,
    "takes/take-01/cue-02.wav": 1000,
}


def test_a_good_listing_has_no_problem():
    assert listing_problems({}, FINAL, {}) == []
    assert listing_problems(dict(FINAL), FINAL, {}) == []
    takes_only = {k: v for k, v in FINAL.items() if k.startswith("takes/")}
    assert listing_problems(takes_only, FINAL, {}) == []  # the take before report.json names it


def test_each_kind_of_damage_is_named():
    partial_folder = {"takes/take-01/cue-01.wav": 1000}
    assert listing_problems(partial_folder, FINAL, {}) == [
        "partial take folder takes/take-01 (1 of 2 files)"
    ]
    short = {"takes/take-01/cue-01.wav": 1000, "takes/take-01/cue-02.wav": 512}
    assert listing_problems(short, FINAL, {}) == ["partial takes/take-01/cue-02.wav (512 bytes)"]
    temp = dict(FINAL) | {"takes/take-01/.cue-03.partial-1a2b3c4d.wav": 10}
    assert "temp file takes/take-01/.cue-03.partial-1a2b3c4d.wav" in listing_problems(
        temp, FINAL, {}
    )
    stale = dict(FINAL) | {"old.json": 3}
    assert listing_problems(stale, FINAL, {}) == ["stale file old.json"]


def test_the_listing_leaves_out_only_the_stage_and_the_reservations(tmp_path):
    for name in (".staging-j/out/takes/take-01/cue-01.wav", ".reservations/take-01/x", "a.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "takes" / "take-01").mkdir(parents=True)
    (tmp_path / "takes" / "take-01" / ".cue-01.partial-00.wav").write_bytes(b"xy")
    assert visible(tmp_path) == {"a.wav": 1, "takes/take-01/.cue-01.partial-00.wav": 2}


def test_the_summary_counts_each_kind_of_damage_the_trials_saw():
    from types import SimpleNamespace

    from crash_bench import Outcome, summarise

    clean = Outcome("commit", "commit", "empty folder", stage_at_kill=True, reclaimed=True)
    clean.outputs_identical = True
    damaged = Outcome("cleanup", "cleanup", "second take", stage_at_kill=True, job_lost=True)
    damaged.problems = [
        "temp file takes/take-01/.cue-01.partial-00.wav",
        "partial takes/take-01/cue-02.wav (512 bytes)",
        "partial take folder takes/take-01 (1 of 2 files)",
        "stale file old.json",
        "left in --out: .staging-j",
    ]
    summary = summarise([clean, damaged], (1, 1, 1), (1, 1, 1), SimpleNamespace(seed=0))
    assert summary["temp_files_seen"] == 1 and summary["stale_files_seen"] == 1
    assert summary["partial_files_seen"] == 2 and summary["left_in_out_after_restart"] == 1
    assert summary["trials_with_a_stage_at_the_kill"] == 2
    assert summary["stages_reclaimed_after_restart"] == 1
    assert summary["outputs_identical"] == 1 and summary["jobs_lost"] == 1
    assert summary["trials_with_problems"] == 1
