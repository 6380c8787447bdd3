"""`gvmgen score --rate` for EDLs, whose files never say their frame rate."""

from __future__ import annotations

import json

import pytest

from gvmgen.cli import main
from gvmgen.errors import InputError
from gvmgen.schema import parse_request

# 25 fps, but no frame field reaches 24, and every event parses at 24 as well as at 25 (same
# seconds and frames on both sides): the file cannot tell; the media it names is not there.
EDL = """TITLE: twenty-five
FCM: NON-DROP FRAME

001  REELA    V     C        00:00:00:00 00:00:04:10 01:00:00:00 01:00:04:10
* FROM CLIP NAME: missing-a.mov
002  REELB    V     C        00:00:10:05 00:00:14:15 01:00:04:10 01:00:08:20
* FROM CLIP NAME: missing-b.mov
003  REELC    V     C        00:00:20:00 00:00:24:00 01:00:08:20 01:00:12:20
* FROM CLIP NAME: missing-c.mov
"""


@pytest.fixture
def edl(tmp_path):
    path = tmp_path / "cut-25.edl"
    path.write_text(EDL)
    return path


def _argv(edl, out, *more) -> list[str]:
    return [
        "score",
        str(edl),
        "--out",
        str(out),
        "--engine",
        "arranger",
        "--edit-points-only",
        "--json",
        *more,
    ]


def test_an_ambiguous_edl_without_rate_is_one_line_that_says_pass_rate(edl, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(_argv(edl, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--rate" in err, err
    assert not out.exists()


def test_rate_25_scores_the_edl_at_25_fps(edl, tmp_path, capsys):
    assert main(_argv(edl, tmp_path / "out", "--rate", "25")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rate"] == 25.0
    assert result["duration"] == pytest.approx(12.8)  # 12 s 20 frames at 25 fps
    cue = result["cues"][0]
    assert (cue["record_in"], cue["record_out"]) == ("01:00:00:00", "01:00:12:20")
    cuts = [(c["record"], round(c["time"], 3)) for c in result["cuts"] if c["kind"] == "edit"]
    assert cuts == [("01:00:04:10", 4.4), ("01:00:08:20", 8.8)]


@pytest.mark.parametrize("rate", [0, -25])
def test_a_rate_that_is_not_positive_is_refused_by_field(rate, tmp_path):
    with pytest.raises(InputError, match="rate"):
        parse_request({"input": "x.edl", "out_dir": str(tmp_path), "rate": rate})


def test_rate_is_optional_in_a_request(tmp_path):
    assert parse_request({"input": "x.edl", "out_dir": str(tmp_path)}).rate is None
