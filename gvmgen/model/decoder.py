"""Our decode path over a transformers `MusicgenForCausalLM`: static KV cache, fused projections.

transformers' `generate` grows a dynamic cache, rebuilds masks and runs a logits-processor chain
every step. For decoding we keep the same weights but run a lean step:

- q/k/v of each self-attention are one fused matmul (`[3d, d]`), and the four LM heads are one
  batched matmul. The fused tensors *share storage* with the transformers parameters (those
  become views), so there is no second copy of the weights.
- the self-attention cache is preallocated once (`[B, H, S_max, Dh]` per layer) and written in
  place; cross-attention keys/values of the frame tokens are projected once per window.
- the sinusoidal positions are a table lookup.
- precision as the official model (`gvmgen.model.precision`): the token embeddings, positions,
  residual stream, LayerNorms and heads are fp32; the transformer's matmuls run in the dtype of
  its weights under the caller's autocast, and so does the KV cache.

`CachedDecoder.logits(tokens, start)` runs any number of new positions (prefill or one step);
its result equals transformers' full forward on the same sequence (tests check both).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import MusicgenForCausalLM

from gvmgen.model.precision import no_autocast


def cache_keyword(lm: MusicgenForCausalLM) -> str:
    """The name under which this transformers release's MusicGen `forward` takes its KV cache.

    transformers 5.24 renamed `past_key_values` to `cache` in `MusicgenForCausalLM.forward`
    (and its output); the generic `generate` accepts both, MusicGen's own `generate` only the
    name `forward` has. Passing it under the signature's name works on 5.23 and 5.24 alike.
    """
    parameters = inspect.signature(lm.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def sinusoidal_positions(decoder: nn.Module, length: int) -> torch.Tensor:
    """MusicGen's position table `[length, d]`, read from transformers' own embedding module.

    This is the one place we reach into transformers' internals; a release that moves it must
    fail here, loudly, rather than decode with wrong positions.
    """
    from gvmgen.errors import EngineError

    get_embedding = getattr(decoder.embed_positions, "get_embedding", None)
    if get_embedding is None:
        import transformers

        raise EngineError(
            f"transformers {transformers.__version__} has no "
            "MusicgenSinusoidalPositionalEmbedding.get_embedding; GVMGen's decoder was tested "
            "with the versions in requirements/lock.txt: reinstall with `make setup`"
        )
    return get_embedding(length, decoder.config.hidden_size)


@dataclass
class _LayerWeights:
    norm_self: nn.LayerNorm
    qkv: torch.Tensor  # [3d, d]
    out_self: torch.Tensor  # [d, d]
    norm_cross: nn.LayerNorm
    q_cross: torch.Tensor
    k_cross: torch.Tensor
    v_cross: torch.Tensor
    out_cross: torch.Tensor
    norm_ffn: nn.LayerNorm
    fc1: torch.Tensor
    fc2: torch.Tensor


def _fuse_rows(linears: list[nn.Linear]) -> torch.Tensor:
    """Concatenate Linear weights along rows and make each Linear a view into the result.

    Weights already fused by an earlier decoder (adjacent views of one storage) are reused, so
    each window of a long cue does not copy them again.
    """
    fused = _already_fused([linear.weight for linear in linears])
    if fused is not None:
        return fused
    fused = torch.cat([linear.weight.data for linear in linears], dim=0)
    offset = 0
    for linear in linears:
        rows = linear.weight.shape[0]
        linear.weight.data = fused[offset : offset + rows]
        offset += rows
    return fused


def _already_fused(weights: list[torch.Tensor]) -> torch.Tensor | None:
    """The `[rows, cols]` tensor the weights are consecutive row blocks of, if they are."""
    first = weights[0]
    storage, address = first.untyped_storage().data_ptr(), first.data_ptr()
    for weight in weights:
        same = weight.untyped_storage().data_ptr() == storage and weight.data_ptr() == address
        if not (same and weight.is_contiguous()):
            return None
        address += weight.numel() * weight.element_size()
    rows = sum(weight.shape[0] for weight in weights)
    return torch.as_strided(first.detach(), (rows, first.shape[1]), (first.shape[1], 1))


def _layer_weights(layer) -> _LayerWeights:
    attn, cross = layer.self_attn, layer.encoder_attn
    return _LayerWeights(
        norm_self=layer.self_attn_layer_norm,
        qkv=_fuse_rows([attn.q_proj, attn.k_proj, attn.v_proj]),
        out_self=attn.out_proj.weight,
        norm_cross=layer.encoder_attn_layer_norm,
        q_cross=cross.q_proj.weight,
        k_cross=cross.k_proj.weight,
        v_cross=cross.v_proj.weight,
        out_cross=cross.out_proj.weight,
        norm_ffn=layer.final_layer_norm,
        fc1=layer.fc1.weight,
        fc2=layer.fc2.weight,
    )


def _fuse_heads(lm: MusicgenForCausalLM) -> torch.Tensor:
    """The K LM heads as one `[K·card, d]` matrix shared with the heads' parameters."""
    return _fuse_rows(list(lm.lm_heads))


class CachedDecoder:
    """Fast incremental decoding for `batch` rows with a preallocated cache of `max_length`."""

    def __init__(self, lm: MusicgenForCausalLM, batch: int, max_length: int):
        config = lm.config
        decoder = lm.model.decoder
        self.device = lm.lm_heads[0].weight.device
        self.dtype = decoder.layers[0].fc1.weight.dtype  # the transformer's: bf16/fp16 or fp32
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        self.batch, self.max_length = batch, max_length
        self.embeddings = [table.weight for table in decoder.embed_tokens]
        self.positions = sinusoidal_positions(decoder, max_length).to(self.device, torch.float32)
        self.layers = [_layer_weights(layer) for layer in decoder.layers]
        self.final_norm = decoder.layer_norm
        self.heads = _fuse_heads(lm)
        self.num_codebooks = len(lm.lm_heads)
        shape = (len(self.layers), batch, self.num_heads, max_length, self.head_dim)
        self.keys = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.values = torch.zeros(shape, device=self.device, dtype=self.dtype)
        self.cross_keys: list[torch.Tensor] = []
        self.cross_values: list[torch.Tensor] = []
        self.absorbed: list[tuple[torch.Tensor, torch.Tensor]] = []

    def set_condition(self, condition: torch.Tensor) -> None:
        """Project the frame tokens `[batch, T, d]` to each layer's cross-attention K/V once."""
        condition = condition.to(self.device, self.dtype)
        self.absorbed = []
        self.cross_keys = [self._heads(condition @ w.k_cross.T) for w in self.layers]
        self.cross_values = [self._heads(condition @ w.v_cross.T) for w in self.layers]

    def set_cfg_condition(self, frame_tokens: torch.Tensor) -> None:
        """CFG layout: rows `[0, B/2)` attend to frame tokens `[T, d]`, the rest are null rows.

        Every conditional row reads the same frames and a null row's cross-attention output is
        exactly 0 (zero keys and values, no biases), so the query and output projections fold
        into the frame keys/values once per window: per head h, `A_h = K_h W_q,h` and
        `B_h = V_h W_o,hᵀ` (`[T, d]` each). A step then reads 2·H·T·d numbers per layer instead
        of the 2·d² of `q_proj` + `out_proj` (half for 30 frames at d = 1024) and skips the
        null rows. Falls back to `set_condition` where that would not read less.
        """
        tokens = frame_tokens.to(self.device, self.dtype)
        frames, width = tokens.shape
        if self.num_heads * frames >= width or self.batch % 2:
            null = torch.zeros_like(tokens)
            half = self.batch // 2
            rows = [tokens] * half + [null] * (self.batch - half)
            return self.set_condition(torch.stack(rows))
        self.absorbed = [self._absorb(w, tokens) for w in self.layers]

    def _absorb(self, w: _LayerWeights, tokens: torch.Tensor):
        """(`A` `[H·T, d]` scaled by 1/√Dh, `B` `[H·T, d]`) for one layer and frames `[T, d]`."""
        heads, dh = self.num_heads, self.head_dim
        keys = (tokens @ w.k_cross.T).view(-1, heads, dh).transpose(0, 1)  # [H, T, Dh]
        values = (tokens @ w.v_cross.T).view(-1, heads, dh).transpose(0, 1)
        query_rows = w.q_cross.view(heads, dh, -1)  # [H, Dh, d]
        out_cols = w.out_cross.view(-1, heads, dh).permute(1, 2, 0)  # [H, Dh, d]
        absorbed_q = (keys @ query_rows).reshape(-1, tokens.shape[1]) * dh**-0.5
        absorbed_v = (values @ out_cols).reshape(-1, tokens.shape[1])
        return absorbed_q.contiguous(), absorbed_v.contiguous()

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, S, d]` → `[B, H, S, Dh]`."""
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        """`[B, H, S, Dh]` → `[B, S, d]`."""
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)

    def embed(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """tokens `[B, K, S]` at positions start.. → fp32 input embeddings `[B, S, d]`."""
        hidden = F.embedding(tokens[:, 0], self.embeddings[0])
        for k in range(1, tokens.shape[1]):
            hidden = hidden + F.embedding(tokens[:, k], self.embeddings[k])
        return hidden + self.positions[start : start + tokens.shape[-1]]

    def logits(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        """Feed tokens `[B, K, S]` at positions `start..start+S-1` → logits `[B, K, S, card]`.

        Positions before `start` must already be in the cache (fed by earlier calls).
        """
        if start + tokens.shape[-1] > self.max_length:
            raise ValueError(f"position {start + tokens.shape[-1]} beyond cache {self.max_length}")
        return self._forward(tokens, start)

    def _forward(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        hidden = self.embed(tokens, start)
        for index, weights in enumerate(self.layers):
            hidden = self._layer(index, weights, hidden, start)
        hidden = self.final_norm(hidden)
        # one GEMM for all K heads: [B, S, K·card] → [B, K, S, card] (a broadcast batched
        # matmul would first copy the heads once per row); fp32 like the heads' weights
        with no_autocast(self.device):
            logits = F.linear(hidden.float(), self.heads)
        batch, length = hidden.shape[:2]
        return logits.view(batch, length, self.num_codebooks, -1).transpose(1, 2)

    def _layer(self, index: int, w: _LayerWeights, hidden: torch.Tensor, start: int):
        # the sub-layers' outputs are in the transformer's dtype; the sum stays fp32
        hidden = hidden + self._self_attention(index, w, w.norm_self(hidden), start)
        hidden = hidden + self._cross_attention(index, w, w.norm_cross(hidden))
        ffn = F.linear(F.gelu(F.linear(w.norm_ffn(hidden), w.fc1)), w.fc2)
        return hidden + ffn

    def _self_attention(self, index: int, w: _LayerWeights, x: torch.Tensor, start: int):
        q, k, v = F.linear(x, w.qkv).chunk(3, dim=-1)
        end = start + x.shape[1]
        self.keys[index, :, :, start:end] = self._heads(k)
        self.values[index, :, :, start:end] = self._heads(v)
        keys, values = self.keys[index, :, :, :end], self.values[index, :, :, :end]
        mask = None
        if x.shape[1] > 1:  # several new positions: each sees the cache and its own past
            mask = torch.ones(x.shape[1], end, dtype=torch.bool, device=x.device).tril(start)
        attended = F.scaled_dot_product_attention(self._heads(q), keys, values, attn_mask=mask)
        return F.linear(self._merge(attended), w.out_self)

    def _cross_attention(self, index: int, w: _LayerWeights, x: torch.Tensor):
        if self.absorbed:
            return self._absorbed_cross_attention(index, x)
        return self._projected_cross_attention(index, w, x)

    def _absorbed_cross_attention(self, index: int, x: torch.Tensor):
        """x `[B, S, d]` → `[B, S, d]`: conditional rows through `A`/`B`, null rows exactly 0."""
        absorbed_q, absorbed_v = self.absorbed[index]
        half, length = x.shape[0] // 2, x.shape[1]
        scores = F.linear(x[:half], absorbed_q).view(half, length, self.num_heads, -1)
        weights = scores.softmax(dim=-1).view(half, length, -1)  # [B/2, S, H·T]
        attended = weights @ absorbed_v
        return torch.cat([attended, torch.zeros_like(attended)])

    def _projected_cross_attention(self, index: int, w: _LayerWeights, x: torch.Tensor):
        q = self._heads(F.linear(x, w.q_cross))
        attended = F.scaled_dot_product_attention(
            q, self.cross_keys[index], self.cross_values[index]
        )
        return F.linear(self._merge(attended), w.out_cross)
