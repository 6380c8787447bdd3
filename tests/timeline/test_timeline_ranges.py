"""The IN-OUT text an editor types, timecodes and media paths as NLEs write them."""

from __future__ import annotations

from pathlib import Path

import pytest
from timeline_builders import NTSC_24, NTSC_30, NTSC_60, RT, TR, hour_one

from gvmgen.errors import InputError
from gvmgen.timeline import exact_rate, parse_range, path_from_url, timecode


@pytest.mark.parametrize(
    ("text", "rate", "drop_frame", "first", "count"),
    [
        pytest.param("12.5-20", 24.0, False, 300, 180, id="seconds@24"),
        pytest.param("12.5-20", NTSC_24, False, 300, 180, id="seconds@23.976"),
        pytest.param(" .5 - 1 ", 25.0, False, 13, 12, id="seconds-spaces-half-up"),
        pytest.param("f240-f480", 30.0, False, 240, 240, id="frames"),
        pytest.param("01:00:10:00-01:00:20:00", 25.0, False, 250, 250, id="timecode@25"),
        pytest.param("01:00:10:00-01:00:20:00", NTSC_24, False, 240, 240, id="timecode@23.976"),
        pytest.param("01:00:10;00-01:01:00;02", NTSC_30, True, 300, 1500, id="dropframe@29.97"),
        pytest.param("01:00:10:00-01:01:00:02", NTSC_30, False, 300, 1502, id="non-drop@29.97"),
        pytest.param("01:00:00;00-01:10:00;00", NTSC_60, True, 0, 35964, id="dropframe@59.94"),
    ],
)
def test_parse_range_forms(text, rate, drop_frame, first, count):
    parsed = parse_range(text, rate, hour_one(rate, drop_frame))
    assert parsed == TR(RT(first, rate), RT(count, rate))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="blank"),
        pytest.param("10", id="no-dash"),
        pytest.param("10-", id="no-out"),
        pytest.param("a-b", id="words"),
        pytest.param("1:2-3:4", id="short-timecode"),
        pytest.param("10-20-30", id="three-parts"),
        pytest.param("f10-20", id="mixed-forms"),
    ],
)
def test_malformed_range_names_the_text_and_the_accepted_forms(text):
    with pytest.raises(InputError) as caught:
        parse_range(text, 24.0)
    assert repr(text) in str(caught.value) and "f240-f480" in str(caught.value)


@pytest.mark.parametrize("text", ["20-10", "5-5", "f480-f240", "01:00:20:00-01:00:10:00"])
def test_empty_or_backwards_range_is_refused(text):
    with pytest.raises(InputError, match="empty or runs backwards"):
        parse_range(text, 24.0, hour_one(24.0))


def test_timecode_frame_past_the_rate_is_refused():
    with pytest.raises(InputError, match="has frame 25"):
        parse_range("01:00:00:00-01:00:00:25", 25.0)


def test_drop_frame_timecode_at_a_non_drop_rate_is_refused():
    with pytest.raises(InputError, match="drop-frame"):
        parse_range("01:00:00;00-01:00:01;00", 25.0)


def test_ntsc_rates_written_short_are_exact():
    assert exact_rate(23.976) == NTSC_24 and exact_rate(29.97) == NTSC_30
    assert exact_rate(59.94) == NTSC_60 and exact_rate(25.0000001) == 25.0


@pytest.mark.parametrize(
    ("frame", "rate", "expected"),
    [
        pytest.param(86400, NTSC_24, "01:00:00:00", id="23.976"),
        pytest.param(107892 + 1800, NTSC_30, "01:01:00;02", id="29.97DF-skips-00-01"),
        pytest.param(90000 + 24, 25.0, "01:00:00:24", id="25"),
    ],
)
def test_timecode(frame, rate, expected):
    assert timecode(RT(frame, rate), rate) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("/Volumes/A/clip.mov", "/Volumes/A/clip.mov", id="resolve-bare"),
        pytest.param("file:///folder/a%20b.mov", "/folder/a b.mov", id="file-url"),
        pytest.param("file://localhost/D%3a/media/x.mov", "D:/media/x.mov", id="premiere-drive"),
        pytest.param("file:///C:/media/x.mov", "C:/media/x.mov", id="url-drive"),
        pytest.param("S:\\path\\to\\x.exr", "S:/path/to/x.exr", id="windows-bare"),
        pytest.param("file://server/share/x.mov", "//server/share/x.mov", id="unc-url"),
        pytest.param("media/x.mov", "/project/media/x.mov", id="relative"),
        pytest.param("../media/x.mov", "/media/x.mov", id="relative-up"),
        pytest.param("file:x.mov", "/project/x.mov", id="relative-url"),
    ],
)
def test_media_paths_as_nles_write_them(url, expected):
    assert path_from_url(url, Path("/project")).as_posix() == expected
