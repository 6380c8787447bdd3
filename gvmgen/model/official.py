"""Import the official GVMGen checkpoint (`state_dict.bin`) by key remapping.

The official file is `{'best_state': LMModel.state_dict(), 'xp.cfg': <Hydra YAML>, 'exported':
True}` in fp16. Its LM uses audiocraft names and fused `in_proj_weight`s; its visual part is
OpenAI CLIP plus the Q-Former. We split the fused projections and rename onto transformers'
`MusicgenForCausalLM` / `CLIPVisionModel` (the rules of transformers' MusicGen conversion
script plus the CLIP q/k/v split); the Q-Former keeps its official names. Dimensions come from
`xp.cfg` where it has them and are otherwise inferred from tensor shapes, so a small checkpoint
in the official layout imports too.
"""

from __future__ import annotations

import math
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gvmgen.errors import WeightsError
from gvmgen.model.config import (
    ENCODEC_32KHZ,
    GenerationConfig,
    GVMGenConfig,
    LMConfig,
    QFormerConfig,
    VisionConfig,
)

VISUAL = "condition_provider.conditioners.visual_content."
CLIP = VISUAL + "clip.visual."
OUR_CLIP = "visual.spatial_self_attention."
OUR_QFORMER = "visual.spatial_cross_attention."
OUR_LM = "lm.model.decoder."

# (official pattern, our name) — applied after the prefix is stripped; \1 is the layer index.
_CLIP_RULES = [
    (r"class_embedding", OUR_CLIP + "embeddings.class_embedding"),
    (r"conv1\.weight", OUR_CLIP + "embeddings.patch_embedding.weight"),
    (r"positional_embedding", OUR_CLIP + "embeddings.position_embedding.weight"),
    (r"ln_pre\.(weight|bias)", OUR_CLIP + r"pre_layrnorm.\1"),
    (r"ln_post\.(weight|bias)", OUR_CLIP + r"post_layernorm.\1"),
    (r"proj", "visual.proj"),
    (r"query_tokens", OUR_QFORMER + "query_tokens"),
    (r"qformer\.(.+)", OUR_QFORMER + r"\1"),
    (
        r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)",
        OUR_CLIP + r"encoder.layers.\1.self_attn.{qkv}_proj.\2",
    ),
    (
        r"transformer\.resblocks\.(\d+)\.attn\.out_proj\.(weight|bias)",
        OUR_CLIP + r"encoder.layers.\1.self_attn.out_proj.\2",
    ),
    (
        r"transformer\.resblocks\.(\d+)\.ln_([12])\.(weight|bias)",
        OUR_CLIP + r"encoder.layers.\1.layer_norm\2.\3",
    ),
    (
        r"transformer\.resblocks\.(\d+)\.mlp\.c_fc\.(weight|bias)",
        OUR_CLIP + r"encoder.layers.\1.mlp.fc1.\2",
    ),
    (
        r"transformer\.resblocks\.(\d+)\.mlp\.c_proj\.(weight|bias)",
        OUR_CLIP + r"encoder.layers.\1.mlp.fc2.\2",
    ),
]
_LAYER = r"transformer\.layers\.(\d+)\."
_LM_RULES = [
    (r"emb\.(\d+)\.weight", OUR_LM + r"embed_tokens.\1.weight"),
    (
        _LAYER + r"self_attn\.(?:mha\.)?in_proj_weight",
        OUR_LM + r"layers.\1.self_attn.{qkv}_proj.weight",
    ),
    (
        _LAYER + r"self_attn\.(?:mha\.)?out_proj\.weight",
        OUR_LM + r"layers.\1.self_attn.out_proj.weight",
    ),
    (
        _LAYER + r"cross_attention\.(?:mha\.)?in_proj_weight",
        OUR_LM + r"layers.\1.encoder_attn.{qkv}_proj.weight",
    ),
    (
        _LAYER + r"cross_attention\.(?:mha\.)?out_proj\.weight",
        OUR_LM + r"layers.\1.encoder_attn.out_proj.weight",
    ),
    (_LAYER + r"linear1\.weight", OUR_LM + r"layers.\1.fc1.weight"),
    (_LAYER + r"linear2\.weight", OUR_LM + r"layers.\1.fc2.weight"),
    (_LAYER + r"norm1\.(weight|bias)", OUR_LM + r"layers.\1.self_attn_layer_norm.\2"),
    (_LAYER + r"norm_cross\.(weight|bias)", OUR_LM + r"layers.\1.encoder_attn_layer_norm.\2"),
    (_LAYER + r"norm2\.(weight|bias)", OUR_LM + r"layers.\1.final_layer_norm.\2"),
    (r"out_norm\.(weight|bias)", OUR_LM + r"layer_norm.\1"),
    (r"linears\.(\d+)\.weight", r"lm.lm_heads.\1.weight"),
]


@dataclass
class OfficialCheckpoint:
    state: dict[str, torch.Tensor]
    xp: dict = field(default_factory=dict)


@dataclass
class Remapped:
    state: dict[str, torch.Tensor]
    unconsumed: list[str]


def load_official(path: str | Path, trust_pickle: bool = False) -> OfficialCheckpoint:
    """Read `state_dict.bin` with `weights_only=True` (tensors, dicts, strings only).

    The exported file holds only plain containers, tensors and a YAML string, so the safe
    unpickler reads it; `trust_pickle=True` falls back to full pickle for files that need it —
    only for files you trust, as pickle can run code.
    """
    path = checkpoint_file(path)
    try:
        package = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as error:
        raise WeightsError(
            f"{path} holds objects beyond tensors and plain containers, which the safe loader "
            f"refuses ({str(error).splitlines()[0]}); re-run with --trust-checkpoint only if "
            f"you trust where the file came from"
        ) from error
    except (RuntimeError, OSError, EOFError) as error:
        raise WeightsError(f"cannot read {path} as a torch checkpoint: {error}") from error
    return _unpack(package, path)


def checkpoint_file(path: str | Path) -> Path:
    """`path` expanded; WeightsError when there is no such file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsError(f"checkpoint {path} not found")
    return path


def _unpack(package, path: Path) -> OfficialCheckpoint:
    import yaml

    if not isinstance(package, dict) or "best_state" not in package:
        raise WeightsError(f"{path} has no 'best_state': not an exported GVMGen checkpoint")
    state = package["best_state"]
    if isinstance(state.get("model"), dict):  # a dora `best_state` keeps the LM under 'model'
        state = state["model"]
    xp = yaml.safe_load(package.get("xp.cfg") or "") or {}
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return OfficialCheckpoint(tensors, xp if isinstance(xp, dict) else {})


def remap_official(state: dict[str, torch.Tensor]) -> Remapped:
    """Official keys → `GVMGenModel` keys, splitting fused q/k/v; lists what was not used."""
    out, unconsumed = {}, []
    for key, tensor in state.items():
        if key.startswith(CLIP):
            mapped = _apply(_CLIP_RULES, key[len(CLIP) :], tensor)
        elif key.startswith(VISUAL + "output_proj."):
            mapped = {"visual." + key[len(VISUAL) :]: tensor}
        elif key.startswith("condition_provider."):
            mapped = None  # e.g. another conditioner's weights: not part of this model
        else:
            mapped = _apply(_LM_RULES, key, tensor)
        if mapped is None:
            unconsumed.append(key)
        else:
            out.update(mapped)
    return Remapped(out, unconsumed)


def _apply(rules, key: str, tensor: torch.Tensor) -> dict[str, torch.Tensor] | None:
    for pattern, target in rules:
        match = re.fullmatch(pattern, key)
        if match is None:
            continue
        name = match.expand(target)
        if "{qkv}" not in name:
            return {name: tensor}
        return {
            name.replace("{qkv}", p): part
            for p, part in zip("qkv", tensor.chunk(3, dim=0), strict=True)
        }
    return None


def official_config(
    state: dict[str, torch.Tensor], xp: dict, codec: dict | None = None
) -> GVMGenConfig:
    """The architecture of an official checkpoint: `xp.cfg` where it says, else tensor shapes.

    `codec` is the EnCodec config (transformers kwargs); default: EnCodec 32 kHz.
    """
    config = GVMGenConfig(
        vision=_vision_config(state),
        qformer=_qformer_config(state),
        lm=_lm_config(state, xp.get("transformer_lm") or {}),
        codec=dict(codec or ENCODEC_32KHZ),
        faithful=True,
    )
    try:
        config.validate()
    except ValueError as error:
        raise WeightsError(f"checkpoint dimensions do not make a GVMGen model: {error}") from error
    return config


def _count(state: dict, pattern: str) -> int:
    indices = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    return max(indices) + 1 if indices else 0


def _need(state: dict, key: str) -> torch.Tensor:
    if key not in state:
        raise WeightsError(
            f"checkpoint lacks {key!r}: not a GVMGen checkpoint in the official layout"
        )
    return state[key]


def _vision_config(state: dict) -> VisionConfig:
    width = _need(state, CLIP + "class_embedding").shape[0]
    patch = _need(state, CLIP + "conv1.weight").shape[-1]
    grid = math.isqrt(_need(state, CLIP + "positional_embedding").shape[0] - 1)
    return VisionConfig(
        image_size=grid * patch,
        patch_size=patch,
        hidden_size=width,
        num_layers=_count(state, re.escape(CLIP) + r"transformer\.resblocks\.(\d+)\."),
        num_heads=max(1, width // 64),  # OpenAI CLIP: heads = width / 64
        intermediate_size=_need(state, CLIP + "transformer.resblocks.0.mlp.c_fc.weight").shape[0],
    )


def _qformer_config(state: dict) -> QFormerConfig:
    layer = re.escape(CLIP) + r"qformer\.encoder\.layer\.(\d+)\."
    layers = _count(state, layer)
    cross = sorted({int(m.group(1)) for k in state if (m := re.match(layer + "crossattention", k))})
    frequency = cross[1] - cross[0] if len(cross) > 1 else max(1, layers)
    width = _need(state, CLIP + "query_tokens").shape[-1]
    config = QFormerConfig(
        num_queries=state[CLIP + "query_tokens"].shape[1],
        num_layers=layers,
        num_heads=max(1, width // 64),  # the official Q-Former takes the ViT's head count
        ffn_dim=_need(
            state, CLIP + "qformer.encoder.layer.0.intermediate_query.dense.weight"
        ).shape[0],
        cross_attention_frequency=frequency,
        projection_dim=_need(state, CLIP + "proj").shape[1],
    )
    if cross != [i for i in range(layers) if config.has_cross_attention(i)]:
        raise WeightsError(f"Q-Former cross-attention on layers {cross}: not every n-th layer")
    return config


def _lm_config(state: dict, lm_cfg: dict) -> LMConfig:
    embedding = _need(state, "emb.0.weight")
    width = embedding.shape[1]
    return LMConfig(
        hidden_size=width,
        num_layers=_count(state, r"transformer\.layers\.(\d+)\."),
        num_heads=int(lm_cfg.get("num_heads") or max(1, width // 64)),
        ffn_dim=_need(state, "transformer.layers.0.linear1.weight").shape[0],
        num_codebooks=_count(state, r"emb\.(\d+)\."),
        card=embedding.shape[0] - 1,
    )


def official_generation(xp: dict) -> GenerationConfig:
    """Sampling settings from `xp.cfg` (official defaults where it is silent)."""
    lm = ((xp.get("generate") or {}).get("lm")) or {}
    cfg = xp.get("classifier_free_guidance") or {}
    generation = GenerationConfig(
        cfg_coef=float(cfg.get("inference_coef", 3.0)),
        top_k=int(lm.get("top_k", 250)),
        top_p=float(lm.get("top_p", 0.0)),
        temperature=float(lm.get("temp", 1.0)),
        use_sampling=bool(lm.get("use_sampling", True)),
    )
    generation.validate()
    return generation
