"""The GVMGen network: visual encoder → MusicGen LM (temporal cross-attention) → EnCodec.

`GVMGenModel` only holds the parts and their weights; `forward` is the pure training view
(logits for a token sequence given frame tokens). Sampling, windows, progress and autocast live
in `gvmgen.model.generation`. `build_model` is the one place that reads a `GVMGenConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import EncodecConfig, EncodecModel, MusicgenDecoderConfig, MusicgenForCausalLM

from gvmgen.model.config import GVMGenConfig, LMConfig, QFormerConfig, VisionConfig
from gvmgen.model.pattern import DelayPattern
from gvmgen.model.vision import VisualEncoder


def musicgen_decoder_config(config: LMConfig) -> MusicgenDecoderConfig:
    """transformers' config of the MusicGen decoder (dropout 0, as the official LM)."""
    return MusicgenDecoderConfig(
        vocab_size=config.card,
        max_position_embeddings=config.max_positions,
        num_hidden_layers=config.num_layers,
        ffn_dim=config.ffn_dim,
        num_attention_heads=config.num_heads,
        hidden_size=config.hidden_size,
        num_codebooks=config.num_codebooks,
        activation_function="gelu",
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=config.card,
        bos_token_id=config.card,
        tie_word_embeddings=False,
    )


@dataclass
class GVMGenOutput:
    """logits `[B, K, S, card]` for the next token at every position."""

    logits: torch.Tensor


class GVMGenModel(nn.Module):
    """Frames → frame tokens → LM logits; codes ↔ audio through `codec`."""

    def __init__(self, config: GVMGenConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.visual = VisualEncoder(config)
        self.lm = MusicgenForCausalLM(musicgen_decoder_config(config.lm))
        self.codec = EncodecModel(EncodecConfig(**config.codec))
        self.pattern = DelayPattern(config.lm.num_codebooks, config.lm.card)

    def forward(self, sequence: torch.Tensor, condition: torch.Tensor) -> GVMGenOutput:
        """sequence `[B, K, S]` (delay-interleaved), condition `[B, T, d_LM]` → logits."""
        batch, k, length = sequence.shape
        out = self.lm(
            input_ids=sequence.reshape(batch * k, length),
            encoder_hidden_states=condition,
            use_cache=False,
        )
        return GVMGenOutput(out.logits.reshape(batch, k, length, -1))

    def decode_audio(self, codes: torch.Tensor) -> torch.Tensor:
        """codes `[B, K, T]` → audio `[B, 1, T * hop]` at `config.sample_rate`."""
        return self.codec.decode(codes[None], [None]).audio_values

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """audio `[B, 1, N]` at the codec rate → codes `[B, K, ceil(N / hop)]`."""
        bandwidth = self.codec.config.target_bandwidths[-1]
        codes = self.codec.encode(audio, bandwidth=bandwidth).audio_codes
        return codes[0, :, : self.config.lm.num_codebooks]


def build_model(config: GVMGenConfig) -> GVMGenModel:
    """A GVMGen model with freshly initialised weights, in eval mode."""
    return GVMGenModel(config).eval()


def build_empty_model(config: GVMGenConfig) -> GVMGenModel:
    """A GVMGen model whose weights are left uninitialised, to be filled by `load_state_dict`.

    Skipping the random init saves ~14 s for the full-size model on a CPU core.
    """
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # transformers 4.x
        from transformers.modeling_utils import no_init_weights
    with no_init_weights():
        return GVMGenModel(config).eval()


def debug_config() -> GVMGenConfig:
    """A tiny config (hidden 32–64, 2 layers, 32-px images) for CPU tests; not musical."""
    codec = {
        "sampling_rate": 32000,
        "audio_channels": 1,
        "hidden_size": 16,
        "num_filters": 4,
        "num_residual_layers": 1,
        "upsampling_ratios": [8, 5, 4, 4],
        "num_lstm_layers": 1,
        "codebook_size": 64,
        "target_bandwidths": [1.2],  # 4 codebooks × 6 bits × 50 Hz
        "use_causal_conv": False,
        "use_conv_shortcut": False,
    }
    return GVMGenConfig(
        vision=VisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            num_layers=2,
            num_heads=2,
            intermediate_size=64,
        ),
        qformer=QFormerConfig(
            num_queries=4,
            num_layers=3,
            num_heads=2,
            ffn_dim=48,
            projection_dim=24,
        ),
        lm=LMConfig(
            hidden_size=32,
            num_layers=2,
            num_heads=4,
            ffn_dim=64,
            num_codebooks=4,
            card=64,
            max_positions=2048,
        ),
        codec=codec,
    )


def build_debug_model(seed: int = 0, config: GVMGenConfig | None = None) -> GVMGenModel:
    """A tiny random-weight GVMGen for CPU tests (deterministic for `seed`)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(config or debug_config())
        _liven_lm(model.lm)
    return model


@torch.no_grad()
def _liven_lm(lm: MusicgenForCausalLM) -> None:
    """Unit-scale LM weights: with transformers' std-0.02 init a tiny LM barely reacts to its
    condition, which would let tests of conditioning and CFG pass vacuously."""
    for name, param in lm.named_parameters():
        if param.dim() == 2:
            std = 1.0 if "embed_tokens" in name else param.shape[1] ** -0.5
            param.normal_(0.0, std)
