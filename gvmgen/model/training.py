"""The training view of GVMGen: what is trained, and the loss of one batch (teacher forcing).

This sits next to the faithful network (`gvmgen.model.model`) without changing it, as
audiocraft's `compute_predictions` sits next to its `LMModel.forward`:

- **What trains** (official recipe, spec §5): the whole LM, the Q-Former and its music
  queries, CLIP's `ln_post` and `proj`, and `output_proj`. The CLIP backbone and EnCodec stay
  frozen.
- **Loss**: cross-entropy of each codebook on its valid delayed positions, then the mean over
  the codebooks (audiocraft's `compute_cross_entropy`). Per-codebook values come back too.
- **CFG dropout**: rows marked `dropped` get the null condition (all zeros), as at inference.

`GVMGenTrainingModule.forward(batch)` returns the loss, so DDP can wrap the module as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gvmgen.model.conditioning import apply_cfg_dropout
from gvmgen.model.model import GVMGenModel

TRAINED_PREFIXES = (
    "lm.",
    "visual.spatial_cross_attention.",
    "visual.proj",
    "visual.output_proj.",
    "visual.spatial_self_attention.post_layernorm.",  # CLIP's ln_post (transformers 5)
    "visual.spatial_self_attention.vision_model.post_layernorm.",  # (transformers 4)
)


@dataclass
class TrainingBatch:
    """One batch of aligned windows.

    Attributes:
        codes: long `[B, K, T_a]` EnCodec codes (50 Hz) of the windows' music.
        frame_times: float `[B, T]` seconds of each frame from its window's start.
        pixels: float `[B, T, 3, S, S]` CLIP-normalised frames, or None when cached.
        image_tokens: `[B, T, N_tok, D]` cached frozen-CLIP outputs, or None.
        dropped: bool `[B]`, True where CFG dropout replaces the condition with the null one.
    """

    codes: torch.Tensor
    frame_times: torch.Tensor
    pixels: torch.Tensor | None = None
    image_tokens: torch.Tensor | None = None
    dropped: torch.Tensor | None = None

    def to(self, device: torch.device) -> TrainingBatch:
        def move(t):
            return None if t is None else t.to(device, non_blocking=True)

        return TrainingBatch(
            move(self.codes),
            move(self.frame_times),
            move(self.pixels),
            move(self.image_tokens),
            move(self.dropped),
        )


@dataclass
class LossOutput:
    """loss: mean over codebooks (a scalar to backpropagate); per_codebook `[K]` detached."""

    loss: torch.Tensor
    per_codebook: torch.Tensor


def is_trained(name: str) -> bool:
    """Whether the parameter `name` of `GVMGenModel` trains in the official recipe."""
    return name.startswith(TRAINED_PREFIXES)


def set_trainable(model: GVMGenModel) -> list[nn.Parameter]:
    """Freeze and unfreeze as the official recipe does; returns the trained parameters."""
    trained = []
    for name, param in model.named_parameters():
        param.requires_grad_(is_trained(name))
        if param.requires_grad:
            trained.append(param)
    return trained


def codebook_cross_entropy(
    logits: torch.Tensor, sequence: torch.Tensor, num_frames: int
) -> torch.Tensor:
    """Per-codebook mean cross-entropy `[K]` of next-token `logits` `[B, K, S-1, card]` against
    the delayed `sequence` `[B, K, S]`; only the positions that hold a real frame count."""
    k = sequence.shape[1]
    targets = sequence[:, :, 1:]
    positions = torch.arange(1, sequence.shape[-1], device=sequence.device)
    losses = []
    for codebook in range(k):
        # codebook k holds frame f at position 1 + k + f (the delay pattern)
        valid = (positions >= 1 + codebook) & (positions < 1 + codebook + num_frames)
        chosen = logits[:, codebook, valid].float()
        losses.append(
            nn.functional.cross_entropy(
                chosen.reshape(-1, chosen.shape[-1]), targets[:, codebook, valid].reshape(-1)
            )
        )
    return torch.stack(losses)


class GVMGenTrainingModule(nn.Module):
    """Wraps a `GVMGenModel` for training; `forward(batch)` → `LossOutput`."""

    def __init__(self, model: GVMGenModel):
        super().__init__()
        self.model = model

    def condition(self, batch: TrainingBatch) -> torch.Tensor:
        """Frame tokens `[B, T, d_LM]` (CLIP under no_grad: frozen), time option, CFG dropout."""
        visual = self.model.visual
        tokens = batch.image_tokens
        if tokens is None:
            pixels = batch.pixels
            with torch.no_grad():
                tokens = visual.image_tokens(pixels.flatten(0, 1))
        else:
            tokens = tokens.flatten(0, 1)
        frames = visual.frame_tokens(tokens.to(visual.proj.dtype))  # [B·T, d]
        frames = visual.add_time(frames, batch.frame_times.reshape(-1))
        condition = frames.reshape(*batch.frame_times.shape, -1)
        if batch.dropped is not None:
            condition = apply_cfg_dropout(condition, batch.dropped)
        return condition

    def forward(self, batch: TrainingBatch) -> LossOutput:
        pattern = self.model.pattern
        num_frames = batch.codes.shape[-1]
        sequence = pattern.interleave(batch.codes)  # [B, K, T_a + K]
        logits = self.model(sequence[..., :-1], self.condition(batch)).logits
        per_codebook = codebook_cross_entropy(logits, sequence, num_frames)
        return LossOutput(per_codebook.mean(), per_codebook.detach())
