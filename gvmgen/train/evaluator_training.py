"""Training the evaluation model, saving it, and the features it reads.

Features (the official extraction code was never published, spec §8; this is our choice):

- video: CLIP's class token (last hidden state, before `ln_post`, which GVMGen fine-tunes) of
  each 1-fps frame: `[T, D_vision]` (1024 for ViT-L/14@336). The frozen CLIP backbone is the
  same one GVMGen uses, so a prepared dataset (pixels or cached CLIP outputs) gives it;
- music: EnCodec's quantised latent (the codes decoded by the quantiser), averaged over each
  second: `[T, D_codec]` (128 for EnCodec 32 kHz). Codes in DATA give it without audio.

Training follows the official scripts (Adam lr 1e-4, batch 128, 80/20 split with seed 0; weight
decay 1e-3 for the contrastive model, none for the attention model), with a fixed number of
steps instead of 1,000 epochs. EVAL/ holds `evaluator.json` (configs, feature fingerprints,
held-out figures) and `evaluator.safetensors` (both models, prefixed `cmr.` / `ta.`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from gvmgen.atomic import atomic_path, write_text_atomic
from gvmgen.errors import InputError, WeightsError
from gvmgen.model.evaluator import (
    CrossModalEvaluator,
    EvaluatorConfig,
    attention_loss,
    build_evaluator,
    contrastive_loss,
    cross_modal_retrieval,
    temporal_alignment,
)

CONFIG_FILE = "evaluator.json"
WEIGHTS_FILE = "evaluator.safetensors"
FORMAT_NAME = "gvmgen-evaluator"


# --- features -----------------------------------------------------------------------------


@torch.inference_mode()
def video_features(model, pixels=None, image_tokens=None) -> torch.Tensor:
    """Frames `[T, 3, S, S]` (or cached CLIP outputs `[T, N_tok, D]`) → `[T, D]` class tokens."""
    if image_tokens is None:
        image_tokens = model.visual.image_tokens(pixels.float())
    return image_tokens[:, 0].float()


@torch.inference_mode()
def music_features(model, codes: torch.Tensor, seconds: int) -> torch.Tensor:
    """EnCodec codes `[K, T_a]` → per-second quantised latents `[seconds, D_codec]`."""
    latent = model.codec.quantizer.decode(codes.long()[:, None])[0]  # [D, T_a]
    per_second = model.config.frame_rate
    needed = seconds * per_second
    latent = torch.nn.functional.pad(latent, (0, max(0, needed - latent.shape[-1])))[:, :needed]
    return latent.reshape(latent.shape[0], seconds, per_second).mean(-1).T.float()


def dataset_features(model, data) -> tuple[torch.Tensor, torch.Tensor]:
    """Video `[N, T, D_v]` and music `[N, T, D_m]` features of every window of a
    `WindowDataset`, in index order."""
    videos, musics = [], []
    for position in range(len(data)):
        window = data.window(position)
        steps = len(window["frame_times"])
        videos.append(video_features(model, window.get("pixels"), window.get("image_tokens")))
        musics.append(music_features(model, window["codes"], steps))
    return torch.stack(videos), torch.stack(musics)


# --- training -----------------------------------------------------------------------------


@dataclass
class EvaluatorTraining:
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-4
    seed: int = 0
    held_out: float = 0.2


def split(n: int, held_out: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, held-out indices): a random 80/20 split, seeded as the official one."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    count = max(1, int(round(n * held_out))) if n > 1 else 0
    return order[count:], order[:count]


def train_model(
    video: torch.Tensor, music: torch.Tensor, config: EvaluatorConfig, objective: str,
    options: EvaluatorTraining,
) -> CrossModalEvaluator:  # fmt: skip
    """Train one evaluation model (contrastive → CMR, attention → TA) on matched pairs."""
    model = build_evaluator(config, objective, seed=options.seed).train()
    decay = 1e-3 if objective == "contrastive" else 0.0
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr, weight_decay=decay)
    loss_fn = contrastive_loss if objective == "contrastive" else attention_loss
    generator = torch.Generator().manual_seed(options.seed)
    batch = min(options.batch_size, len(video))
    for _ in range(options.steps):
        chosen = torch.randperm(len(video), generator=generator)[:batch]
        loss = loss_fn(model(video[chosen], music[chosen]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@dataclass
class Evaluator:
    """The pair of evaluation models and what features they expect."""

    cmr: CrossModalEvaluator
    ta: CrossModalEvaluator
    features: dict  # {"fingerprint": {...}, "video_dim", "music_dim"}
    held_out: dict

    @property
    def config(self) -> EvaluatorConfig:
        return self.cmr.config

    @torch.inference_mode()
    def scores(self, video: torch.Tensor, music: torch.Tensor, group: int = 16) -> dict:
        """CMR over fixed groups and TA per window for windows `[N, T, D]` (matched in order)."""
        ta = temporal_alignment(self.ta(video, music))
        result = {"ta": float(ta.mean()), "ta_per_window": ta.tolist()}
        result["ta_chance"] = 1 / self.config.steps
        if len(video) < 2:
            return dict(result, cmr=None, cmr_groups=0, cmr_group_size=len(video), cmr_chance=None)
        cmr, groups, size = cross_modal_retrieval(self._logits, video, music, group)
        return dict(result, cmr=cmr, cmr_groups=groups, cmr_group_size=size, cmr_chance=1 / size)

    def _logits(self, video, music):
        return self.cmr(video, music).logits()


def train_evaluator(
    video: torch.Tensor, music: torch.Tensor, config: EvaluatorConfig,
    options: EvaluatorTraining, fingerprint: dict,
) -> Evaluator:  # fmt: skip
    """Both models on the training split; held-out CMR / TA, matched and shuffled, recorded."""
    train_ids, test_ids = split(len(video), options.held_out, options.seed)
    if len(train_ids) < 2:
        raise InputError(f"the evaluator needs at least 3 windows to train on, got {len(video)}")
    cmr = train_model(video[train_ids], music[train_ids], config, "contrastive", options)
    ta = train_model(video[train_ids], music[train_ids], config, "attention", options)
    features = {
        "fingerprint": fingerprint,
        "video_dim": config.video_dim,
        "music_dim": config.music_dim,
    }
    evaluator = Evaluator(cmr, ta, features, {})
    if len(test_ids) >= 2:
        evaluator.held_out = held_out_report(
            evaluator, video[test_ids], music[test_ids], options.seed
        )
    return evaluator


def held_out_report(evaluator: Evaluator, video, music, seed: int = 0) -> dict:
    """Matched vs shuffled (music of another window) scores on held-out windows."""
    order = torch.randperm(len(music), generator=torch.Generator().manual_seed(seed + 1))
    order = torch.where(order == torch.arange(len(order)), order.roll(1), order)  # no fixed point
    matched = evaluator.scores(video, music)
    shuffled = evaluator.scores(video, music[order])
    keep = ("cmr", "cmr_groups", "cmr_group_size", "cmr_chance", "ta", "ta_chance")
    return {
        "windows": len(video),
        "matched": {k: matched[k] for k in keep},
        "shuffled": {k: shuffled[k] for k in keep},
    }


# --- saving -------------------------------------------------------------------------------


def save_evaluator(evaluator: Evaluator, out_dir: str | Path, source: str = "") -> Path:
    from safetensors.torch import save_file

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    state = {
        f"cmr.{k}": v.detach().clone().contiguous() for k, v in evaluator.cmr.state_dict().items()
    }
    state.update(
        {f"ta.{k}": v.detach().clone().contiguous() for k, v in evaluator.ta.state_dict().items()}
    )
    with atomic_path(out / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT_NAME})
    meta = {
        "format": FORMAT_NAME, "version": 1, "config": evaluator.config.to_dict(),
        "features": evaluator.features, "held_out": evaluator.held_out, "source": source,
    }  # fmt: skip
    write_text_atomic(out / CONFIG_FILE, json.dumps(meta, indent=2) + "\n")
    return out


def load_evaluator(directory: str | Path) -> Evaluator:
    from safetensors.torch import load_file

    directory = Path(directory).expanduser()
    try:
        meta = json.loads((directory / CONFIG_FILE).read_text())
        if meta.get("format") != FORMAT_NAME:
            raise ValueError(f"'format' is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
        config = EvaluatorConfig(**meta["config"])
        state = load_file(str(directory / WEIGHTS_FILE))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(
            f"{str(directory)!r} is not an evaluator (train one with `gvmgen train evaluator`): "
            f"{error}"
        ) from error
    models = {}
    for objective, prefix in (("contrastive", "cmr."), ("attention", "ta.")):
        model = CrossModalEvaluator(config, objective)
        part = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        model.load_state_dict(part, strict=True)
        models[prefix[:-1]] = model.eval()
    return Evaluator(models["cmr"], models["ta"], meta["features"], meta.get("held_out", {}))


def check_features(evaluator: Evaluator, model) -> None:
    """The evaluator reads features of one CLIP / EnCodec; `model` must have the same."""
    from gvmgen.train.presets import model_fingerprint

    wanted = evaluator.features.get("fingerprint", {})
    found = model_fingerprint(model)
    if wanted and wanted != found:
        raise InputError(
            "the evaluator was trained on features of another CLIP / EnCodec; pass the same "
            "--preset / --init it was trained with"
        )
