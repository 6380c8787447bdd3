"""What the LM cross-attends to: frame tokens per window, the null condition, CFG dropout.

- The **null condition** is all zeros (the official code pushes an all-zero video through CLIP
  and then multiplies the result by 0). Its tokens are known, so CLIP never runs on it; with
  bias-free attention, zero keys and values make the cross-attention output exactly 0.
- **Windows** of a long cue continue from the previous window's last tokens; each sees its own
  frames (`per-window`), or the whole cue's as the official code does (`official`, the
  policy in `GenerationConfig.windows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Window:
    """Codec frames `[start, end)` of one pass; frames before `new_from` come from the prompt."""

    start: int
    end: int
    new_from: int

    @property
    def prompt_frames(self) -> int:
        return self.new_from - self.start

    @property
    def length(self) -> int:
        return self.end - self.start


def plan_windows(total: int, window: int, prompt: int, first_prompt: int = 0) -> list[Window]:
    """Cover codec frames `[0, total)` with windows of at most `window` frames.

    The first window may continue from `first_prompt` frames of given audio (they sit before
    frame 0); each later window continues from the previous window's last `prompt` frames.
    """
    if not 0 <= prompt < window or not 0 <= first_prompt < window:
        raise ValueError(
            f"prompts ({prompt}, {first_prompt}) must be shorter than the window {window}"
        )
    windows = [Window(-first_prompt, min(total, window - first_prompt), 0)]
    while windows[-1].end < total:
        new_from = windows[-1].end
        start = new_from - prompt
        windows.append(Window(start, min(total, start + window), new_from))
    return windows


def frames_in_window(frame_times: torch.Tensor, start_s: float, end_s: float) -> torch.Tensor:
    """Indices of the frames whose time is in `[start_s, end_s)`; the nearest one if none is."""
    inside = ((frame_times >= start_s) & (frame_times < end_s)).nonzero().flatten()
    if len(inside) or not len(frame_times):
        return inside
    middle = (start_s + end_s) / 2
    return (frame_times - middle).abs().argmin().reshape(1)


def cfg_batch(frame_tokens: torch.Tensor, takes: int) -> torch.Tensor:
    """frame tokens `[T, d]` → condition `[2·takes, T, d]`: conditional rows, then null rows."""
    conditional = frame_tokens[None].expand(takes, -1, -1)
    return torch.cat([conditional, torch.zeros_like(conditional)], dim=0)


def cfg_dropout_mask(
    batch: int, probability: float, per_sample: bool, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Training: bool `[batch]`, True where the condition is replaced by the null condition.

    Official: one draw for the whole batch. Improved (`per_sample=True`): one draw per sample.
    """
    draws = torch.rand(batch if per_sample else 1, generator=generator)
    return (draws < probability).expand(batch)


def apply_cfg_dropout(condition: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
    """condition `[B, T, d]` with the dropped rows set to the null condition (zeros)."""
    return condition * (~dropped).to(condition.dtype)[:, None, None]
