"""Generation: shapes end to end, CFG, sampling, seeds, progress, cancellation."""

from __future__ import annotations

import threading

import pytest
import torch

from gvmgen.errors import Cancelled
from gvmgen.model.conditioning import apply_cfg_dropout, cfg_batch, cfg_dropout_mask
from gvmgen.model.config import GenerationConfig
from gvmgen.model.decoder import CachedDecoder
from gvmgen.model.generation import MusicGenerator
from gvmgen.model.sampling import filtered_probs, guided_logits, make_generators, sample

SHORT = GenerationConfig(window_seconds=30.0, prompt_seconds=10.0)


def _frames(n=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.arange(float(n)) * 0.1


@torch.inference_mode()
def test_shapes_end_to_end(tiny_model):
    pixels, times = _frames()
    generator = MusicGenerator(tiny_model, SHORT)
    tokens = generator.encode_frames(pixels)
    assert tiny_model.visual.image_tokens(pixels).shape == (3, 17, 32)  # CLS + 4×4 patches
    assert tokens.shape == (3, tiny_model.config.lm.hidden_size)
    codes = generator.generate_codes(tokens, times, 13, seeds=[1, 2])
    assert codes.shape == (2, 4, 13)
    assert int(codes.min()) >= 0 and int(codes.max()) < tiny_model.config.lm.card
    audio = generator.generate(pixels, times, duration=0.3, seeds=[5])
    assert audio.shape == (1, 1, 9600) and audio.dtype == torch.float32
    assert audio.abs().max() <= 1.0


@torch.inference_mode()
def test_same_seed_same_tokens_other_seed_other_tokens(tiny_model):
    pixels, times = _frames()
    generator = MusicGenerator(tiny_model, SHORT)
    tokens = generator.encode_frames(pixels)
    first = generator.generate_codes(tokens, times, 12, seeds=[7, 8])
    again = generator.generate_codes(tokens, times, 12, seeds=[7, 8])
    assert torch.equal(first, again)
    assert not torch.equal(first[0], first[1])


def test_cfg_combines_conditional_and_null_rows():
    conditional = torch.tensor([[1.0, 2.0, 3.0]])
    null = torch.tensor([[0.5, 2.0, -1.0]])
    guided = guided_logits(torch.cat([conditional, null]), 3.0)
    torch.testing.assert_close(guided, null + 3.0 * (conditional - null))
    torch.testing.assert_close(guided_logits(torch.cat([conditional, null]), 1.0), conditional)


@torch.inference_mode()
def test_null_condition_rows_are_unconditional(tiny_model):
    """All-zero frame tokens give exactly the LM without cross-attention (no biases)."""
    tokens = torch.randn(4, tiny_model.config.lm.hidden_size)
    condition = cfg_batch(tokens, takes=2)
    assert condition.shape == (4, 4, tiny_model.config.lm.hidden_size)
    assert torch.equal(condition[2:], torch.zeros_like(condition[2:]))
    sequence = tiny_model.pattern.interleave(torch.randint(0, 64, (4, 4, 6)))
    decoder = CachedDecoder(tiny_model.lm, batch=4, max_length=sequence.shape[-1])
    decoder.set_condition(condition)
    with_null = decoder.logits(sequence, 0)
    without = tiny_model.lm(input_ids=sequence.reshape(16, -1)).logits.reshape(4, 4, 10, -1)
    torch.testing.assert_close(with_null[2:], without[2:], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(with_null[:2], without[:2], atol=1e-3)


def test_top_k_keeps_exactly_the_k_most_likely():
    logits = torch.tensor([[[0.0, 5.0, 1.0, 4.0, 2.0, 3.0]]])
    probs = filtered_probs(logits, GenerationConfig(top_k=2))
    assert probs[0, 0].nonzero().flatten().tolist() == [1, 3]
    draws = {
        int(sample(logits, GenerationConfig(top_k=2), make_generators([s], torch.device("cpu"))))
        for s in range(40)
    }
    assert draws == {1, 3}


def test_top_p_keeps_the_smallest_set_over_p():
    logits = torch.log(torch.tensor([[[0.5, 0.3, 0.15, 0.05]]]))
    probs = filtered_probs(logits, GenerationConfig(top_p=0.7))
    assert probs[0, 0].nonzero().flatten().tolist() == [0, 1]


def test_sampling_follows_the_distribution():
    probs = torch.tensor([0.6, 0.3, 0.1])
    logits = probs.log().expand(1, 2000, 3)  # 2000 independent draws in one call
    tokens = sample(logits, GenerationConfig(top_k=0), make_generators([3], torch.device("cpu")))
    freq = torch.bincount(tokens.flatten(), minlength=3).float() / tokens.numel()
    torch.testing.assert_close(freq, probs, atol=0.04, rtol=0)


def test_temperature_sharpens():
    logits = torch.tensor([[[1.0, 2.0]]])
    cold = filtered_probs(logits, GenerationConfig(temperature=0.25, top_k=0))
    warm = filtered_probs(logits, GenerationConfig(temperature=1.0, top_k=0))
    assert cold[0, 0, 1] > warm[0, 0, 1]


@torch.inference_mode()
def test_progress_is_reported_every_step_and_reaches_one(tiny_model):
    pixels, times = _frames()
    seen = []
    MusicGenerator(tiny_model, SHORT).generate(
        pixels, times, 0.2, [0], progress=lambda f, m: seen.append(f)
    )
    assert len(seen) == 10 + 3 + 2  # 10 frames + 3 codebook delays, then EnCodec and done
    assert seen == sorted(seen) and seen[-3] == pytest.approx(0.95) and seen[-1] == 1.0


@torch.inference_mode()
def test_cancel_between_steps_raises_cancelled(tiny_model):
    pixels, times = _frames()
    cancel = threading.Event()
    steps = []

    def progress(fraction, message):
        steps.append(fraction)
        if len(steps) == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        MusicGenerator(tiny_model, SHORT).generate(
            pixels, times, 1.0, [0], progress=progress, cancel=cancel
        )
    assert len(steps) == 3


def test_cfg_dropout_per_batch_or_per_sample():
    g = torch.Generator().manual_seed(0)
    batch_masks = [cfg_dropout_mask(8, 0.5, per_sample=False, generator=g) for _ in range(20)]
    assert all(bool(m.all()) or not bool(m.any()) for m in batch_masks)  # official: all or none
    sample_mask = torch.stack([cfg_dropout_mask(8, 0.5, True, g) for _ in range(20)])
    assert 0 < sample_mask.float().mean() < 1
    assert any(bool(m.any()) and not bool(m.all()) for m in sample_mask)
    condition = torch.ones(2, 3, 4)
    dropped = apply_cfg_dropout(condition, torch.tensor([True, False]))
    assert dropped[0].abs().sum() == 0 and torch.equal(dropped[1], condition[1])


def test_generation_config_validates():
    with pytest.raises(ValueError, match="prompt_seconds"):
        GenerationConfig(window_seconds=10, prompt_seconds=10).validate()
    with pytest.raises(ValueError, match="temperature"):
        GenerationConfig(temperature=0).validate()
