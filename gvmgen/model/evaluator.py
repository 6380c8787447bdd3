"""GVMGen's evaluation model (spec §8): does this music fit this picture, second by second?

Inputs are per-second features of a window of `steps` seconds: video `[B, T, D_v]` (CLIP's
class token per frame) and music `[B, T, D_m]` (EnCodec latents averaged per second). Both are
projected to `hidden` and pass through `num_layers` shared cross blocks; per block one
attention module is used twice (the official quirk, kept):

    v_a, A = MHA(q=LN1 v, k=LN3 m, v=LN3 m)      video reads music; A `[B, T, T]`
    m_a    = MHA(q=LN1 v, k=LN3 m, v=LN1 v)      (video queries and values)
    v += v_a; m += m_a; v += MLP(LN2 v); m += MLP2(LN4 m)

Two architectures, chosen by `EvaluatorConfig.architecture`:

- `faithful`: as the official code: the MLP has **no activation** (Linear → Dropout → Linear,
  so each MLP is linear) and there is **no positional encoding** (frame order is invisible).
  Both models use the cross block above. Its flaw: the music stream's values are the video
  (`m_a`), so both embeddings of a window carry that window's picture and InfoNCE can be met
  without listening to the music at all: a shuffled pair scores as well as a matched one.
- `fixed` (default): QuickGELU in the MLP (the official file defines it and never uses it).
  The contrastive model gets sinusoidal positional encodings (also defined, unused) and
  computes each embedding from its own modality only (two towers sharing the block weights:
  `x += MHA(LN x, LN x, LN x)`), so a retrieval score compares picture with music and nothing
  leaks across a pair. The attention model keeps the cross block without positional encoding:
  with positions the TA objective (`diag(A) → 1` on matched pairs) is met by position alone
  and TA would stop depending on the content.

Heads: a learnt time pooling (`Linear(T → 1)`) gives one embedding per side; logits are
`exp(s) · V Mᵀ` without L2 normalisation (as coded). The contrastive model is trained with the
symmetric InfoNCE loss (→ CMR); the attention model with `MSE(diag(A), 1)` on matched pairs
(→ TA). As in the official release these are two separately trained models.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

ARCHITECTURES = ("faithful", "fixed")
OBJECTIVES = ("contrastive", "attention")


@dataclass
class EvaluatorConfig:
    """Shapes of the evaluation model; defaults are the official ones (D_v 768, D_m 128)."""

    video_dim: int = 768
    music_dim: int = 128
    hidden: int = 512
    num_heads: int = 4
    num_layers: int = 4
    steps: int = 30  # seconds per window (one feature per second)
    mlp_dropout: float = 0.45
    architecture: str = "fixed"

    def validate(self) -> None:
        for name in ("video_dim", "music_dim", "hidden", "num_heads", "num_layers", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"evaluator {name} must be >= 1, got {getattr(self, name)}")
        if self.hidden % self.num_heads:
            raise ValueError(f"evaluator hidden {self.hidden} not divisible by {self.num_heads}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"evaluator architecture must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EvaluatorOutput:
    """video / music embeddings `[B, hidden]`, last block's attention `[B, T, T]`, scale s."""

    video: torch.Tensor
    music: torch.Tensor
    attention: torch.Tensor
    logit_scale: torch.Tensor

    def logits(self) -> torch.Tensor:
        """`[B, B]` video-to-music similarity: exp(s) · V Mᵀ."""
        return self.logit_scale.exp() * self.video @ self.music.T


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def evaluator_mlp(width: int, dropout: float, activation: bool) -> nn.Sequential:
    middle = [QuickGELU()] if activation else []
    return nn.Sequential(
        nn.Linear(width, 2 * width), *middle, nn.Dropout(dropout), nn.Linear(2 * width, width)
    )


def positional_encoding(steps: int, width: int) -> torch.Tensor:
    """`[steps, width]` sinusoids (Vaswani et al.), interleaved sin / cos."""
    position = torch.arange(steps, dtype=torch.float32)[:, None]
    rates = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(1e4) / width))
    table = torch.zeros(steps, width)
    table[:, 0::2] = torch.sin(position * rates)
    table[:, 1::2] = torch.cos(position * rates[: width // 2])
    return table


class CrossBlock(nn.Module):
    """One shared block; `towers=True` is the fixed contrastive variant (no cross reading)."""

    def __init__(self, config: EvaluatorConfig, towers: bool):
        super().__init__()
        width, activation = config.hidden, config.architecture == "fixed"
        self.towers = towers
        self.attn = nn.MultiheadAttention(width, config.num_heads, batch_first=True)
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.ln_3, self.ln_4 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = evaluator_mlp(width, config.mlp_dropout, activation)
        self.mlp2 = evaluator_mlp(width, config.mlp_dropout, activation)

    def forward(self, video, music):
        """video, music `[B, T, d]` → (video, music, attention `[B, T, T]` head-averaged)."""
        query, key = self.ln_1(video), self.ln_3(music)
        if self.towers:
            attention = self.attn(query, key, key, need_weights=True)[1]  # reported, not mixed in
            video_read = self.attn(query, query, query, need_weights=False)[0]
            music_read = self.attn(key, key, key, need_weights=False)[0]
        else:
            video_read, attention = self.attn(query, key, key, need_weights=True)
            music_read = self.attn(query, key, query, need_weights=False)[0]  # official quirk
        video, music = video + video_read, music + music_read
        video = video + self.mlp(self.ln_2(video))
        music = music + self.mlp2(self.ln_4(music))
        return video, music, attention


class CrossModalEvaluator(nn.Module):
    """Video and music features of one window → embeddings and the video→music attention."""

    def __init__(self, config: EvaluatorConfig, objective: str = "contrastive"):
        super().__init__()
        config.validate()
        if objective not in OBJECTIVES:
            raise ValueError(f"evaluator objective must be one of {OBJECTIVES}, got {objective!r}")
        self.config, self.objective = config, objective
        improved = config.architecture == "fixed" and objective == "contrastive"
        self.video_proj = nn.Linear(config.video_dim, config.hidden)
        self.music_proj = nn.Linear(config.music_dim, config.hidden)
        for proj in (self.video_proj, self.music_proj):
            nn.init.normal_(proj.weight, std=0.02)
        self.blocks = nn.ModuleList(CrossBlock(config, improved) for _ in range(config.num_layers))
        self.video_lnpos = nn.Linear(config.steps, 1)  # time pooling, as the official heads
        self.music_lnpos = nn.Linear(config.steps, 1)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        if improved:
            self.register_buffer(
                "positions", positional_encoding(config.steps, config.hidden), persistent=False
            )

    def forward(self, video: torch.Tensor, music: torch.Tensor) -> EvaluatorOutput:
        """video `[B, T, D_v]`, music `[B, T, D_m]` (T = config.steps) → `EvaluatorOutput`."""
        self._check(video, music)
        v, m = self.video_proj(video), self.music_proj(music)
        if hasattr(self, "positions"):
            v, m = v + self.positions, m + self.positions
        attention = None
        for block in self.blocks:
            v, m, attention = block(v, m)
        pooled_v = self.video_lnpos(v.transpose(1, 2)).squeeze(-1)  # [B, d]
        pooled_m = self.music_lnpos(m.transpose(1, 2)).squeeze(-1)
        return EvaluatorOutput(pooled_v, pooled_m, attention, self.logit_scale)

    def _check(self, video: torch.Tensor, music: torch.Tensor) -> None:
        c = self.config
        if video.shape[1:] != (c.steps, c.video_dim) or music.shape[1:] != (c.steps, c.music_dim):
            raise ValueError(
                f"evaluator expects video [B, {c.steps}, {c.video_dim}] and music "
                f"[B, {c.steps}, {c.music_dim}], got {tuple(video.shape)} and {tuple(music.shape)}"
            )


def contrastive_loss(out: EvaluatorOutput) -> torch.Tensor:
    """Symmetric cross-entropy of the logits with the matched pairs on the diagonal."""
    logits = out.logits()
    labels = torch.arange(len(logits), device=logits.device)
    loss = nn.functional.cross_entropy(logits, labels)
    return (loss + nn.functional.cross_entropy(logits.T, labels)) / 2


def attention_loss(out: EvaluatorOutput) -> torch.Tensor:
    """mean_b MSE(diag(A_b), 1): each second of picture should attend to the same second."""
    diagonal = out.attention.diagonal(dim1=1, dim2=2)
    return ((diagonal - 1.0) ** 2).mean()


def temporal_alignment(out: EvaluatorOutput) -> torch.Tensor:
    """TA per window `[B]`: mean attention on the same second (chance ≈ 1 / T)."""
    return out.attention.diagonal(dim1=1, dim2=2).mean(dim=1)


def cross_modal_retrieval(logits_fn, video: torch.Tensor, music: torch.Tensor, group: int = 16):
    """CMR over fixed groups: windows `[N, ...]` cut into consecutive groups of `group`, the mean
    of the diagonal of each group's row-softmaxed logits, averaged over all groups.

    Returns (cmr, number of groups, group size used). The official code reports it per batch;
    a last group shorter than `group` is left out so every group has the same chance level
    (when N < group, one group of all N windows is used).
    """
    n = len(video)
    size = group if n >= group else n
    scores = []
    for first in range(0, n - size + 1, size):
        logits = logits_fn(video[first : first + size], music[first : first + size])
        scores.append(logits.softmax(dim=1).diagonal().mean())
    return float(torch.stack(scores).mean()), len(scores), size


def build_evaluator(
    config: EvaluatorConfig, objective: str = "contrastive", seed: int = 0
) -> CrossModalEvaluator:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CrossModalEvaluator(config, objective)
