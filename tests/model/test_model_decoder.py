"""Our cached decoder against transformers' MusicGen on identical weights."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache, EncoderDecoderCache
from transformers import GenerationConfig as HFGenerationConfig

from gvmgen.errors import EngineError
from gvmgen.model.conditioning import cfg_batch
from gvmgen.model.config import GenerationConfig
from gvmgen.model.decoder import CachedDecoder, cache_keyword, sinusoidal_positions
from gvmgen.model.generation import MusicGenerator


def _random_sequence(model, batch=2, frames=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, model.config.lm.card, (batch, 4, frames), generator=g)
    return model.pattern.interleave(codes)  # [B, K, frames + K], special tokens included


def _condition(model, batch=2, frames=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, model.config.lm.hidden_size, generator=g)


@torch.inference_mode()
def test_prefill_equals_transformers_forward(tiny_model):
    sequence, condition = _random_sequence(tiny_model), _condition(tiny_model)
    reference = tiny_model(sequence, condition).logits  # transformers' MusicgenForCausalLM
    decoder = CachedDecoder(tiny_model.lm, batch=2, max_length=sequence.shape[-1])
    decoder.set_condition(condition)
    ours = decoder.logits(sequence, 0)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-4)


@torch.inference_mode()
def test_position_table_is_the_one_transformers_forward_adds(tiny_model):
    """Guards our one reach into transformers internals (`embed_positions.get_embedding`)."""
    decoder = tiny_model.lm.model.decoder
    tokens = torch.zeros(1, 4, 7, dtype=torch.long)
    table = sinusoidal_positions(decoder, 7)
    torch.testing.assert_close(decoder.embed_positions(tokens), table[:7])


def test_a_release_without_the_position_table_fails_loudly(tiny_model, monkeypatch):
    decoder = tiny_model.lm.model.decoder
    monkeypatch.delattr(type(decoder.embed_positions), "get_embedding")
    with pytest.raises(EngineError, match=r"get_embedding.*make setup"):
        CachedDecoder(tiny_model.lm, batch=1, max_length=4)


@torch.inference_mode()
def test_cached_steps_equal_full_recompute_at_every_step(tiny_model):
    sequence, condition = _random_sequence(tiny_model, frames=10), _condition(tiny_model)
    decoder = CachedDecoder(tiny_model.lm, batch=2, max_length=sequence.shape[-1])
    decoder.set_condition(condition)
    prompt = 3
    decoder.logits(sequence[..., :prompt], 0)  # prefill, then one position at a time
    for position in range(prompt, sequence.shape[-1]):
        step = decoder.logits(sequence[..., position : position + 1], position)[:, :, -1]
        full = tiny_model(sequence[..., : position + 1], condition).logits[:, :, -1]
        torch.testing.assert_close(step, full, atol=1e-5, rtol=1e-4)


@torch.inference_mode()
def test_fused_weights_stay_shared_with_the_transformers_parameters(tiny_model):
    decoder = CachedDecoder(tiny_model.lm, batch=1, max_length=4)
    q_proj = tiny_model.lm.model.decoder.layers[0].self_attn.q_proj.weight
    assert q_proj.untyped_storage().data_ptr() == decoder.layers[0].qkv.untyped_storage().data_ptr()
    assert decoder.heads.untyped_storage().data_ptr() == (
        tiny_model.lm.lm_heads[0].weight.untyped_storage().data_ptr()
    )
    again = CachedDecoder(tiny_model.lm, batch=1, max_length=4)  # next window: no new copy
    assert again.layers[0].qkv.data_ptr() == decoder.layers[0].qkv.data_ptr()
    assert torch.equal(again.heads, decoder.heads)


@torch.inference_mode()
def test_greedy_cfg_generation_equals_transformers_generate(tiny_model):
    """Delay pattern, CFG rows and step order match transformers' own `generate`."""
    frames, cfg = 9, 3.0
    tokens = _condition(tiny_model, batch=1, frames=4)[0]
    generator = MusicGenerator(tiny_model, GenerationConfig(use_sampling=False, cfg_coef=cfg))
    times = torch.arange(4.0) * 0.04  # all inside the 0.18 s being generated
    ours = generator.generate_codes(tokens, times, frames, seeds=[0])

    card = tiny_model.config.lm.card
    hf_config = HFGenerationConfig(
        do_sample=False,
        guidance_scale=cfg,
        max_new_tokens=frames + 3,
        pad_token_id=card,
        bos_token_id=card,
        decoder_start_token_id=card,
        num_return_sequences=1,
        use_cache=True,
    )
    # Two traps of transformers 5.23's MusicgenForCausalLM.generate, avoided explicitly: with
    # pad == bos it derives an all-zero attention mask (the BOS step attends to nothing), and
    # its default DynamicCache appends the cross-attention K/V beside the self-attention ones.
    theirs = tiny_model.lm.generate(
        input_ids=torch.full((4, 1), card),
        attention_mask=torch.ones(4, 1, dtype=torch.long),
        encoder_hidden_states=cfg_batch(tokens, 1),
        generation_config=hf_config,
        **{cache_keyword(tiny_model.lm): EncoderDecoderCache(DynamicCache(), DynamicCache())},
    )
    assert theirs.shape == ours.shape == (1, 4, frames)
    assert torch.equal(ours, theirs)


@torch.inference_mode()
def test_absorbed_cfg_cross_attention_equals_the_projected_one(tiny_model):
    """Folding q/out projections into the frame K/V changes no logit; null rows stay null."""
    tokens = _condition(tiny_model, batch=1, frames=3)[0]  # 4 heads × 3 frames < width 32
    sequence = _random_sequence(tiny_model, batch=4, frames=5)
    projected = CachedDecoder(tiny_model.lm, batch=4, max_length=sequence.shape[-1])
    projected.set_condition(cfg_batch(tokens, 2))
    absorbed = CachedDecoder(tiny_model.lm, batch=4, max_length=sequence.shape[-1])
    absorbed.set_cfg_condition(tokens)
    assert absorbed.absorbed and not projected.absorbed
    for decoder in (projected, absorbed):
        decoder.logits(sequence[..., :3], 0)
    for position in range(3, sequence.shape[-1]):
        step = sequence[..., position : position + 1]
        expected = projected.logits(step, position)
        torch.testing.assert_close(absorbed.logits(step, position), expected, atol=1e-5, rtol=1e-4)
    many = CachedDecoder(tiny_model.lm, batch=2, max_length=4)
    many.set_cfg_condition(torch.randn(9, 32))  # 4 heads × 9 frames ≥ width: no gain, no folding
    assert not many.absorbed and many.cross_keys[0].shape == (2, 4, 9, 8)
