"""A reused `--job-id` never answers with a stale result (issue 18, item 1).

The same command again returns the finished job's result without a new take. A changed request
under that job id (the timeline recut and saved over the same file, another input, another
range, another seed or option) is one line and exit 2, naming what changed and the way out,
and writes nothing. Through the CLI, as an editor runs it."""

from __future__ import annotations

import hashlib
import json
import shutil

import opentimelineio as otio
import pytest

from gvmgen.cli import main

RATE = 25


def _timeline(path, clip, frames: int, marker_at: int | None = None):
    """`frames` of the clip on one track from 01:00:00:00 (a `cue` marker where asked)."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    ref = otio.schema.ExternalReference(str(clip), available_range=tr(rt(0, RATE), rt(300, RATE)))
    track = otio.schema.Track("V1")
    track.append(otio.schema.Clip("shot", ref, tr(rt(0, RATE), rt(frames, RATE))))
    timeline = otio.schema.Timeline("cut", global_start_time=rt(3600 * RATE, RATE))
    timeline.tracks.append(track)
    if marker_at is not None:
        marked = tr(rt(marker_at, RATE), rt(1, RATE))
        timeline.tracks.markers.append(otio.schema.Marker("cue B", marked))
    otio.adapters.write_to_file(timeline, str(path))
    return path


def _score(capsys, *argv) -> tuple[int, str, str]:
    code = main(["score", *map(str, argv), "--engine", "arranger"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def reel2(cut_clip, tmp_path_factory):
    """cut.otio (10 s) batch-scored into out/ as job reel2."""
    folder = tmp_path_factory.mktemp("reel2")
    timeline = _timeline(folder / "cut.otio", cut_clip[0], 250)
    batch = ["--mode", "batch", "--engine", "arranger", "--job-id", "reel2"]
    code = main(["score", str(timeline), "--out", str(folder / "out"), *batch])
    assert code == 0
    return folder, timeline


@pytest.fixture
def scored(reel2, tmp_path):
    """A copy of the scored folder and its timeline, for one test to change."""
    folder, _ = reel2
    copy = shutil.copytree(folder, tmp_path / "job")
    report = copy / "out" / "report.json"  # as if scored here: its paths name the copy
    report.write_text(report.read_text().replace(str(folder), str(copy)))
    return copy, copy / "cut.otio", copy / "out"


def snapshot(folder) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) → sha256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _refused(capsys, out, *argv) -> str:
    before = snapshot(out)
    code, _, err = _score(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "job id 'reel2' already finished" in err
    assert snapshot(out) == before  # nothing written, nothing lost
    return err


def test_the_same_command_again_returns_the_result_without_a_new_take(scored, capsys):
    _, timeline, out = scored
    report = json.loads((out / "report.json").read_text())
    code, printed, _ = _score(
        capsys, timeline, "--out", out, "--mode", "batch", "--job-id", "reel2", "--json"
    )
    assert code == 0
    again = json.loads(printed)
    assert again["range_out"] == report["range_out"] == "01:00:10:00"
    assert [t["take"] for t in again["takes"]] == [1]
    assert again["takes"][0]["made_from"]["range"] == "01:00:00:00-01:00:10:00"


def test_a_recut_saved_over_the_same_file_is_refused_naming_the_change(scored, cut_clip, capsys):
    _, timeline, out = scored
    _timeline(timeline, cut_clip[0], 200)  # 2 s shorter, saved over cut.otio
    err = _refused(capsys, out, timeline, "--out", out, "--mode", "batch", "--job-id", "reel2")
    assert "range 01:00:00:00-01:00:10:00 → 01:00:00:00-01:00:08:00" in err
    assert "the edit" in err and "new --out folder" in err


def test_a_recut_of_the_same_length_is_refused_too(scored, cut_clip, capsys):
    """Same range, another edit (a cue marker added): the music would change."""
    _, timeline, out = scored
    _timeline(timeline, cut_clip[0], 250, marker_at=120)
    err = _refused(capsys, out, timeline, "--out", out, "--mode", "batch", "--job-id", "reel2")
    assert "the edit (clips, media, source ranges, rate, markers or sound)" in err
    assert "range 01:" not in err  # the same range
    assert "--mode regenerate" in err


def test_a_different_input_is_refused(scored, media_dir, capsys):
    from gvmgen.media.synth import make_test_clip

    folder, _, out = scored
    other = make_test_clip(media_dir / "other.mp4", rate=RATE, duration=12.0, cut_frames=(70,))
    other_timeline = _timeline(folder / "other.otio", other, 250)
    err = _refused(
        capsys, out, other_timeline, "--out", out, "--mode", "batch", "--job-id", "reel2"
    )
    assert "the edit" in err and "cut.otio → other.otio" in err


def test_a_copy_of_the_same_edit_elsewhere_is_the_same_request(scored, capsys):
    """Not the input's path: what it holds."""
    folder, timeline, out = scored
    moved = folder / "moved" / "cut.otio"
    moved.parent.mkdir()
    shutil.copy(timeline, moved)
    # the folder's own check still wants the takes of one input: only the job id answers here
    code, printed, err = _score(
        capsys, moved, "--out", out, "--mode", "batch", "--job-id", "reel2", "--json"
    )
    assert code == 0, err
    assert json.loads(printed)["job_id"] == "reel2"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--range", "01:00:01:00-01:00:09:00"], "range 01:00:00:00-01:00:10:00 → "),
        (["--seed", "5"], "seed unset → 5"),
        (["--max-stretch", "0.1"], "max_stretch 0.06 → 0.1"),
        (["--mode", "range"], "mode batch → range"),
    ],
)
def test_another_range_seed_or_option_is_refused(scored, capsys, argv, named):
    _, timeline, out = scored
    rest = ["--mode", "batch", *argv] if "--mode" not in argv else argv
    err = _refused(capsys, out, timeline, "--out", out, "--job-id", "reel2", *rest)
    assert named in err


def test_a_report_from_before_the_record_is_checked_on_what_it_holds(scored, capsys):
    """Older reports hold no `made_from`: their input, range and seeds are compared."""
    _, timeline, out = scored
    report = json.loads((out / "report.json").read_text())
    for take in report["takes"]:
        del take["made_from"]
    (out / "report.json").write_text(json.dumps(report))
    again = ["--out", out, "--mode", "batch", "--job-id", "reel2"]
    assert _score(capsys, timeline, *again)[0] == 0
    err = _refused(capsys, out, timeline, *again, "--seed", "5")
    assert "seed 0 → 5" in err
    err = _refused(capsys, out, timeline, *again, "--range", "01:00:01:00-01:00:09:00")
    assert "range 01:00:00:00-01:00:10:00 → 01:00:01:00-01:00:09:00" in err
