"""Fixtures for the GVMGen model tests: tiny random-weight models, an official-layout checkpoint."""

from __future__ import annotations

import pytest
import torch
from model_official_layout import as_fp16_weights, build_official, save_official_checkpoint
from transformers import EncodecConfig, EncodecModel

from gvmgen.model.importer import import_official
from gvmgen.model.model import build_debug_model, debug_config


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


@pytest.fixture(scope="session")
def official(tmp_path_factory):
    """(reference model with fp16-rounded weights, checkpoint path, codec snapshot dir)."""
    root = tmp_path_factory.mktemp("official")
    model = build_official(seed=3)
    checkpoint = root / "state_dict.bin"
    save_official_checkpoint(model, checkpoint)
    torch.manual_seed(4)
    codec = EncodecModel(EncodecConfig(**debug_config().codec))
    codec.save_pretrained(root / "encodec")
    return as_fp16_weights(model), checkpoint, root / "encodec"


@pytest.fixture(scope="session")
def imported(official, tmp_path_factory):
    _, checkpoint, codec_dir = official
    out = tmp_path_factory.mktemp("imported") / "gvmgen"
    report = import_official(checkpoint, out, codec_dir=codec_dir)
    return report, out
