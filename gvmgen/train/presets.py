"""Training presets and where the model to train comes from.

A preset names a model size and the optimiser settings that suit it; `--init SNAPSHOT` replaces
the starting weights (an imported checkpoint or an earlier run's `RUN/model`) but keeps the
preset's settings. Without `--init`:

- `tiny`   the debug-sized GVMGen with deterministic random weights (CPU tests; not musical);
- `small`  MusicGen-small's decoder + EnCodec and CLIP ViT-L/14@336 from offline snapshots,
           the Q-Former and projections fresh (the paper's initialisation);
- `medium` the same from a MusicGen-medium snapshot.

`model_fingerprint` identifies the frozen parts (EnCodec, CLIP backbone): a dataset prepared
with one EnCodec is meaningless to a model with another, so `train run` checks it.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gvmgen.errors import InputError, WeightsError

PRESET_NAMES = ("tiny", "small", "medium")
MUSICGEN_WIDTH = {"small": 1024, "medium": 1536}
TINY_SEED = 0


@dataclass
class TrainSettings:
    """Everything that decides a training run's numbers (saved in RUN/settings.json).

    Attributes:
        batch_size: windows per process per step (the global batch is × world size).
        warmup_steps: linear warm-up, then cosine decay to `min_lr_ratio · lr` at `steps`.
        ema_decay: exponential moving average of the trained weights (None: off), updated every
            `ema_every` steps; the exported model uses it when on (official: 0.99 every 10).
        cfg_dropout: probability that a sample trains with the null condition (official 0.3);
            `cfg_per_sample=False` draws once per batch, as the official code does.
        precision: "auto" = bf16 autocast on a GPU that has it, else fp16 with a grad scaler,
            fp32 on CPU; or "fp32" / "bf16" / "fp16" explicitly.
        optimizer: "adamw" (torch) or "dadapt-adam" (the paper's, from `pytorch_optimizer`).
    """

    preset: str = "tiny"
    steps: int = 200
    batch_size: int = 2
    lr: float = 3e-3
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    eps: float = 1e-8
    warmup_steps: int = 10
    min_lr_ratio: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float | None = None
    ema_every: int = 10
    cfg_dropout: float = 0.3
    cfg_per_sample: bool = True
    precision: str = "auto"
    optimizer: str = "adamw"
    log_every: int = 1
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    seed: int = 2036  # the official seed
    init: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.preset not in PRESET_NAMES:
            raise InputError(
                f"--preset must be one of {', '.join(PRESET_NAMES)}, got {self.preset!r}"
            )
        for name in ("steps", "batch_size", "log_every", "checkpoint_every", "ema_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.warmup_steps < self.steps:
            raise InputError(f"warmup_steps {self.warmup_steps} must be in [0, steps {self.steps})")
        if self.lr <= 0 or self.grad_clip <= 0:
            raise InputError(f"lr and grad_clip must be positive, got {self.lr}, {self.grad_clip}")
        if not 0.0 <= self.cfg_dropout <= 1.0:
            raise InputError(f"cfg_dropout must be in [0, 1], got {self.cfg_dropout}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise InputError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.optimizer not in ("adamw", "dadapt-adam"):
            raise InputError(f"optimizer must be adamw or dadapt-adam, got {self.optimizer!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["betas"] = list(self.betas)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSettings:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        return cls(**kwargs)


# Per preset: what differs from the TrainSettings defaults (which are the tiny ones).
PRESET_SETTINGS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "steps": 10_000, "batch_size": 8, "lr": 1e-4, "warmup_steps": 500, "log_every": 10,
        "checkpoint_every": 500, "ema_decay": 0.99,
    },
    "medium": {
        "steps": 10_000, "batch_size": 4, "lr": 5e-5, "warmup_steps": 500, "log_every": 10,
        "checkpoint_every": 500, "ema_decay": 0.99,
    },
}  # fmt: skip


def preset_settings(preset: str, **overrides: Any) -> TrainSettings:
    """The preset's settings with `overrides` (None values ignored) applied, validated."""
    if preset not in PRESET_SETTINGS:
        raise InputError(f"--preset must be one of {', '.join(PRESET_NAMES)}, got {preset!r}")
    values = dict(PRESET_SETTINGS[preset], preset=preset)
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    if given.get("optimizer") == "dadapt-adam":  # the paper's: lr 1 (a multiplier), eps 1e-4
        values["lr"] = given.get("lr", 1.0)
        values["eps"] = given.get("eps", 1e-4)
    if "warmup_steps" not in given:  # a short run warms up for at most a tenth of it
        warmup = values.get("warmup_steps", TrainSettings.warmup_steps)
        values["warmup_steps"] = min(warmup, values.get("steps", TrainSettings.steps) // 10)
    settings = TrainSettings(**values)
    settings.validate()
    return settings


def build_training_model(preset: str, init: str | Path | None = None, models_dir=None):
    """The `GVMGenModel` to start from (fp32, CPU, eval mode), see the module docstring."""
    if init is not None:
        from gvmgen.model.weights import load_gvmgen

        model, _ = load_gvmgen(init, device="cpu", models_dir=models_dir)
        return model.float()
    if preset == "tiny":
        from gvmgen.model.model import build_debug_model

        return build_debug_model(seed=TINY_SEED)
    return _from_snapshots(preset, models_dir)


def _from_snapshots(preset: str, models_dir):
    from gvmgen.model import snapshots
    from gvmgen.model.pretrained import model_from_snapshots

    musicgen = [s for s in snapshots.find_snapshots(models_dir) if s.kind == "musicgen"]
    for snapshot in musicgen:
        if _hidden_size(snapshot.path) == MUSICGEN_WIDTH[preset]:
            return model_from_snapshots(musicgen=snapshot.path, models_dir=models_dir)
    raise WeightsError(
        f"--preset {preset} needs a facebook/musicgen-{preset} snapshot and a CLIP ViT-L/14@336 "
        f"snapshot in {snapshots.models_dir(models_dir)} or the Hugging Face cache (found "
        f"{len(musicgen)} MusicGen snapshot(s) of other sizes); or pass --init SNAPSHOT"
    )


def _hidden_size(path: Path) -> int | None:
    import json

    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return config.get("decoder", {}).get("hidden_size")


def tensors_fingerprint(state: dict) -> str:
    """sha256 (first 16 hex digits) over names, shapes and bytes of a state dict."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().to("cpu").contiguous()
        digest.update(f"{key}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()[:16]


def _byte_dtype():
    import torch

    return torch.uint8


def model_fingerprint(model) -> dict[str, str]:
    """Fingerprints of the frozen parts a dataset depends on: EnCodec and the CLIP backbone."""
    clip = model.visual.spatial_self_attention.state_dict()
    clip = {k: v for k, v in clip.items() if "post_layernorm" not in k}
    return {
        "codec": tensors_fingerprint(model.codec.state_dict()),
        "clip": tensors_fingerprint(clip),
    }
