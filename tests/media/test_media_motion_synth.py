"""The motion curve, and the synthetic clips other tests rely on."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from gvmgen.errors import InputError
from gvmgen.media.motion import motion_curve, resample_curve
from gvmgen.media.synth import (
    counter_frame,
    make_test_clip,
    read_counter,
    scene_frame,
    shots_frame,
)
from gvmgen.media.video import probe


def test_motion_curve_per_frame_and_resampled(tmp_path):
    clip = make_test_clip(tmp_path / "pan.mp4", duration=4.0, kind="pan")
    times, energy = motion_curve(clip)
    assert times.shape == energy.shape == (100,)
    assert times[1] == pytest.approx(0.04)
    assert energy[0] == 0.0 and energy[1:].min() > 0.0  # a pan moves on every frame

    binned_times, binned = motion_curve(clip, fps=2.0)
    assert binned_times.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert binned[3] == pytest.approx(energy[38:50].mean(), rel=1e-5)  # 1.52 s … 1.96 s


def test_a_repeated_picture_has_no_motion(tmp_path):
    clip = make_test_clip(tmp_path / "held.mp4", duration=1.0, kind="pan", hold_every=2)
    _, energy = motion_curve(clip, start=0.2, duration=0.4)  # frames 5 … 14
    assert energy[2::2].max() < 0.002  # frames 7, 9, … repeat the frame before
    assert energy[1::2].min() > 0.005


def test_resample_curve_averages_bins_and_fills_gaps():
    times = np.array([0.0, 0.1, 0.2, 0.6, 0.7])
    values = np.array([1.0, 3.0, 5.0, 7.0, 9.0], np.float32)
    bins, out = resample_curve(times, values, fps=4.0)
    assert bins.tolist() == [0.0, 0.25, 0.5, 0.75][: len(out)]
    assert out.tolist() == [3.0, 3.0, 8.0]  # the empty bin repeats the one before
    with pytest.raises(InputError):
        resample_curve(times, values, fps=0.0)
    _, holes = resample_curve(np.array([0.0, 1.0]), np.array([1.0, 2.0]), fps=4.0)
    assert holes.tolist() == [1.0, 1.0, 1.0, 1.0, 2.0]


def test_counter_pattern_round_trips_at_any_size():
    for index in (0, 1, 2, 1000, 17981, 65535):
        assert read_counter(counter_frame(index, 32, 32)) == index
        assert read_counter(counter_frame(index, 50, 21)) == index


def test_successive_scenes_look_different_and_move_within_a_shot():
    a0, a1 = scene_frame(0, 0, 160, 90), scene_frame(0, 10, 160, 90)
    b0 = scene_frame(1, 0, 160, 90)
    within = np.abs(a0.astype(int) - a1).mean()
    across = np.abs(a0.astype(int) - b0).mean()
    assert 0 < within < across / 4


def test_dissolve_frames_blend_the_two_shots():
    before = shots_frame(9, 64, 36, dissolves=[(10, 4)])
    middle = shots_frame(12, 64, 36, dissolves=[(10, 4)])  # 3/5 of the way
    after = shots_frame(14, 64, 36, dissolves=[(10, 4)])
    mix = 0.4 * scene_frame(0, 12, 64, 36) + 0.6 * scene_frame(1, 12, 64, 36)
    assert np.abs(middle - mix).max() <= 1
    assert np.array_equal(before, scene_frame(0, 9, 64, 36))
    assert np.array_equal(after, scene_frame(1, 14, 64, 36))


def test_clip_with_audio_track(tmp_path):
    from gvmgen.media.audio import load_audio

    tone = 0.2 * np.sin(2 * np.pi * 440 * np.arange(48000 * 2) / 48000).astype(np.float32)
    clip = make_test_clip(
        tmp_path / "a.mp4", rate=Fraction(24), duration=2.0, audio=np.stack([tone, tone])
    )
    audio, rate = load_audio(clip)
    info = probe(clip)
    assert info.has_audio and info.frame_count == 48
    assert rate == 48000 and audio.shape[0] == 2
    assert audio.shape[1] == pytest.approx(96000, abs=2048)  # AAC priming and padding
    assert np.sqrt((audio**2).mean()) == pytest.approx(0.2 / np.sqrt(2), rel=0.1)


def test_write_is_atomic_and_unknown_kinds_are_refused(tmp_path):
    target = tmp_path / "clip.mp4"
    with pytest.raises(InputError, match="unknown test clip kind"):
        make_test_clip(target, kind="zoom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_cuts_does_not_import_motion():
    """motion → cuts, never back: the decode pass and `motion_energy` live in cuts."""
    import ast
    import inspect

    import gvmgen.media.cuts as cuts

    tree = ast.parse(inspect.getsource(cuts))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "gvmgen.media.motion" not in imported
