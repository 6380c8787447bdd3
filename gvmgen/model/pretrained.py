"""Start a GVMGen from Hugging Face snapshots: the paper's initialisation for training.

GVMGen is trained from MusicGen (decoder and EnCodec) and OpenAI CLIP ViT-L/14@336; only the
Q-Former, its music queries, `proj` and `output_proj` start fresh. `model_from_snapshots` builds
that model from a MusicGen snapshot (`facebook/musicgen-small`: `decoder.*`, `audio_encoder.*`)
and a CLIP snapshot (`openai/clip-vit-large-patch14-336`: `vision_model.*`), offline.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gvmgen.errors import WeightsError
from gvmgen.model import snapshots
from gvmgen.model.config import GVMGenConfig, LMConfig, QFormerConfig, VisionConfig
from gvmgen.model.importer import codec_config
from gvmgen.model.model import GVMGenModel, build_model
from gvmgen.model.weights import codec_state


def model_from_snapshots(
    musicgen: str | Path | None = None,
    clip: str | Path | None = None,
    models_dir: str | Path | None = None,
    qformer: QFormerConfig | None = None,
    time_embeddings: bool = False,
) -> GVMGenModel:
    """GVMGen with MusicGen's decoder + EnCodec and CLIP's vision tower loaded, the rest fresh.

    `musicgen` / `clip` are snapshot directories; by default the first found offline.
    `time_embeddings=True` (improved option) also turns faithful mode off.
    """
    mg = _snapshot(musicgen, "musicgen", models_dir)
    vision = _snapshot(clip, "clip", models_dir)
    config = GVMGenConfig(
        vision=_vision_config(vision.path),
        qformer=qformer or QFormerConfig(),
        lm=_lm_config(mg.path),
        codec=codec_config(mg),
        faithful=not time_embeddings,
        time_embeddings=time_embeddings,
    )
    model = build_model(config)
    state = {"lm." + k: v for k, v in _tensors(mg.path, "decoder.").items()}
    state.update(
        {
            "visual.spatial_self_attention." + k: v
            for k, v in _tensors(vision.path, "vision_model.").items()
        }
    )
    state.update(codec_state(mg))
    _load_parts(model, state)
    return model


def _snapshot(path, kind: str, models_dir) -> snapshots.Snapshot:
    if path is None:
        found = snapshots.find_kind(kind, models_dir)
        if found is None:
            raise WeightsError(
                f"no {kind} snapshot in {snapshots.models_dir(models_dir)} or the HF cache"
            )
        return found
    path = Path(path).expanduser()
    if snapshots.snapshot_kind(path) != kind:
        raise WeightsError(f"{path} is not a {kind} snapshot (config.json + weights)")
    return snapshots.Snapshot(kind, path.name, path, "argument")


def _vision_config(path: Path) -> VisionConfig:
    from transformers import CLIPVisionConfig

    hf = CLIPVisionConfig.from_pretrained(str(path), local_files_only=True)
    return VisionConfig(
        image_size=hf.image_size, patch_size=hf.patch_size, hidden_size=hf.hidden_size,
        num_layers=hf.num_hidden_layers, num_heads=hf.num_attention_heads,
        intermediate_size=hf.intermediate_size, layer_norm_eps=hf.layer_norm_eps,
    )  # fmt: skip


def _lm_config(path: Path) -> LMConfig:
    from transformers import MusicgenConfig

    hf = MusicgenConfig.from_pretrained(str(path), local_files_only=True).decoder
    return LMConfig(
        hidden_size=hf.hidden_size, num_layers=hf.num_hidden_layers,
        num_heads=hf.num_attention_heads, ffn_dim=hf.ffn_dim, num_codebooks=hf.num_codebooks,
        card=hf.vocab_size, max_positions=hf.max_position_embeddings,
    )  # fmt: skip


def _tensors(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    """Every tensor under `prefix` in a snapshot's safetensors files, prefix stripped."""
    from safetensors import safe_open

    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise WeightsError(f"{path} has no .safetensors weights (only those are read)")
    found = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118
                if key.startswith(prefix):
                    found[key[len(prefix) :]] = handle.get_tensor(key)
    return found


def _load_parts(model: GVMGenModel, state: dict[str, torch.Tensor]) -> None:
    """Load the snapshot parts; the fresh parts (Q-Former, projections) may stay missing."""
    fresh = ("visual.spatial_cross_attention.", "visual.proj", "visual.output_proj.")
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(fresh)]
    # older snapshots also store CLIP's `position_ids` buffer, which is rebuilt, not loaded
    unexpected = [k for k in result.unexpected_keys if not k.endswith(".position_ids")]
    if missing or unexpected:
        raise WeightsError(
            f"snapshots do not fit GVMGen: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
