"""Shared fixtures: synthetic media made on the fly (tests never read ../shared)."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_error_logs(caplog):
    """A test that logged at ERROR failed, even if its assertions passed."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"logged at ERROR: {[r.getMessage() for r in errors]}"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def cut_clip(media_dir) -> tuple[Path, Fraction, tuple[int, ...]]:
    """12 s at 25 fps with hard cuts at awkward frames (>= 2 s apart)."""
    from gvmgen.media.synth import make_test_clip

    rate, cuts = Fraction(25), (53, 121, 190, 262)
    path = make_test_clip(media_dir / "cuts.mp4", rate=rate, duration=12.0, cut_frames=cuts)
    return path, rate, cuts
