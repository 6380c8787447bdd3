"""Fixtures for the GVMGen model tests: tiny random-weight models, an official-layout checkpoint."""

from __future__ import annotations

import pytest
import torch

from gvmgen.model.model import build_debug_model


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="module")
def tiny_model():
    return build_debug_model(seed=0)


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """No real models directory or Hugging Face cache can leak into a test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GVMGEN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "models"
