"""From frames to frame tokens: spatial self-attention (CLIP) → spatial cross-attention (Q-Former).

Per frame: the frozen CLIP ViT gives all `N_tok` tokens of its last hidden state (577 for
ViT-L/14@336, no post-LN); 16 trainable *music queries* attend to them through the Q-Former;
the queries are mean-pooled, passed through `ln_post` and `proj` (both fine-tuned), then
`output_proj` maps each frame to one LM-width token. The Q-Former reproduces the official code's
quirks exactly (no residual around its attention sub-layers; the FFN's LayerNorm sits before
the residual add) so the published weights load 1:1 under the same names.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel

from gvmgen.model.config import GVMGenConfig, QFormerConfig, VisionConfig


def clip_vision_config(config: VisionConfig) -> CLIPVisionConfig:
    """transformers' config of the CLIP vision tower described by `config`."""
    return CLIPVisionConfig(
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        image_size=config.image_size,
        patch_size=config.patch_size,
        layer_norm_eps=config.layer_norm_eps,
        hidden_act="quick_gelu",
        projection_dim=768,
    )


class QFormerSubLayerOutput(nn.Module):
    """Dense → LayerNorm → dropout, with no residual (the official `self_output`/`cross_output`)."""

    def __init__(self, width: int, eps: float, dropout: float):
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # Dropout(LN(Dense(x))); the official LayerNorm subclass computes in fp32 and casts back.
        normed = self.LayerNorm(self.dense(hidden).float())
        return self.dropout(normed.to(hidden.dtype))


class QFormerDense(nn.Module):
    def __init__(self, width_in: int, width_out: int):
        super().__init__()
        self.dense = nn.Linear(width_in, width_out)


class QFormerFFNOutput(nn.Module):
    """Dense → LayerNorm, *then* + residual, → dropout (the official `output_query`)."""

    def __init__(self, ffn_dim: int, width: int, eps: float, dropout: float):
        super().__init__()
        self.dense = nn.Linear(ffn_dim, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        # Dropout(LN(Dense(f)) + a): the LayerNorm comes before the residual add (official)
        return self.dropout(self.LayerNorm(self.dense(hidden)) + residual)


class QFormerLayer(nn.Module):
    """One Q-Former layer: query self-attention, cross-attention to CLIP tokens (some), FFN."""

    def __init__(self, width: int, config: QFormerConfig, cross_attention: bool):
        super().__init__()
        eps, drop = config.layer_norm_eps, config.dropout
        self.attention = nn.MultiheadAttention(width, config.num_heads, drop, batch_first=True)
        self.self_output = QFormerSubLayerOutput(width, eps, drop)
        if cross_attention:
            self.crossattention = nn.MultiheadAttention(
                width, config.num_heads, drop, batch_first=True
            )
            self.cross_output = QFormerSubLayerOutput(width, eps, drop)
        self.intermediate_query = QFormerDense(width, config.ffn_dim)
        self.output_query = QFormerFFNOutput(config.ffn_dim, width, eps, drop)

    def forward(self, queries: torch.Tensor, image_tokens: torch.Tensor) -> torch.Tensor:
        """queries `[N, Q, D]`, image_tokens `[N, N_tok, D]` → `[N, Q, D]`."""
        attended = self.attention(queries, queries, queries, need_weights=False)[0]
        attended = self.self_output(attended)  # official: no residual here
        if hasattr(self, "crossattention"):
            crossed = self.crossattention(attended, image_tokens, image_tokens, need_weights=False)
            attended = self.cross_output(crossed[0])  # nor here
        hidden = nn.functional.gelu(self.intermediate_query.dense(attended))
        return self.output_query(hidden, attended)


class QFormerEncoder(nn.Module):
    def __init__(self, width: int, config: QFormerConfig):
        super().__init__()
        self.layer = nn.ModuleList(
            QFormerLayer(width, config, config.has_cross_attention(i))
            for i in range(config.num_layers)
        )


class QFormer(nn.Module):
    """Spatial cross-attention: the music queries read one frame's CLIP tokens.

    Parameter names (`query_tokens`, `layernorm`, `encoder.layer.N.*`) are the official ones.
    """

    def __init__(self, width: int, config: QFormerConfig):
        super().__init__()
        self.config = config
        self.query_tokens = nn.Parameter(torch.randn(1, config.num_queries, width) * 0.02)
        self.layernorm = nn.LayerNorm(width, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder = QFormerEncoder(width, config)

    def forward(self, image_tokens: torch.Tensor) -> torch.Tensor:
        """image_tokens `[N, N_tok, D]` → pooled music queries `[N, D]`."""
        queries = self.query_tokens.expand(image_tokens.shape[0], -1, -1)
        hidden = self.dropout(self.layernorm(queries))
        for layer in self.encoder.layer:
            hidden = layer(hidden, image_tokens)
        pooled = hidden.sum(dim=1)
        return pooled / hidden.shape[1] if self.config.pooling == "mean" else pooled


def sinusoidal_time_embedding(seconds: torch.Tensor, width: int) -> torch.Tensor:
    """`[T]` seconds → `[T, width]` ([cos | sin], max period 1e4, as MusicGen's positions)."""
    half = width // 2
    rates = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=seconds.device) / max(1, half - 1)
    )
    phase = seconds.float()[:, None] * rates[None, :]
    embedding = torch.cat([phase.cos(), phase.sin()], dim=1)
    return nn.functional.pad(embedding, (0, width - 2 * half))


class VisualEncoder(nn.Module):
    """Frames `[N, 3, S, S]` → one LM-width token per frame `[N, d_LM]`."""

    def __init__(self, config: GVMGenConfig):
        super().__init__()
        width = config.vision.hidden_size
        self.time_embeddings = config.time_embeddings
        self.spatial_self_attention = CLIPVisionModel(clip_vision_config(config.vision))
        self.spatial_self_attention.requires_grad_(False)  # frozen, as in the paper
        self.spatial_cross_attention = QFormer(width, config.qformer)
        self.proj = nn.Parameter(torch.randn(width, config.qformer.projection_dim) * width**-0.5)
        self.output_proj = nn.Linear(config.qformer.projection_dim, config.lm.hidden_size)

    @property
    def ln_post(self) -> nn.LayerNorm:
        """CLIP's `ln_post` is transformers' `post_layernorm` (fine-tuned by GVMGen)."""
        return self.spatial_self_attention.post_layernorm

    def image_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels `[N, 3, S, S]` (CLIP-normalised) → all CLIP tokens `[N, N_tok, D]`, no post-LN."""
        return self.spatial_self_attention(pixel_values=pixels).last_hidden_state

    def frame_tokens(self, image_tokens: torch.Tensor) -> torch.Tensor:
        """CLIP tokens `[N, N_tok, D]` → frame tokens `[N, d_LM]`."""
        pooled = self.spatial_cross_attention(image_tokens)
        projected = self.ln_post(pooled) @ self.proj.to(pooled.dtype)
        return self.output_proj(projected)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels `[N, 3, S, S]` → frame tokens `[N, d_LM]`."""
        return self.frame_tokens(self.image_tokens(pixels))

    def add_time(self, tokens: torch.Tensor, seconds: torch.Tensor) -> torch.Tensor:
        """Improved option: frame tokens `[T, d]` + time embeddings of `seconds` `[T]`."""
        if not self.time_embeddings:
            return tokens
        return tokens + sinusoidal_time_embedding(seconds, tokens.shape[-1]).to(tokens.dtype)
