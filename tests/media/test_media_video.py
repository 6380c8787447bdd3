"""Frame sampling by presentation timestamp, probing, errors, CLIP preprocessing."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from gvmgen.errors import InputError, MediaError
from gvmgen.media.synth import counter_frame, make_test_clip, read_counter
from gvmgen.media.video import (
    CLIP_MEAN,
    CLIP_STD,
    clip_geometry,
    clip_preprocess,
    probe,
    rotate_to_display,
    sample_frames,
)

NTSC_FILM = Fraction(24000, 1001)
NTSC_VIDEO = Fraction(30000, 1001)


def expected_frames(rate: Fraction, instants: np.ndarray) -> np.ndarray:
    """Index of the frame whose timestamp is nearest to each instant (CFR from 0)."""
    return np.round(instants * float(rate)).astype(int)


# --- sampling accuracy --------------------------------------------------------------------


@pytest.mark.parametrize("rate", [NTSC_VIDEO, NTSC_FILM], ids=["29.97", "23.976"])
def test_one_fps_over_ten_minutes_does_not_drift(long_counter_clips, rate):
    sampled = sample_frames(long_counter_clips[rate], fps=1.0)
    instants = np.arange(600.0)
    half_frame = 0.5 / float(rate)

    assert len(sampled.times) == 600
    assert np.abs(sampled.times - instants).max() <= half_frame + 1e-6
    shown = [read_counter(frame) for frame in sampled.frames]
    assert shown == list(expected_frames(rate, instants))


@pytest.mark.parametrize("rate", [NTSC_VIDEO, NTSC_FILM], ids=["29.97", "23.976"])
def test_range_deep_in_the_file_seeks_and_picks_the_right_frames(long_counter_clips, rate):
    start = 431.37  # far from the top and not on a frame boundary
    sampled = sample_frames(long_counter_clips[rate], start=start, duration=4.0, fps=2.5)
    instants = start + np.arange(10) / 2.5

    assert np.abs(sampled.times - (instants - start)).max() <= 0.5 / float(rate) + 1e-6
    assert [read_counter(f) for f in sampled.frames] == list(expected_frames(rate, instants))


def test_every_frame_at_the_native_rate_is_returned_once(tmp_path):
    clip = make_test_clip(tmp_path / "c.mp4", rate=25, duration=2.0, kind="counter", size=(32, 32))
    sampled = sample_frames(clip, fps=25.0)
    assert [read_counter(f) for f in sampled.frames] == list(range(50))


def test_short_side_scales_in_display_orientation(tmp_path):
    clip = make_test_clip(tmp_path / "c.mp4", duration=1.0, kind="counter", size=(160, 96))
    sampled = sample_frames(clip, fps=5.0, short_side=48)
    assert sampled.frames.shape == (5, 48, 80, 3)
    assert sampled.frames.dtype == np.uint8
    assert [read_counter(f) for f in sampled.frames] == [0, 5, 10, 15, 20]


def test_container_start_offset_is_time_zero(tmp_path):
    clip = make_test_clip(
        tmp_path / "c.mp4", duration=2.0, kind="counter", size=(32, 32), start_time=10.0
    )
    info = probe(clip)
    sampled = sample_frames(clip, start=1.0, duration=1.0, fps=2.0)

    assert info.start_time == pytest.approx(10.0)
    # 1.5 s falls half-way between frames 37 and 38: the one on screen at 1.5 s is 37
    assert sampled.times == pytest.approx([0.0, 0.48])
    assert [read_counter(f) for f in sampled.frames] == [25, 37]


def test_variable_frame_rate_uses_timestamps_not_frame_counts(tmp_path):
    """Frames at irregular times: each instant gets the frame on screen then."""
    path = tmp_path / "vfr.mkv"
    times_ms = [0, 40, 80, 320, 360, 920, 960, 1000, 1520, 2000]  # gaps, on a 40 ms grid
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for index, ms in enumerate(times_ms):
            frame = av.VideoFrame.from_ndarray(counter_frame(index, 32, 32), format="rgb24")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())

    sampled = sample_frames(path, fps=4.0, duration=2.0)
    # the last frame at or before each instant (+ half a nominal 25 fps frame)
    assert [read_counter(f) for f in sampled.frames] == [0, 2, 4, 4, 7, 7, 8, 8]
    assert sampled.times[3] == pytest.approx(0.36)


def test_rotation_metadata_turns_frames_upright(tmp_path):
    clip = make_test_clip(
        tmp_path / "r.mp4", duration=1.0, kind="counter", size=(64, 32), rotation=90
    )
    info = probe(clip)
    sampled = sample_frames(clip, fps=5.0)

    assert (info.rotation, info.width, info.height) == (90, 32, 64)
    assert sampled.frames.shape[1:] == (64, 32, 3)
    # turning the displayed picture back clockwise gives the stored one
    assert [read_counter(np.rot90(f, k=-1)) for f in sampled.frames] == [0, 5, 10, 15, 20]


def test_rotate_to_display_turns_counter_clockwise():
    picture = np.arange(6).reshape(2, 3, 1)
    assert rotate_to_display(picture, 0) is picture
    assert rotate_to_display(picture, 90)[:, :, 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert rotate_to_display(picture, 180)[0, 0, 0] == 5
    assert rotate_to_display(picture, 270).shape == (3, 2, 1)


def test_odd_size_is_read_at_its_true_size(tmp_path):
    clip = make_test_clip(tmp_path / "odd.mp4", duration=1.0, size=(85, 47), codec="mpeg4")
    info = probe(clip)
    sampled = sample_frames(clip, fps=2.0)
    assert (info.width, info.height) == (85, 47)
    assert sampled.frames.shape == (2, 47, 85, 3)


# --- probe and errors ---------------------------------------------------------------------


def test_probe_reports_rate_duration_and_audio(tmp_path):
    audio = np.zeros((2, 48000 * 2), np.float32)
    clip = make_test_clip(tmp_path / "a.mp4", rate=NTSC_VIDEO, duration=2.0, audio=audio)
    info = probe(clip)
    assert info.rate == NTSC_VIDEO
    assert info.duration == pytest.approx(60 * 1001 / 30000, abs=1e-3)
    assert info.frame_count == 60
    assert (info.width, info.height, info.rotation, info.has_audio) == (160, 90, 0, True)


def test_missing_file_is_a_media_error(tmp_path):
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "nope.mp4")


def test_text_file_named_mp4_is_a_media_error(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError, match="not a readable media file"):
        probe(fake)
    with pytest.raises(MediaError, match="not a readable media file"):
        sample_frames(fake)


def test_audio_only_file_is_a_media_error(tmp_path):
    from gvmgen.media.audio import write_wav

    wav = write_wav(tmp_path / "tone.wav", np.zeros((1, 4800), np.float32), 48000)
    with pytest.raises(MediaError, match="no video track"):
        sample_frames(wav)


def test_range_past_the_end_is_a_media_error(tmp_path):
    clip = make_test_clip(tmp_path / "c.mp4", duration=1.0, kind="counter", size=(32, 32))
    with pytest.raises(MediaError, match="no frames"):
        sample_frames(clip, start=5.0)


@pytest.mark.parametrize("kwargs", [{"fps": 0}, {"start": -1.0}, {"duration": 0.0}])
def test_nonsense_arguments_are_input_errors(tmp_path, kwargs):
    with pytest.raises(InputError):
        sample_frames(tmp_path / "whatever.mp4", **kwargs)


# --- CLIP preprocessing -------------------------------------------------------------------


def test_clip_preprocess_shape_and_normalisation():
    grey = np.full((2, 90, 160, 3), 128, np.uint8)
    out = clip_preprocess(grey)
    assert out.shape == (2, 3, 336, 336) and out.dtype == np.float32
    expected = (128 / 255 - CLIP_MEAN) / CLIP_STD
    assert np.allclose(out.mean(axis=(0, 2, 3)), expected, atol=1e-5)


def test_clip_preprocess_crops_the_centre_of_a_wide_frame():
    frame = np.zeros((100, 300, 3), np.uint8)
    frame[:, 100:200] = 255  # the middle third is white: exactly what the centre crop keeps
    out = clip_preprocess(frame[None], size=50)
    white = (1.0 - CLIP_MEAN) / CLIP_STD
    assert np.allclose(out[0, :, :, 3:-3].mean(axis=(1, 2)), white, atol=0.05)


def test_clip_preprocess_matches_the_reference_processor():
    transformers = pytest.importorskip("transformers")
    processor = transformers.CLIPImageProcessorPil(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}
    )
    frames = np.random.default_rng(0).integers(0, 256, (2, 120, 213, 3), dtype=np.uint8)
    reference = np.asarray(processor(images=list(frames), return_tensors="np")["pixel_values"])
    assert np.abs(clip_preprocess(frames) - reference).max() < 1e-5


def _smooth_frame(height: int, width: int) -> np.ndarray:
    """Gradients and slow waves, never clipped: where bicubic implementations agree."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 128 + 70 * np.sin(x / 5.0 + y / 11.0)
    green = 128 + 60 * np.cos(y / 4.0) * np.sin(x / 9.0)
    blue = 40 + 170 * (x / width) * (y / height)
    return np.stack([red, green, blue], -1).round().astype(np.uint8)


def _lossless_clip(path, frame: np.ndarray, seconds: int = 3):
    """A 1 fps PNG-in-MOV clip: decoding gives back `frame` bit for bit."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=Fraction(1))
        stream.width, stream.height, stream.pix_fmt = frame.shape[1], frame.shape[0], "rgb24"
        for index in range(seconds):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            out.mux(stream.encode(picture))
        out.mux(stream.encode())
    return path


def test_clip_frames_are_the_official_bicubic_resize_and_crop_within_one_level(tmp_path):
    """96×101 → short side 64, long int(64·101/96) = 67, crop from round(1.5) = 2 (a floor
    would start at 1): the official Resize(BICUBIC) + CenterCrop, read through the product's
    frame sampler from a lossless clip."""
    import torch
    from torch.nn import functional as F

    frame = _smooth_frame(96, 101)
    clip = _lossless_clip(tmp_path / "smooth.mov", frame)
    got = sample_frames(clip, fps=1.0, clip_size=64).frames
    assert got.shape == (3, 64, 64, 3)
    pixels = torch.from_numpy(frame).permute(2, 0, 1)[None].double()
    resized = F.interpolate(pixels, size=(64, 67), mode="bicubic", antialias=True)
    reference = resized[0].permute(1, 2, 0).round().clamp(0, 255).numpy()[:, 2:66]
    assert np.abs(got[0].astype(np.float64) - reference).max() <= 1.0  # 1/255
    # what the frames were before (swscale's AREA to short side 64, floored crop): far off
    area = sample_frames(clip, fps=1.0, short_side=64).frames[0][:, 1:65].astype(np.float64)
    assert np.abs(area - reference).max() > 10.0


def test_clip_geometry_crops_as_torchvision_rounding_half_to_even():
    columns = np.tile(np.arange(67, dtype=np.uint8)[None, :, None], (64, 1, 3))
    assert clip_geometry(columns, 64)[0, :, 0].tolist() == list(range(2, 66))  # round(1.5) = 2
    columns = np.tile(np.arange(69, dtype=np.uint8)[None, :, None], (64, 1, 3))
    assert clip_geometry(columns, 64)[0, 0, 0] == 2  # round(2.5) = 2, too
    tall = np.zeros((200, 100, 3), np.uint8)
    assert clip_geometry(tall, 64).shape == (64, 64, 3)  # short side width: 64 × int(128)


def test_clip_preprocess_rejects_wrong_shapes():
    with pytest.raises(InputError, match=r"\[N, H, W, 3\]"):
        clip_preprocess(np.zeros((90, 160, 3), np.uint8))
