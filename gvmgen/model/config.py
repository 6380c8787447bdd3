"""Typed, validated configs of the GVMGen model: architecture and generation kept apart.

`GVMGenConfig` says what the network *is* (its shapes, and whether it runs the official quirks);
`GenerationConfig` says how to sample from it. Both round-trip through JSON and raise
`ValueError` from `validate()`. This module imports no torch, so the CLI and the engine's cheap
weight check can read a config without paying for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# MusicGen's EnCodec 32 kHz (`facebook/encodec_32khz`): hop 640 → 50 Hz, 4 codebooks × 2048.
ENCODEC_32KHZ: dict[str, Any] = {
    "sampling_rate": 32000,
    "audio_channels": 1,
    "normalize": False,
    "hidden_size": 128,
    "num_filters": 64,
    "num_residual_layers": 1,
    "upsampling_ratios": [8, 5, 4, 4],
    "norm_type": "weight_norm",
    "kernel_size": 7,
    "last_kernel_size": 7,
    "residual_kernel_size": 3,
    "dilation_growth_rate": 2,
    "use_causal_conv": False,
    "pad_mode": "reflect",
    "compress": 2,
    "num_lstm_layers": 2,
    "trim_right_ratio": 1.0,
    "codebook_size": 2048,
    "target_bandwidths": [2.2],
    "use_conv_shortcut": False,
}


@dataclass
class VisionConfig:
    """The frozen CLIP ViT ("spatial self-attention"); defaults are ViT-L/14@336."""

    image_size: int = 336
    patch_size: int = 14
    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    intermediate_size: int = 4096
    layer_norm_eps: float = 1e-5

    @property
    def num_tokens(self) -> int:
        """CLS + one token per patch (577 for ViT-L/14@336)."""
        return (self.image_size // self.patch_size) ** 2 + 1

    def validate(self) -> None:
        _positive(self, "image_size", "patch_size", "hidden_size", "num_layers", "num_heads")
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} not a multiple of {self.patch_size}")
        _divisible(self.hidden_size, self.num_heads, "vision")


@dataclass
class QFormerConfig:
    """The Q-Former with trainable music queries ("spatial cross-attention")."""

    num_queries: int = 16
    num_layers: int = 6
    num_heads: int = 16
    ffn_dim: int = 2048
    cross_attention_frequency: int = 2  # cross-attention on layers 0, 2, 4
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    pooling: str = "mean"  # over the queries: "mean" (official) or "sum"
    projection_dim: int = 768  # `proj`: 1024 → 768

    def validate(self) -> None:
        _positive(self, "num_queries", "num_layers", "num_heads", "ffn_dim", "projection_dim")
        _positive(self, "cross_attention_frequency")
        if self.pooling not in ("mean", "sum"):
            raise ValueError(f"pooling must be 'mean' or 'sum', got {self.pooling!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def has_cross_attention(self, layer: int) -> bool:
        return layer % self.cross_attention_frequency == 0


@dataclass
class LMConfig:
    """The MusicGen decoder ("temporal cross-attention" in every layer); defaults are small."""

    hidden_size: int = 1024
    num_layers: int = 24
    num_heads: int = 16
    ffn_dim: int = 4096
    num_codebooks: int = 4
    card: int = 2048  # codebook size; id `card` is the special (BOS / pad) token
    max_positions: int = 2048

    def validate(self) -> None:
        _positive(self, "hidden_size", "num_layers", "num_heads", "ffn_dim", "num_codebooks")
        _positive(self, "card", "max_positions")
        _divisible(self.hidden_size, self.num_heads, "lm")


@dataclass
class GVMGenConfig:
    """The whole network. `faithful=True` reproduces the official model, quirks included.

    Attributes:
        time_embeddings: improved option, add sinusoidal time embeddings (seconds from the
            window start) to the frame tokens; the official model has no notion of frame order.
        frame_rate: codec frames per second (50 for EnCodec 32 kHz).
        codec: kwargs of transformers' `EncodecConfig`.
    """

    vision: VisionConfig = field(default_factory=VisionConfig)
    qformer: QFormerConfig = field(default_factory=QFormerConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    codec: dict[str, Any] = field(default_factory=lambda: dict(ENCODEC_32KHZ))
    faithful: bool = True
    time_embeddings: bool = False
    frame_rate: int = 50

    @property
    def sample_rate(self) -> int:
        return int(self.codec["sampling_rate"])

    def validate(self) -> None:
        for part in (self.vision, self.qformer, self.lm):
            part.validate()
        if self.faithful and self.time_embeddings:
            raise ValueError("time_embeddings is an improved option; it needs faithful=False")
        hop = 1
        for ratio in self.codec.get("upsampling_ratios", []):
            hop *= int(ratio)
        if hop * self.frame_rate != self.sample_rate:
            raise ValueError(
                f"codec hop {hop} × frame_rate {self.frame_rate} != sample rate {self.sample_rate}"
            )
        if self.codec.get("codebook_size") != self.lm.card:
            raise ValueError(
                f"codec codebook_size {self.codec.get('codebook_size')} != lm card {self.lm.card}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GVMGenConfig:
        parts = {"vision": VisionConfig, "qformer": QFormerConfig, "lm": LMConfig}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown GVMGen config fields {sorted(unknown)}")
        kwargs = dict(data)
        for name, part in parts.items():
            if name in kwargs:
                kwargs[name] = _part_from_dict(part, kwargs[name], name)
        config = cls(**kwargs)
        config.validate()
        return config

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GVMGenConfig:
        return cls.from_dict(json.loads(text))


WINDOW_POLICIES = ("per-window", "official")
# The official code's long-video windows: the checkpoint's training segment (32 s), advanced
# by `extend_stride` (18 s), so each window continues from the previous one's last 14 s.
OFFICIAL_SEGMENT_SECONDS = 32.0
OFFICIAL_STRIDE_SECONDS = 18.0
# Ours: 30 s windows (the 30 frames the model was trained on) continuing from 10 s.
PER_WINDOW_SECONDS, PER_WINDOW_PROMPT_SECONDS = 30.0, 10.0


@dataclass
class GenerationConfig:
    """How to sample. Defaults are the official inference settings (CFG 3, top-k 250, T 1).

    Attributes:
        window_seconds: longest stretch generated in one pass (the engine length).
        prompt_seconds: how much of the previous window's tokens the next window continues from.
        top_p: nucleus sampling when > 0 (then top_k is ignored, as in audiocraft).
        windows: what each window of a long cue cross-attends to: `"per-window"` (ours, the
            default) its own frames, so the music follows the picture it plays under, at most
            30 frames per window as in training; `"official"` every frame of the cue, as the
            official code does (with 32 s windows and an 18 s stride: `windows_config`).
    """

    cfg_coef: float = 3.0
    top_k: int = 250
    top_p: float = 0.0
    temperature: float = 1.0
    use_sampling: bool = True
    window_seconds: float = PER_WINDOW_SECONDS
    prompt_seconds: float = PER_WINDOW_PROMPT_SECONDS
    windows: str = "per-window"

    def validate(self) -> None:
        if self.windows not in WINDOW_POLICIES:
            raise ValueError(
                f"windows must be one of {', '.join(WINDOW_POLICIES)}, got {self.windows!r}"
            )
        if self.cfg_coef < 0:
            raise ValueError(f"cfg_coef must be >= 0, got {self.cfg_coef}")
        if self.top_k < 0 or not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"need top_k >= 0 and top_p in [0, 1], got {self.top_k}, {self.top_p}")
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 <= self.prompt_seconds < self.window_seconds:
            raise ValueError(
                f"need 0 <= prompt_seconds ({self.prompt_seconds}) < window_seconds "
                f"({self.window_seconds})"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_windows(self, policy: str, segment_seconds: float = OFFICIAL_SEGMENT_SECONDS):
        """This config with window policy `policy`: `"official"` takes the checkpoint's
        training segment as the window and continues from `segment - 18 s`."""
        if policy == "official":
            prompt = segment_seconds - OFFICIAL_STRIDE_SECONDS
            config = replace(
                self, windows=policy, window_seconds=segment_seconds, prompt_seconds=prompt
            )
        else:
            config = replace(
                self,
                windows=policy,
                window_seconds=PER_WINDOW_SECONDS,
                prompt_seconds=PER_WINDOW_PROMPT_SECONDS,
            )
        config.validate()
        return config


@dataclass
class TrainingOptions:
    """Conditioning dropout for classifier-free guidance during training.

    The official code drops the condition of the whole batch at once (probability 0.3);
    `per_sample=True` (improved, off in faithful mode) decides per sample instead.
    """

    cfg_dropout: float = 0.3
    per_sample: bool = False

    def validate(self) -> None:
        if not 0.0 <= self.cfg_dropout <= 1.0:
            raise ValueError(f"cfg_dropout must be in [0, 1], got {self.cfg_dropout}")


def _part_from_dict(part: type, data: dict[str, Any], name: str):
    known = {f.name for f in fields(part)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {name} config fields {sorted(unknown)}")
    return part(**data)


def _positive(config: Any, *names: str) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"{type(config).__name__}.{name} must be a positive int, got {value!r}"
            )


def _divisible(width: int, heads: int, what: str) -> None:
    if width % heads:
        raise ValueError(f"{what} hidden size {width} is not divisible by {heads} heads")
