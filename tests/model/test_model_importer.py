"""The official checkpoint layout imports, verifies, and computes what the official network does."""

from __future__ import annotations

import json

import pytest
import torch
from model_official_layout import TINY, V

from gvmgen.errors import WeightsError
from gvmgen.model.importer import import_official
from gvmgen.model.model import debug_config
from gvmgen.model.official import load_official, official_config, remap_official
from gvmgen.model.weights import load_gvmgen, verify


def test_every_checkpoint_key_is_consumed_and_verify_is_ok(official, imported):
    report, out = imported
    state = load_official(official[1]).state
    assert report.unconsumed == []
    assert report.consumed == len(state)
    assert report.verify.ok, report.verify.to_dict()
    assert verify(out).to_dict()["ok"] is True


def test_official_checkpoint_has_the_official_keys(official):
    state = load_official(official[1]).state
    assert V + "clip.visual.qformer.encoder.layer.0.crossattention.in_proj_weight" in state
    assert V + "clip.visual.qformer.encoder.layer.1.crossattention.in_proj_weight" not in state
    assert "transformer.layers.1.cross_attention.in_proj_weight" in state
    assert all(v.dtype == torch.float16 for v in state.values())


def test_dimensions_come_from_tensor_shapes_and_xp_cfg(official):
    loaded = load_official(official[1])
    config = official_config(loaded.state, loaded.xp, debug_config().codec)
    assert (config.vision.image_size, config.vision.patch_size) == (TINY["image"], TINY["patch"])
    assert config.vision.num_heads == TINY["vwidth"] // 64
    assert config.qformer.num_layers == TINY["qlayers"]
    assert config.qformer.cross_attention_frequency == 2
    assert config.lm.num_heads == TINY["heads"]  # only xp.cfg knows this one
    assert (config.lm.card, config.lm.num_codebooks) == (TINY["card"], TINY["n_q"])
    assert config.faithful and not config.time_embeddings


@torch.inference_mode()
def test_imported_model_computes_what_the_official_network_computes(official, imported):
    reference = official[0]
    model, generation = load_gvmgen(imported[1], device="cpu")
    torch.manual_seed(0)
    pixels = torch.randn(3, 3, TINY["image"], TINY["image"])
    reference_tokens = reference.condition(pixels)
    torch.testing.assert_close(model.visual(pixels), reference_tokens, atol=2e-5, rtol=1e-4)
    codes = torch.randint(0, TINY["card"], (2, TINY["n_q"], 7))
    condition = reference_tokens[None].expand(2, -1, -1)
    ours = model(model.pattern.interleave(codes), condition).logits
    theirs = reference(model.pattern.interleave(codes), condition)
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
    assert (generation.cfg_coef, generation.top_k) == (3.0, 250)


@torch.inference_mode()
def test_clip_path_equals_openai_vit_tokens(official, imported):
    """Our spatial self-attention = transformers' CLIPVisionModel last hidden state = OpenAI's."""
    model, _ = load_gvmgen(imported[1], device="cpu")
    pixels = torch.randn(2, 3, TINY["image"], TINY["image"])
    ours = model.visual.image_tokens(pixels)
    hf = model.visual.spatial_self_attention(pixel_values=pixels).last_hidden_state
    openai = official[0].condition_provider.conditioners.visual_content.clip.visual.tokens(pixels)
    assert ours.shape == (2, (TINY["image"] // TINY["patch"]) ** 2 + 1, TINY["vwidth"])
    torch.testing.assert_close(ours, hf)
    torch.testing.assert_close(ours, openai, atol=2e-5, rtol=1e-4)


def test_saved_weights_keep_the_checkpoint_precision(imported):
    from safetensors import safe_open

    with safe_open(str(imported[1] / "model.safetensors"), framework="pt") as handle:
        assert handle.get_tensor("lm.lm_heads.0.weight").dtype == torch.float16
    meta = json.loads((imported[1] / "config.json").read_text())
    assert meta["format"] == "gvmgen" and meta["codec_included"] is True


def test_unknown_checkpoint_key_is_reported_not_dropped(official, tmp_path):
    package = torch.load(official[1], weights_only=True)
    package["best_state"]["transformer.layers.0.extra.weight"] = torch.zeros(2)
    bad = tmp_path / "state_dict.bin"
    torch.save(package, bad)
    assert remap_official(package["best_state"]).unconsumed == ["transformer.layers.0.extra.weight"]
    with pytest.raises(WeightsError, match="no place in the model"):
        import_official(bad, tmp_path / "out", codec_dir=official[2])


def test_not_a_checkpoint_is_a_weights_error(tmp_path):
    torch.save({"something": torch.zeros(1)}, tmp_path / "x.bin")
    with pytest.raises(WeightsError, match="best_state"):
        load_official(tmp_path / "x.bin")
    with pytest.raises(WeightsError, match="not found"):
        load_official(tmp_path / "missing.bin")


def test_verify_reports_missing_and_mismatched_tensors(imported, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(imported[1] / "model.safetensors"))
    del state["lm.lm_heads.1.weight"]
    state["visual.proj"] = torch.zeros(3, 3)
    state["extra"] = torch.zeros(1)
    (tmp_path / "config.json").write_text((imported[1] / "config.json").read_text())
    save_file(state, str(tmp_path / "model.safetensors"))
    report = verify(tmp_path).to_dict()
    assert report["ok"] is False
    assert report["missing"] == ["lm.lm_heads.1.weight"]
    assert report["unexpected"] == ["extra"]
    assert [m["key"] for m in report["mismatched"]] == ["visual.proj"]
    with pytest.raises(WeightsError, match="fails verification"):
        load_gvmgen(tmp_path, device="cpu")


def test_full_size_official_layout_maps_onto_the_full_size_model():
    """On the meta device: the real checkpoint's 707 keys fill GVMGen-small exactly."""
    from model_official_layout import OfficialLMModel

    from gvmgen.model.config import GVMGenConfig
    from gvmgen.model.weights import CODEC_PREFIX, expected_shapes

    sizes = {
        "image": 336, "patch": 14, "vwidth": 1024, "vlayers": 24, "vheads": 16, "queries": 16,
        "qlayers": 6, "qffn": 2048, "proj": 768, "dim": 1024, "heads": 16, "ffn": 4096,
        "layers": 24, "n_q": 4, "card": 2048,
    }  # fmt: skip
    with torch.device("meta"):
        state = OfficialLMModel(sizes).state_dict()
    assert len(state) == 707  # the count the spec derives for "small"
    config = official_config(state, {})
    assert config == GVMGenConfig()  # ViT-L/14@336, Q-Former 6×16, MusicGen-small, EnCodec 32k
    remapped = remap_official(state)
    assert remapped.unconsumed == []
    ours = {k: tuple(v.shape) for k, v in remapped.state.items()}
    expected = {k: v for k, v in expected_shapes(config).items() if not k.startswith(CODEC_PREFIX)}
    assert ours == expected
