"""Classifier-free guidance and token sampling (top-k / top-p / temperature), seeded per take.

Sampling draws one exponential noise tensor per take from that take's own `torch.Generator`
and takes `argmax(p / E)`, which is a draw from `p` (the exponential race) — one fused argmax
for all takes and codebooks instead of a `multinomial` per row, and each take's tokens depend
only on its own seed.
"""

from __future__ import annotations

import torch

from gvmgen.model.config import GenerationConfig


def guided_logits(logits: torch.Tensor, cfg_coef: float) -> torch.Tensor:
    """logits `[2B, ...]` (conditional rows then null rows) → `[B, ...]`: l_u + c·(l_c − l_u)."""
    conditional, null = logits.chunk(2, dim=0)
    return null + cfg_coef * (conditional - null)


def filtered_probs(logits: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    """logits `[..., V]` → probabilities with top-k / top-p applied (not renormalised).

    Top-k keeps every probability ≥ the k-th largest, as the official `sample_top_k`.
    """
    probs = torch.softmax(logits.float() / config.temperature, dim=-1)
    if config.top_p > 0.0:
        return _top_p(probs, config.top_p)
    if 0 < config.top_k < probs.shape[-1]:
        kth = probs.topk(config.top_k, dim=-1).values[..., -1:]
        probs = probs.masked_fill(probs < kth, 0.0)
    return probs


def _top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(before > top_p, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)


def sample(
    logits: torch.Tensor, config: GenerationConfig, generators: list[torch.Generator]
) -> torch.Tensor:
    """logits `[B, K, V]` → tokens `[B, K]`; row b draws from `generators[b]`.

    Greedy (argmax) when `config.use_sampling` is False.
    """
    if not config.use_sampling:
        return logits.argmax(dim=-1)
    probs = filtered_probs(logits, config)
    noise = torch.stack(
        [
            torch.empty(probs.shape[1:], device=probs.device).exponential_(generator=g)
            for g in generators
        ]
    )
    return (probs / noise).argmax(dim=-1)


def make_generators(seeds: list[int], device: torch.device) -> list[torch.Generator]:
    """One generator per take, seeded; on the device so noise never crosses the bus."""
    generators = []
    for seed in seeds:
        generator = torch.Generator(device=device)
        generator.manual_seed(int(seed))
        generators.append(generator)
    return generators
