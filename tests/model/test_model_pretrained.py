"""Training init from Hugging Face snapshots: MusicGen's decoder + EnCodec, CLIP's vision tower."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

from gvmgen.errors import WeightsError
from gvmgen.model.config import QFormerConfig
from gvmgen.model.model import debug_config
from gvmgen.model.pretrained import model_from_snapshots


@pytest.fixture(scope="module")
def hf_snapshots(tmp_path_factory):
    """Tiny `facebook/musicgen-small`- and `openai/clip-vit-large-patch14-336`-shaped snapshots."""
    root = tmp_path_factory.mktemp("snapshots")
    torch.manual_seed(0)
    decoder = MusicgenDecoderConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64
    )
    musicgen = MusicgenForConditionalGeneration(
        MusicgenConfig(
            text_encoder=T5Config(
                vocab_size=32, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2
            ).to_dict(),
            audio_encoder=EncodecConfig(**debug_config().codec).to_dict(),
            decoder=decoder.to_dict(),
        )
    ).eval()
    musicgen.save_pretrained(root / "musicgen")
    clip = CLIPModel(
        CLIPConfig(
            text_config={
                "hidden_size": 16,
                "intermediate_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "vocab_size": 50,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 8,
            },
        )
    ).eval()
    clip.save_pretrained(root / "clip")
    return musicgen, clip, root


@torch.inference_mode()
def test_model_from_snapshots_reuses_musicgen_and_clip(hf_snapshots):
    musicgen, clip, root = hf_snapshots
    qformer = QFormerConfig(num_queries=4, num_layers=2, num_heads=2, ffn_dim=48, projection_dim=24)
    model = model_from_snapshots(root / "musicgen", root / "clip", qformer=qformer).eval()
    assert model.config.lm.hidden_size == 32 and model.config.vision.image_size == 32
    pixels = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(
        model.visual.image_tokens(pixels), clip.vision_model(pixel_values=pixels).last_hidden_state
    )
    codes = torch.randint(0, 64, (8, 5))
    condition = torch.randn(2, 3, 32)
    ours = model.lm(input_ids=codes, encoder_hidden_states=condition).logits
    theirs = musicgen.decoder(input_ids=codes, encoder_hidden_states=condition).logits
    torch.testing.assert_close(ours, theirs)
    ours_codebook = model.codec.quantizer.layers[0].codebook.embed
    theirs_codebook = musicgen.audio_encoder.quantizer.layers[0].codebook.embed
    torch.testing.assert_close(ours_codebook, theirs_codebook)
    assert model.visual(pixels).shape == (2, 32)  # fresh Q-Former + projections run


def test_missing_snapshot_is_a_weights_error(isolated_dirs, hf_snapshots):
    with pytest.raises(WeightsError, match="no musicgen snapshot"):
        model_from_snapshots(clip=hf_snapshots[2] / "clip")
    with pytest.raises(WeightsError, match="not a clip snapshot"):
        model_from_snapshots(hf_snapshots[2] / "musicgen", hf_snapshots[2] / "musicgen")
