"""MusicGen's delay pattern: codebook k runs k steps behind codebook 0.

With K codebooks and T codec frames the LM sequence has T + K positions. Position 0 is all
special tokens (it acts as BOS); codebook k at position s holds frame s - 1 - k, and every
position outside a codebook's frames holds the special token. This is audiocraft's `delay`
pattern with delays [0, 1, ..., K-1] and transformers' MusicGen delay mask alike.
"""

from __future__ import annotations

import torch


class DelayPattern:
    def __init__(self, num_codebooks: int, special_token: int):
        self.num_codebooks = num_codebooks
        self.special_token = special_token

    def sequence_length(self, num_frames: int) -> int:
        return num_frames + self.num_codebooks

    def frames_by_position(self, length: int, device: torch.device) -> torch.Tensor:
        """Frame index each codebook holds at each position `[length, K]` (may be out of
        range), made on `device` once so the decoding loop never copies indices to it."""
        positions = torch.arange(length, device=device)[:, None]
        return positions - 1 - torch.arange(self.num_codebooks, device=device)[None]

    def interleave(self, codes: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
        """codes `[B, K, P]` → sequence `[B, K, T + K]` with frames ≥ P left as special tokens."""
        batch, k, known = codes.shape
        num_frames = known if num_frames is None else num_frames
        sequence = codes.new_full((batch, k, self.sequence_length(num_frames)), self.special_token)
        for codebook in range(k):
            sequence[:, codebook, 1 + codebook : 1 + codebook + known] = codes[:, codebook]
        return sequence

    def deinterleave(self, sequence: torch.Tensor) -> torch.Tensor:
        """sequence `[B, K, T + K]` → codes `[B, K, T]`."""
        num_frames = sequence.shape[-1] - self.num_codebooks
        return torch.stack(
            [sequence[:, k, 1 + k : 1 + k + num_frames] for k in range(self.num_codebooks)],
            dim=1,
        )
