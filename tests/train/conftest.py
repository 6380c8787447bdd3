"""Fixtures for the training tests: synthetic clips with music, a tiny model, a prepared set.

Everything is tiny and random (the `tiny` preset: debug-sized CLIP, Q-Former, LM and EnCodec);
nothing downloads and nothing reads ../shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gvmgen.media.synth import make_test_clip
from gvmgen.train.prepare import PrepareOptions, prepare
from gvmgen.train.presets import build_training_model

RATE = 48_000


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    # tiny models: a second thread only adds OpenMP barrier waits (10x slower on a busy machine)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def music(seconds: float, pitch: float, pulse: float = 2.0) -> np.ndarray:
    """A pulsed tone `[1, N]` at 48 kHz: a stand-in for music, different per `pitch`."""
    t = np.arange(int(seconds * RATE)) / RATE
    gate = (np.sin(2 * np.pi * pulse * t) > 0).astype(np.float32)
    return (0.3 * np.sin(2 * np.pi * pitch * t) * gate).astype(np.float32)[None]


def clip(path: Path, seconds: float, pitch: float | None, cut: int | None = None) -> Path:
    audio = None if pitch is None else music(seconds, pitch)
    cuts = [] if cut is None else [cut]
    return make_test_clip(path, duration=seconds, cut_frames=cuts, audio=audio, size=(64, 48))


@pytest.fixture(scope="session")
def tiny_model():
    return build_training_model("tiny")


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory) -> Path:
    """Two 2-s clips, each with its own music track."""
    root = tmp_path_factory.mktemp("pairs")
    clip(root / "a.mp4", 2.0, 220.0, cut=25)
    clip(root / "b.mp4", 2.0, 330.0, cut=12)
    return root


@pytest.fixture(scope="session")
def prepared(pairs_dir, tiny_model, tmp_path_factory) -> Path:
    """The two clips prepared into 2-s windows with the tiny model."""
    out = tmp_path_factory.mktemp("data") / "data"
    prepare(pairs_dir, out, tiny_model, PrepareOptions(window_seconds=2.0))
    return out
