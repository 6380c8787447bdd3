"""`train run`: a tiny GVMGen overfits, resumes exactly, freezes the official parts, and its
result loads where `gvmgen score --engine gvmgen` loads weights."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from gvmgen.errors import InputError
from gvmgen.model.model import build_debug_model
from gvmgen.train.prepare import PrepareOptions, prepare
from gvmgen.train.presets import preset_settings
from gvmgen.train.trainer import train


def _losses(run_dir) -> list[float]:
    return [
        json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()
    ]


@pytest.fixture(scope="module")
def overfit_run(prepared, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "run"
    summary = train(prepared, run_dir, preset_settings("tiny", steps=150))
    return run_dir, summary


def test_tiny_gvmgen_overfits_two_pairs(overfit_run):
    run_dir, summary = overfit_run
    losses = _losses(run_dir)
    assert summary["finished"] and len(losses) == 150
    assert sum(losses[-5:]) / 5 <= 0.5 * losses[0]
    row = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == 150 and len(row["loss_per_codebook"]) == 4


def test_result_loads_as_installed_weights_for_score(overfit_run, tiny_model):
    from gvmgen.engines.gvmgen_engine import GVMGenEngine
    from gvmgen.model.weights import verify

    run_dir, summary = overfit_run
    assert verify(summary["model"]).ok
    engine = GVMGenEngine.from_installed(models_dir=run_dir, device="cpu")
    trained = engine.generator.model.state_dict()
    start = tiny_model.state_dict()
    # trained as the official recipe: LM, Q-Former, ln_post, proj; frozen: CLIP backbone, EnCodec
    changed = {k for k in start if not torch.equal(start[k], trained[k])}
    assert any(k.startswith("lm.") for k in changed)
    assert any(k.startswith("visual.spatial_cross_attention.") for k in changed)
    assert "visual.proj" in changed
    assert not any(k.startswith("codec.") for k in changed)
    backbone = {k for k in changed if k.startswith("visual.spatial_self_attention.")}
    assert backbone == {  # of the CLIP tower only ln_post trains
        "visual.spatial_self_attention.post_layernorm.weight",
        "visual.spatial_self_attention.post_layernorm.bias",
    }


def test_resume_from_a_mid_run_checkpoint_repeats_the_loss_curve(prepared, tmp_path):
    settings = preset_settings("tiny", steps=12, checkpoint_every=6, ema_decay=0.9, ema_every=2)
    train(prepared, tmp_path / "straight", settings)
    train(prepared, tmp_path / "resumed", settings, stop_after=6)  # as if killed after step 6
    assert len(_losses(tmp_path / "resumed")) == 6
    summary = train(prepared, tmp_path / "resumed", settings)
    assert summary["resumed_from"] == 6
    assert _losses(tmp_path / "resumed") == pytest.approx(_losses(tmp_path / "straight"), rel=1e-6)
    straight = torch.load(tmp_path / "straight/checkpoints/step-0000012.pt", weights_only=False)
    resumed = torch.load(tmp_path / "resumed/checkpoints/step-0000012.pt", weights_only=False)
    for name, value in straight["ema"].items():
        torch.testing.assert_close(resumed["ema"][name], value)


def test_changed_settings_or_finished_run_are_refused(prepared, tmp_path):
    settings = preset_settings("tiny", steps=4, checkpoint_every=2)
    train(prepared, tmp_path / "run", settings, stop_after=2)
    with pytest.raises(InputError, match=r"other settings .*lr"):
        train(prepared, tmp_path / "run", preset_settings("tiny", steps=4, lr=1e-4))
    train(prepared, tmp_path / "run", settings)
    with pytest.raises(InputError, match="finished run"):
        train(prepared, tmp_path / "run", settings)


def test_dataset_from_another_encodec_is_refused(pairs_dir, tmp_path):
    other = build_debug_model(seed=1)
    prepare(pairs_dir, tmp_path / "data", other, PrepareOptions(2.0))
    with pytest.raises(InputError, match="prepared with another model"):
        train(tmp_path / "data", tmp_path / "run", preset_settings("tiny", steps=2))
    shutil.rmtree(tmp_path / "data")


def test_cached_clip_outputs_train_like_pixels(pairs_dir, prepared, tmp_path):
    from gvmgen.train.presets import build_training_model

    cached = tmp_path / "cached"
    prepare(pairs_dir, cached, build_training_model("tiny"), PrepareOptions(2.0, cache_clip=True))
    settings = preset_settings("tiny", steps=3)
    train(prepared, tmp_path / "pixels-run", settings)
    train(cached, tmp_path / "cached-run", settings)
    # the cache is fp16: the same numbers up to its rounding
    assert _losses(tmp_path / "cached-run") == pytest.approx(
        _losses(tmp_path / "pixels-run"), rel=1e-2
    )


def test_bf16_autocast_trains_and_fp16_without_a_gpu_is_refused(prepared, tmp_path):
    train(prepared, tmp_path / "bf16", preset_settings("tiny", steps=2, precision="bf16"))
    assert all(math.isfinite(x) for x in _losses(tmp_path / "bf16"))
    with pytest.raises(InputError, match="fp16 needs a GPU"):
        train(prepared, tmp_path / "fp16", preset_settings("tiny", steps=2, precision="fp16"))
