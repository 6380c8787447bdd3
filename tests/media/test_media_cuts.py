"""Shot detection on synthetic clips with cuts, dissolves, flashes and pans at known frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from gvmgen.errors import InputError, MediaError
from gvmgen.media.cuts import Cut, detect_shots, merge_cuts
from gvmgen.media.synth import make_test_clip

# awkward frames: odd numbers, a run of rapid cuts 3 frames apart, one right after the start
CUT_FRAMES = (4, 17, 41, 44, 47, 103, 128, 131, 170, 199)
RATES = {
    "23.976": Fraction(24000, 1001),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
}


def shot_frames(analysis) -> list[int]:
    return [c.frame for c in analysis.cuts if c.kind == "shot"]


def assert_cuts_match(found: list[int], expected: tuple[int, ...], slack: int = 1) -> None:
    """Every expected cut found within ±slack frames, and nothing else."""
    assert len(found) == len(expected), f"found {found}, expected {list(expected)}"
    assert all(abs(f - e) <= slack for f, e in zip(found, expected, strict=True)), found


@pytest.fixture(scope="module", params=list(RATES), ids=list(RATES))
def cut_clip(request, tmp_path_factory):
    rate = RATES[request.param]
    path = tmp_path_factory.mktemp("cuts") / f"cuts_{request.param}.mp4"
    return make_test_clip(path, rate=rate, duration=9.0, cut_frames=CUT_FRAMES), rate


def test_hard_cuts_found_at_their_frames_and_nothing_else(cut_clip):
    path, rate = cut_clip
    analysis = detect_shots(path)

    assert analysis.rate == rate
    assert_cuts_match(shot_frames(analysis), CUT_FRAMES)
    assert all(c.kind == "shot" for c in analysis.cuts)
    for cut in analysis.cuts:
        assert cut.time == pytest.approx(cut.frame / float(rate), abs=0.5 / float(rate))


def test_range_reports_times_from_the_range_start(cut_clip):
    path, rate = cut_clip
    start = 80 / float(rate)  # frames 80 … 179 hold cuts at 103, 128, 131, 170
    analysis = detect_shots(path, start=start, duration=100 / float(rate))

    assert_cuts_match(shot_frames(analysis), (23, 48, 51, 90))
    assert analysis.duration == pytest.approx(100 / float(rate), abs=1e-3)
    assert analysis.cuts[0].time == pytest.approx(23 / float(rate), abs=0.5 / float(rate))


@pytest.mark.parametrize("frames", [1, 2, 3, 5, 8])
def test_a_clip_only_a_few_frames_long_still_analyses(cut_clip, frames):
    """Timelines hold clips of a handful of frames; each is analysed on its own."""
    path, rate = cut_clip
    analysis = detect_shots(path, start=60 / float(rate), duration=frames / float(rate))

    assert len(analysis.motion) == frames
    assert shot_frames(analysis) == []


def test_motion_comes_from_the_same_pass(cut_clip):
    path, rate = cut_clip
    analysis = detect_shots(path)
    n = round(9.0 * rate)

    assert analysis.motion.shape == analysis.motion_times.shape == (n,)
    assert analysis.motion.dtype == np.float32
    assert analysis.motion.min() >= 0.0 and analysis.motion.max() <= 1.0
    at_cuts = analysis.motion[list(CUT_FRAMES)]
    assert at_cuts.min() > 5 * np.median(analysis.motion)  # cuts spike, shots move gently
    assert np.median(analysis.motion) > 0.0


def test_slow_pan_has_no_cut(tmp_path):
    clip = make_test_clip(tmp_path / "pan.mp4", duration=8.0, kind="pan")
    analysis = detect_shots(clip)
    assert analysis.cuts == []
    assert np.median(analysis.motion[1:]) > 0.0  # it does move


@pytest.mark.parametrize("length", [8, 24])
def test_dissolve_is_gradual_not_a_cut(tmp_path, length):
    clip = make_test_clip(
        tmp_path / "dissolve.mp4", duration=7.0, cut_frames=(30, 150), dissolves=[(80, length)]
    )
    analysis = detect_shots(clip)
    gradual = [c for c in analysis.cuts if c.kind == "gradual"]

    assert_cuts_match(shot_frames(analysis), (30, 150))
    assert len(gradual) == 1
    assert abs(gradual[0].frame - (80 + length / 2)) <= max(2, length // 4)


def test_flashes_inside_a_shot_are_not_cuts(tmp_path):
    clip = make_test_clip(
        tmp_path / "flash.mp4", duration=6.0, cut_frames=(50, 100), flashes=(30, 75, 76, 120)
    )
    assert_cuts_match(shot_frames(detect_shots(clip)), (50, 100))


def test_dark_low_contrast_cuts_are_found(tmp_path):
    clip = make_test_clip(
        tmp_path / "dark.mp4", duration=6.0, cut_frames=(40, 90, 120), brightness=0.15
    )
    assert_cuts_match(shot_frames(detect_shots(clip)), (40, 90, 120))


def test_pulldown_duplicates_do_not_make_cuts(tmp_path):
    clip = make_test_clip(
        tmp_path / "pulldown.mp4",
        rate=Fraction(30000, 1001),
        duration=6.0,
        cut_frames=(50, 101),
        hold_every=5,
    )
    assert_cuts_match(shot_frames(detect_shots(clip)), (50, 101))


def test_bad_inputs_are_media_errors(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00not a video at all" * 100)
    with pytest.raises(MediaError, match="not found"):
        detect_shots(tmp_path / "missing.mp4")
    with pytest.raises(MediaError, match="not a readable media file"):
        detect_shots(fake)
    clip = make_test_clip(tmp_path / "short.mp4", duration=1.0, size=(64, 36))
    with pytest.raises(MediaError, match="no frames"):
        detect_shots(clip, start=3.0)
    with pytest.raises(InputError):
        detect_shots(clip, duration=0.0)


# --- merging with edit points -------------------------------------------------------------


def cut(frame: int, kind: str = "shot", rate: float = 25.0) -> Cut:
    return Cut(time=frame / rate, frame=frame, kind=kind, score=1.0)


def test_merge_prefers_the_edit_point_within_tolerance():
    edits = [cut(100, "edit"), cut(200, "edit")]
    shots = [cut(50), cut(101), cut(150, "gradual"), cut(198)]
    merged = merge_cuts(edits, shots, tolerance_frames=1)

    assert [(c.frame, c.kind) for c in merged] == [
        (50, "shot"),
        (100, "edit"),
        (150, "gradual"),
        (198, "shot"),
        (200, "edit"),
    ]


def test_merge_keeps_each_edit_point_kind_and_handles_empty_lists():
    assert merge_cuts([], []) == []
    merged = merge_cuts([cut(10, "edit"), cut(40, "gradual")], [cut(41)])
    assert [(c.frame, c.kind) for c in merged] == [(10, "edit"), (40, "gradual")]
    assert [c.frame for c in merge_cuts([], [cut(3), cut(1)])] == [1, 3]


def test_ten_bit_video_goes_through_the_converting_path(tmp_path):
    """Pixel formats other than 8-bit planar YUV are converted to thumbnails by swscale."""
    import av

    from gvmgen.media.synth import shots_frame

    path = tmp_path / "ten_bit.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 54, "yuv420p10le"
        for index in range(80):
            picture = shots_frame(index, 96, 54, cut_frames=(30, 55))
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    assert_cuts_match(shot_frames(detect_shots(path)), (30, 55))


def _cut_short(clip: Path, fraction: float = 0.5) -> Path:
    """A copy of `clip` holding only its first `fraction` of bytes (a copy that stopped)."""
    data = clip.read_bytes()
    short = clip.with_name("short_" + clip.name)
    short.write_bytes(data[: int(len(data) * fraction)])
    return short


def test_a_truncated_faststart_mp4_is_refused_not_scored_short(tmp_path):
    from gvmgen.media.cuts import frame_differences
    from gvmgen.media.video import probe

    whole = make_test_clip(tmp_path / "fs.mp4", duration=12.0, cut_frames=(53, 262), faststart=True)
    short = _cut_short(whole)
    assert probe(short).duration == pytest.approx(12.0)  # the index still promises 12 s
    with pytest.raises(MediaError, match=r"truncated or damaged: frames decode only up to"):
        detect_shots(short)
    assert len(frame_differences(short, 1.0, 2.0).times) == 50  # what is there still reads
    assert len(frame_differences(whole).times) == 300


def test_a_decode_error_mid_file_is_a_media_error(tmp_path):
    whole = make_test_clip(tmp_path / "fs.mp4", duration=12.0, faststart=True)
    data = bytearray(whole.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = b"\xff" * 4000
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(MediaError, match=r"broken\.mp4"):
        detect_shots(broken)
