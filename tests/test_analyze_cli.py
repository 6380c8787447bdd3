"""`gvmgen analyze`: the JSON Lines contract and exit 2 with one clear line for bad input."""

from __future__ import annotations

import json

import opentimelineio as otio
import pytest

from gvmgen.cli import main


def _analyze(capsys, *argv):
    code = main(["analyze", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_lines_for_a_video(capsys, cut_clip):
    path, rate, cuts = cut_clip
    code, out, err = _analyze(capsys, path, "--json")
    assert rate == 25
    assert code == 0, err
    (report,) = [json.loads(line) for line in out.splitlines()]
    assert report["input"] == str(path)
    assert report["duration"] == pytest.approx(12.0, abs=1 / 25)
    assert report["rate"] == pytest.approx(25.0)
    found = [c["frame"] for c in report["cuts"]]
    assert len(found) == len(cuts)
    assert all(abs(f - c) <= 1 for f, c in zip(found, cuts, strict=True))
    assert all(c["kind"] == "shot" for c in report["cuts"])
    assert all(c["time"] == pytest.approx(c["frame"] / 25, abs=1 / 25) for c in report["cuts"])


def test_range_counts_from_its_start(capsys, cut_clip):
    path, _, cuts = cut_clip
    code, out, _ = _analyze(capsys, path, "--json", "--range", "4-9")
    report = json.loads(out)
    assert code == 0 and report["duration"] == pytest.approx(5.0)
    inside = [c - 100 for c in cuts if 100 < c < 225]
    assert len(report["cuts"]) == len(inside)
    assert all(abs(c["frame"] - f) <= 1 for c, f in zip(report["cuts"], inside, strict=True))


def test_several_inputs_and_a_timeline_with_edit_points(capsys, cut_clip, tmp_path):
    path, _, _ = cut_clip
    timeline = tmp_path / "two.otio"
    _two_clip_timeline(path, timeline)
    code, out, err = _analyze(capsys, path, timeline, "--json")
    assert code == 0, err
    video, edit = [json.loads(line) for line in out.splitlines()]
    assert video["input"] == str(path) and edit["input"] == str(timeline)
    assert edit["duration"] == pytest.approx(6.0)
    kinds = {c["frame"]: c["kind"] for c in edit["cuts"]}
    assert kinds.get(75) == "edit"  # the edit point between the two clips
    shots = sorted(f for f, k in kinds.items() if k == "shot")
    # media cut 53 shows in clip 1 (media 10-85) at 43; media cut 190 in clip 2 (150-225) at 115
    assert len(shots) == 2 and abs(shots[0] - 43) <= 1 and abs(shots[1] - 115) <= 1


def test_table_without_json(capsys, cut_clip):
    path, _, cuts = cut_clip
    code, out, _ = _analyze(capsys, path)
    assert code == 0 and f"{len(cuts)} cut(s)" in out and "shot" in out


def _two_clip_timeline(media, target):
    rate = 25
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    ref = otio.schema.ExternalReference(
        str(media),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(300, rate)
        ),
    )
    for start in (10, 150):
        track.append(
            otio.schema.Clip(
                name=f"clip {start}",
                media_reference=ref.clone(),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(75, rate)
                ),
            )
        )
    timeline = otio.schema.Timeline()
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(target))


@pytest.mark.parametrize(
    ("make", "range_text", "message"),
    [
        pytest.param(lambda d: d / "missing.mp4", None, "not found", id="missing-file"),
        pytest.param(lambda d: _text(d / "notes.mp4"), None, "notes.mp4", id="not-a-video"),
        pytest.param(
            lambda d: _text(d / "cut.otio", "{garbage"), None, "cut.otio", id="corrupt-timeline"
        ),
        pytest.param(None, "5-5", "range", id="empty-range"),
        pytest.param(None, "8-40", "range", id="range-past-the-end"),
        pytest.param(None, "ten-20", "range", id="range-not-a-range"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, cut_clip, make, range_text, message):
    path = make(tmp_path) if make else cut_clip[0]
    argv = [path, "--json"] + (["--range", range_text] if range_text else [])
    code, out, err = _analyze(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert message.lower() in lines[0].lower()


def _text(path, content="this is not a video\n"):
    path.write_text(content)
    return path


def test_analyze_never_loads_torch(cut_clip):
    """The light command stays light: an editor's quick cut check must not wait for torch."""
    import subprocess
    import sys

    code = (
        "import sys; from gvmgen.cli import main; "
        f"rc = main(['analyze', {str(cut_clip[0])!r}, '--json']); "
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]; "
        "print('HEAVY', heavy, rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY [] 0" in out.stdout


def _edl(path, frames_per_event, source=None, rate=25):
    """An EDL cut at `rate` from 01:00:00:00 from whole seconds of media (frame fields 00)."""
    lines, record = ["TITLE: T", "FCM: NON-DROP FRAME", ""], 3600 * rate
    for number, count in enumerate(frames_per_event, start=1):
        tc = lambda f: otio.opentime.to_timecode(otio.opentime.RationalTime(f, rate), rate)  # noqa: E731
        src = rate * number
        lines.append(
            f"{number:03d}  AX       V     C        "
            f"{tc(src)} {tc(src + count)} {tc(record)} {tc(record + count)}"
        )
        lines.append(f"* FROM CLIP NAME: shot{number}")
        if source:
            lines.append(f"* FROM FILE: {source}")
        record += count
    path.write_text("\n".join(lines) + "\n")
    return path


def test_edl_rate_flag_and_the_media_rate(capsys, tmp_path, cut_clip):
    ambiguous = _edl(tmp_path / "cut.edl", [50, 75])
    code, out, err = _analyze(capsys, ambiguous, "--json", "--edit-points-only")
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "frame rate" in line and "--rate" in line

    code, out, err = _analyze(capsys, ambiguous, "--json", "--edit-points-only", "--rate", "25")
    assert code == 0, err
    report = json.loads(out)
    assert report["rate"] == 25.0 and report["range"] == "01:00:00:00-01:00:05:00"
    assert [c["frame"] for c in report["cuts"]] == [50]

    named = _edl(tmp_path / "named.edl", [50, 75], source=cut_clip[0])  # a 25 fps file
    code, out, err = _analyze(capsys, named, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rate"] == 25.0 and report["range"] == "01:00:00:00-01:00:05:00"


@pytest.mark.parametrize("range_text", ["1-1.5", "f25-f26"], ids=["half-second", "one-frame"])
def test_a_very_short_range_is_analysed_but_not_scored(capfd, tmp_path, cut_clip, range_text):
    code = main(["analyze", str(cut_clip[0]), "--json", "--range", range_text])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert json.loads(out)["duration"] < 1.0

    out_dir = tmp_path / "scored"
    code = main(
        [
            "score",
            str(cut_clip[0]),
            "--range",
            range_text,
            "--out",
            str(out_dir),
            "--engine",
            "arranger",
        ]
    )
    out, err = capfd.readouterr()
    assert code == 2 and "Traceback" not in err and "Warning" not in err
    (line,) = err.strip().splitlines()
    assert "at least 2 s" in line and "00:00:01:00" in line
    assert not out_dir.exists() or not any(out_dir.iterdir())


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """A faststart MP4 (12 s at 25 fps) cut to half its bytes: it opens, its index says 12 s."""
    from gvmgen.media.synth import make_test_clip

    folder = tmp_path_factory.mktemp("truncated")
    whole = make_test_clip(
        folder / "whole.mp4", duration=12.0, cut_frames=(53, 262), faststart=True
    )
    data = whole.read_bytes()
    short = folder / "short.mp4"
    short.write_bytes(data[: len(data) // 2])
    return short


def test_a_truncated_video_exits_2_with_one_line(capfd, truncated):
    code = main(["analyze", str(truncated), "--json"])
    out, err = capfd.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "short.mp4" in line and "truncated" in line


def test_a_truncated_timeline_clip_is_a_clip_error_edit_points_only_overrides(
    capfd, tmp_path, truncated
):
    timeline = tmp_path / "two.otio"
    _two_clip_timeline(truncated, timeline)  # the second clip reads media 6-9 s: past the end
    code = main(["analyze", str(timeline), "--json"])
    out, err = capfd.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "clip 150" in line and "truncated" in line and "--edit-points-only" in line

    code = main(["analyze", str(timeline), "--json", "--edit-points-only"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert 75 in [c["frame"] for c in json.loads(out)["cuts"]]


def test_a_timeline_in_a_schema_too_new_exits_2_with_the_export_hint(capsys, tmp_path, cut_clip):
    path = tmp_path / "two.otio"
    _two_clip_timeline(cut_clip[0], path)
    path.write_text(path.read_text().replace('"Clip.2"', '"Clip.3"'))
    code, out, err = _analyze(capsys, path, "--json")
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "Clip.3" in line and "target_schema_versions" in line


def test_edl_shaped_otio_without_media_exits_2_saying_so(capsys, tmp_path):
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    track = otio.schema.Track("V")
    for start, length in ((86501, 48), (86601, 72)):
        track.append(
            otio.schema.Clip(
                f"shot {start}", otio.schema.MissingReference(), tr(rt(start, 24), rt(length, 24))
            )
        )
    track.source_range = tr(rt(-86400, 24), rt(120, 24))
    timeline = otio.schema.Timeline("from an EDL")
    timeline.tracks.append(track)
    path = tmp_path / "screening.otio"
    otio.adapters.write_to_file(timeline, str(path))
    code, out, err = _analyze(capsys, path, "--json")
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "media for clip 'shot 86501' not found" in line and "--edit-points-only" in line
    code, out, err = _analyze(capsys, path, "--json", "--edit-points-only")
    report = json.loads(out)
    assert report["range"] == "01:00:00:00-01:00:05:00"
    assert [c["frame"] for c in report["cuts"]] == [48]


def test_a_decode_error_mid_file_exits_2_with_one_line(capfd, tmp_path):
    from gvmgen.media.synth import make_test_clip

    whole = make_test_clip(tmp_path / "whole.mp4", duration=12.0, size=(96, 54), faststart=True)
    data = bytearray(whole.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = b"\xff" * 4000
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    code = main(["analyze", str(broken), "--json"])
    out, err = capfd.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert "broken.mp4" in line and "decode" in line


# Stills from one source timecode, each source out left wherever (the shape of OTIO's own
# timecode_mismatch.edl): events 002 and 004 are longer or shorter at the source than on the
# record, and the record leaves two frames empty after 004.
STILLS_EDL = """TITLE: STILLS
FCM: NON-DROP FRAME
001  SC00.JPG V     C        01:00:00:00 01:00:02:10 00:00:00:00 00:00:02:10
* FROM CLIP NAME:  still1
002  SC00.JPG V     C        01:00:00:00 01:00:03:00 00:00:02:10 00:00:04:20
* FROM CLIP NAME:  still2
003  SC00.JPG V     C        01:00:00:00 01:00:01:05 00:00:04:20 00:00:06:00
* FROM CLIP NAME:  still3
004  SC00.JPG V     C        01:00:00:00 01:00:01:24 00:00:06:00 00:00:07:22
* FROM CLIP NAME:  still4
005  SC00.JPG V     C        01:00:00:00 01:00:02:00 00:00:07:24 00:00:09:24
* FROM CLIP NAME:  still5
"""


def test_an_edl_whose_source_lengths_miss_its_record_is_read_at_its_record_times(capsys, tmp_path):
    edl = tmp_path / "stills.edl"
    edl.write_text(STILLS_EDL)
    code, out, err = _analyze(capsys, edl, "--json", "--edit-points-only", "--rate", "25")
    assert code == 0, err
    report = json.loads(out)
    assert report["range"] == "00:00:00:00-00:00:09:24"
    # record cuts: 2:10, 4:20, 6:00, 7:22 and 7:24 (the two empty frames), in frames at 25
    assert [c["frame"] for c in report["cuts"]] == [60, 120, 150, 197, 199]
    (warning,) = [line for line in err.splitlines() if "record length" in line]
    assert warning.startswith("gvmgen analyze: warning: ")
    assert "2 event(s)" in warning and "event 002" in warning and "Traceback" not in err


def test_a_dissolve_whose_source_length_misses_its_record_is_read_with_a_warning(capsys, tmp_path):
    edl = tmp_path / "dissolve.edl"
    edl.write_text(
        "TITLE: D\nFCM: NON-DROP FRAME\n\n"
        "001  AX       V     C        00:00:00:00 00:00:02:00 01:00:00:00 01:00:02:00\n"
        "002  AX       V     C        00:00:05:00 00:00:05:00 01:00:02:00 01:00:02:00\n"
        "002  BX       V     D    025 00:00:10:00 00:00:13:07 01:00:02:00 01:00:04:00\n"
        "* FROM CLIP NAME: b\n"
    )
    code, out, err = _analyze(capsys, edl, "--json", "--edit-points-only", "--rate", "25")
    assert code == 0, err
    assert json.loads(out)["cuts"][0]["kind"] == "gradual"
    assert "clip 'b' is 82 frames long at its source but 50 on the record" in err


def test_each_cut_shows_the_record_timecode_the_editor_sees(capsys, tmp_path):
    edl = _edl(tmp_path / "cut.edl", [50, 75])  # recorded from 01:00:00:00 at 25 fps
    argv = [edl, "--edit-points-only", "--rate", "25"]
    code, out, err = _analyze(capsys, *argv)
    assert code == 0, err
    header, row = out.splitlines()[1:3]
    assert header.split() == ["#", "record", "time", "(s)", "frame", "kind"]
    assert row.split() == ["1", "01:00:02:00", "2.000", "50", "edit"]
    code, out, err = _analyze(capsys, *argv, "--json")
    assert json.loads(out)["cuts"] == [
        {"time": 2.0, "frame": 50, "record": "01:00:02:00", "kind": "edit"}
    ]


def test_rate_given_for_a_video_is_ignored_with_a_warning(capsys, cut_clip):
    code, out, err = _analyze(capsys, cut_clip[0], "--json", "--rate", "30")
    assert code == 0 and json.loads(out)["rate"] == 25.0
    (line,) = err.splitlines()
    assert line == (
        "gvmgen analyze: warning: --rate 30 ignored: cuts.mp4 is a video file, which carries "
        "its own rate (25.000 fps); --rate is for EDLs"
    )


@pytest.mark.parametrize(
    ("typed", "offered"),
    [
        ("01:00:03:00-01:00:09:00", "01:00:03:00-01:00:05:00"),
        ("3-9", "3-5"),
        ("f75-f300", "f75-f125"),
    ],
    ids=["timecodes", "seconds", "frames"],
)
def test_a_range_past_the_end_offers_the_part_inside(capsys, tmp_path, typed, offered):
    edl = _edl(tmp_path / "cut.edl", [50, 75])  # 01:00:00:00-01:00:05:00 at 25 fps
    argv = [edl, "--json", "--edit-points-only", "--rate", "25"]
    code, out, err = _analyze(capsys, *argv, "--range", typed)
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.endswith(f"; the timeline ends at 01:00:05:00; use --range {offered}")
    code, out, err = _analyze(capsys, *argv, "--range", offered)
    assert code == 0 and json.loads(out)["range"] == "01:00:03:00-01:00:05:00"


def test_a_range_wholly_past_the_end_says_where_the_timeline_ends(capsys, tmp_path):
    edl = _edl(tmp_path / "cut.edl", [50, 75])
    code, _, err = _analyze(capsys, edl, "--edit-points-only", "--rate", "25", "--range", "7-9")
    assert code == 2
    assert err.strip().endswith("the timeline ends at 01:00:05:00: mark a range inside it")


def test_score_offers_no_clamp_shorter_than_it_scores(capsys, tmp_path):
    edl = _edl(tmp_path / "cut.edl", [50, 75])
    argv = ["score", str(edl), "--out", str(tmp_path / "o"), "--edit-points-only"]
    code = main([*argv, "--rate", "25", "--range", "4-9"])  # 4-5 s: under the 2 s scored
    err = capsys.readouterr().err
    assert code == 2 and err.strip().endswith("mark a range inside it")
    assert not (tmp_path / "o").exists()
    assert main([*argv, "--rate", "25", "--range", "2-9"]) == 2
    assert capsys.readouterr().err.strip().endswith("use --range 2-5")
