"""An independent re-statement of the official GVMGen network in the official key layout.

Written from the spec (OpenAI CLIP `VisionTransformer` with the Q-Former, audiocraft's LM with
fused `in_proj_weight` attention), not from our modules, so tests can (1) produce a checkpoint
whose keys are exactly the official ones and (2) check that the imported model computes the
same function. Tiny sizes only.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import yaml
from torch import nn
from torch.nn import functional as F

V = "condition_provider.conditioners.visual_content."


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                c_fc=nn.Linear(width, 4 * width),
                gelu=QuickGELU(),
                c_proj=nn.Linear(4 * width, width),
            )
        )
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x):  # [L, N, D]
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class Dense(nn.Module):
    def __init__(self, width_in, width_out, eps=None):
        super().__init__()
        self.dense = nn.Linear(width_in, width_out)
        if eps is not None:
            self.LayerNorm = nn.LayerNorm(width_out, eps=eps)


class OfficialQFormerLayer(nn.Module):
    def __init__(self, width, heads, ffn, cross):
        super().__init__()
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.self_output = Dense(width, width, 1e-12)
        if cross:
            self.crossattention = nn.MultiheadAttention(width, heads, batch_first=True)
            self.cross_output = Dense(width, width, 1e-12)
        self.intermediate_query = Dense(width, ffn)
        self.output_query = Dense(ffn, width, 1e-12)

    def forward(self, h, x):
        a = self.attention(h, h, h)[0]
        a = self.self_output.LayerNorm(self.self_output.dense(a))
        if hasattr(self, "crossattention"):
            c = self.crossattention(a, x, x)[0]
            a = self.cross_output.LayerNorm(self.cross_output.dense(c))
        f = F.gelu(self.intermediate_query.dense(a))
        return self.output_query.LayerNorm(self.output_query.dense(f)) + a


class Encoder(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layer = nn.ModuleList(layers)


class OfficialQFormer(nn.Module):
    def __init__(self, width, heads, ffn, layers, frequency):
        super().__init__()
        self.layernorm = nn.LayerNorm(width, eps=1e-12)
        self.encoder = Encoder(
            OfficialQFormerLayer(width, heads, ffn, i % frequency == 0) for i in range(layers)
        )


class Resblocks(nn.Module):
    def __init__(self, width, heads, layers):
        super().__init__()
        self.resblocks = nn.Sequential(
            *(ResidualAttentionBlock(width, heads) for _ in range(layers))
        )


class OfficialVisual(nn.Module):
    """OpenAI CLIP `VisionTransformer(is_qformer=True)`."""

    def __init__(self, image, patch, width, layers, heads, queries, q_layers, q_ffn, out_dim):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn((image // patch) ** 2 + 1, width)
        )
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Resblocks(width, heads, layers)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, out_dim))
        self.query_tokens = nn.Parameter(torch.randn(1, queries, width) * 0.02)
        self.qformer = OfficialQFormer(width, heads, q_ffn, q_layers, 2)

    def tokens(self, pixels):
        x = self.conv1(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
        return self.transformer.resblocks(x.permute(1, 0, 2)).permute(1, 0, 2)

    def forward(self, pixels):
        x = self.tokens(pixels)
        h = self.qformer.layernorm(self.query_tokens.expand(x.shape[0], -1, -1))
        for layer in self.qformer.encoder.layer:
            h = layer(h, x)
        return self.ln_post(h.mean(dim=1)) @ self.proj


class Clip(nn.Module):
    def __init__(self, visual):
        super().__init__()
        self.visual = visual


class OfficialConditioner(nn.Module):
    def __init__(self, visual, out_dim, lm_dim):
        super().__init__()
        self.clip = Clip(visual)
        self.output_proj = nn.Linear(out_dim, lm_dim)

    def forward(self, pixels):
        return self.output_proj(self.clip.visual(pixels))


class OfficialLMLayer(nn.Module):
    def __init__(self, dim, heads, ffn):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
        self.linear1 = nn.Linear(dim, ffn, bias=False)
        self.linear2 = nn.Linear(ffn, dim, bias=False)
        self.norm1, self.norm_cross, self.norm2 = (nn.LayerNorm(dim) for _ in range(3))

    def forward(self, x, cond, mask):
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = self.norm_cross(x)
        x = x + self.cross_attention(h, cond, cond, need_weights=False)[0]
        return x + self.linear2(F.gelu(self.linear1(self.norm2(x))))


class Layers(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Conditioners(nn.Module):
    def __init__(self, conditioner):
        super().__init__()
        self.visual_content = conditioner


class ConditionProvider(nn.Module):
    def __init__(self, conditioner):
        super().__init__()
        self.conditioners = Conditioners(conditioner)


class OfficialLMModel(nn.Module):
    """audiocraft `LMModel` with the CLIP conditioner, as `best_state` stores it."""

    def __init__(self, sizes: dict):
        super().__init__()
        s = sizes
        visual = OfficialVisual(
            s["image"],
            s["patch"],
            s["vwidth"],
            s["vlayers"],
            s["vheads"],
            s["queries"],
            s["qlayers"],
            s["qffn"],
            s["proj"],
        )
        self.condition_provider = ConditionProvider(
            OfficialConditioner(visual, s["proj"], s["dim"])
        )
        self.emb = nn.ModuleList(nn.Embedding(s["card"] + 1, s["dim"]) for _ in range(s["n_q"]))
        self.transformer = Layers(
            OfficialLMLayer(s["dim"], s["heads"], s["ffn"]) for _ in range(s["layers"])
        )
        self.out_norm = nn.LayerNorm(s["dim"])
        self.linears = nn.ModuleList(
            nn.Linear(s["dim"], s["card"], bias=False) for _ in range(s["n_q"])
        )

    def condition(self, pixels):
        return self.condition_provider.conditioners.visual_content(pixels)

    def forward(self, sequence, cond):
        """sequence `[B, K, S]`, cond `[B, T, D]` → logits `[B, K, S, card]`."""
        length, dim = sequence.shape[-1], self.out_norm.normalized_shape[0]
        x = sum(emb(sequence[:, k]) for k, emb in enumerate(self.emb))
        x = x + sin_embedding(length, dim)
        mask = torch.ones(length, length, dtype=torch.bool).triu(1)
        for layer in self.transformer.layers:
            x = layer(x, cond, mask)
        x = self.out_norm(x)
        return torch.stack([linear(x) for linear in self.linears], dim=1)


def sin_embedding(length: int, dim: int, max_period: float = 10000.0):
    half = dim // 2
    positions = torch.arange(length, dtype=torch.float32)[:, None]
    adim = torch.arange(half, dtype=torch.float32)[None, :]
    phase = positions / (max_period ** (adim / (half - 1)))
    return torch.cat([torch.cos(phase), torch.sin(phase)], dim=-1)


TINY = {
    "image": 32,
    "patch": 8,
    "vwidth": 128,
    "vlayers": 2,
    "vheads": 2,
    "queries": 4,
    "qlayers": 3,
    "qffn": 96,
    "proj": 24,
    "dim": 64,
    "heads": 4,
    "ffn": 128,
    "layers": 2,
    "n_q": 4,
    "card": 64,
}


def build_official(seed: int = 0, sizes: dict | None = None) -> OfficialLMModel:
    torch.manual_seed(seed)
    model = OfficialLMModel(sizes or TINY).eval()
    with torch.no_grad():  # LayerNorms away from identity, so a wrong mapping shows
        for name, param in model.named_parameters():
            if "norm" in name.lower() or "ln_" in name:
                param.add_(0.1 * torch.randn_like(param))
    return model


def xp_cfg(sizes: dict | None = None) -> str:
    s = sizes or TINY
    cfg = {
        "transformer_lm": {
            "dim": s["dim"],
            "num_heads": s["heads"],
            "num_layers": s["layers"],
            "n_q": s["n_q"],
            "card": s["card"],
        },
        "classifier_free_guidance": {"training_dropout": 0.3, "inference_coef": 3.0},
        "generate": {"lm": {"use_sampling": True, "top_k": 250, "top_p": 0.0, "temp": 1.0}},
        "dataset": {"segment_duration": 32},
    }
    return yaml.safe_dump(cfg)


def save_official_checkpoint(model: OfficialLMModel, path, with_xp: bool = True) -> None:
    """The exported layout: fp16 `best_state`, YAML `xp.cfg`, `exported`."""
    state = {k: v.detach().half() for k, v in model.state_dict().items()}
    package = {"best_state": state, "exported": True}
    if with_xp:
        package["xp.cfg"] = xp_cfg()
    torch.save(package, path)


def as_fp16_weights(model: OfficialLMModel) -> OfficialLMModel:
    """The same model with weights rounded through fp16 (what the checkpoint holds), in fp32."""
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(param.half().float())
    return model


def assert_close(a, b, atol=1e-5):
    assert a.shape == b.shape, (a.shape, b.shape)
    diff = (a - b).abs().max().item()
    assert diff <= atol + 1e-5 * b.abs().max().item(), f"max diff {diff}"
    assert math.isfinite(diff)
