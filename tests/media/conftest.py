"""Fixtures for the media layer: synthetic clips encoded once per session (never ../shared)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from gvmgen.media.synth import make_test_clip

TEN_MINUTES = 600.0


@pytest.fixture(scope="session")
def media_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media_layer")


@pytest.fixture(scope="session")
def long_counter_clips(media_tmp) -> dict[Fraction, Path]:
    """Ten minutes at 29.97 and 23.976 fps, each frame showing its own index (tiny pictures)."""
    return {
        rate: make_test_clip(
            media_tmp / f"counter_{float(rate):.3f}.mp4",
            rate=rate,
            duration=TEN_MINUTES,
            kind="counter",
            size=(32, 32),
        )
        for rate in (Fraction(30000, 1001), Fraction(24000, 1001))
    }
