"""`gvmgen train run`: the training loop, with checkpoints that resume exactly.

Per step: the fixed global batch for this step (`WindowDataset.positions`) → this rank's slice →
CFG dropout decided per sample from a generator seeded by (seed, step) over the global batch →
autocast forward → backward (DDP averages gradients across ranks) → clip to 1.0 → AdamW →
cosine-with-warm-up schedule → optional EMA. All randomness of a step (dropout included) comes
from a seed derived from (seed, step, rank), so a resumed run repeats the same numbers; the
RNG states are saved as well. RUN/ holds `settings.json`, `metrics.jsonl`, `checkpoints/`
and, at the end, `model/` in the same weights format as an imported checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gvmgen.atomic import atomic_path, write_text_atomic
from gvmgen.errors import InputError
from gvmgen.model.training import GVMGenTrainingModule, LossOutput, set_trainable
from gvmgen.train import distributed
from gvmgen.train.dataset import WindowDataset, rank_slice
from gvmgen.train.presets import TrainSettings, build_training_model, model_fingerprint

SETTINGS_FILE = "settings.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS_DIR = "checkpoints"
MODEL_DIR = "model"
ProgressFn = Callable[[float, str], None]


@dataclass
class StepResult:
    step: int  # steps completed after this one
    loss: float
    per_codebook: list[float]
    grad_norm: float
    lr: float


def lr_factor(step: int, settings: TrainSettings) -> float:
    """Linear warm-up to 1, then cosine down to `min_lr_ratio` at the last step."""
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    span = max(1, settings.steps - settings.warmup_steps)
    progress = min(1.0, (step - settings.warmup_steps) / span)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return settings.min_lr_ratio + (1.0 - settings.min_lr_ratio) * cosine


def step_seed(seed: int, step: int, rank: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + rank) % (2**63)


def build_optimizer(params, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "dadapt-adam":
        try:
            from pytorch_optimizer import DAdaptAdam
        except ImportError as error:
            raise InputError(
                "--optimizer dadapt-adam needs the `pytorch_optimizer` package "
                "(pip install pytorch_optimizer); or use --optimizer adamw"
            ) from error
        return DAdaptAdam(
            params, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay,
            weight_decouple=True, eps=settings.eps,
        )  # fmt: skip
    return torch.optim.AdamW(
        params, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay,
        eps=settings.eps,
    )  # fmt: skip


class Trainer:
    """One process's share of a run; `run()` trains to `settings.steps` (or `stop_after`)."""

    def __init__(
        self, data_dir, run_dir, settings: TrainSettings, placement, models_dir=None, model=None
    ):
        """`model` (a `GVMGenModel`) replaces the one the preset / init would build."""
        settings.validate()
        self.settings, self.placement = settings, placement
        self.run_dir = Path(run_dir).expanduser()
        self.data = WindowDataset(data_dir)
        self.model = model or build_training_model(settings.preset, settings.init, models_dir)
        check_dataset_fits(self.data.meta, self.model)
        self.trained = set_trainable(self.model)
        self.trained_names = [n for n, p in self.model.named_parameters() if p.requires_grad]
        self.module = GVMGenTrainingModule(self.model).to(placement.device).train()
        self.wrapped = self._wrap(self.module)
        self.optimizer = build_optimizer(self.trained, settings)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, settings)
        )
        self.dtype = _autocast_dtype(settings.precision, placement.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)
        self.ema = self._fresh_ema() if settings.ema_decay else None
        self.step = 0

    def _wrap(self, module):
        if not self.placement.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.placement.local_rank] if self.placement.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def _fresh_ema(self) -> dict[str, torch.Tensor]:
        return {
            n: p.detach().clone() for n, p in zip(self.trained_names, self.trained, strict=True)
        }

    # --- one step ---------------------------------------------------------------------------

    def global_batch(self) -> int:
        return self.settings.batch_size * self.placement.world

    def local_batch(self, step: int):
        """This rank's `TrainingBatch` of `step`, CFG dropout decided over the global batch."""
        settings, placement = self.settings, self.placement
        positions = self.data.positions(step, self.global_batch(), settings.seed)
        mine = rank_slice(positions, placement.rank, placement.world)
        batch = self.data.batch(mine)
        generator = torch.Generator().manual_seed(step_seed(settings.seed, step, -1))
        draws = torch.rand(
            self.global_batch() if settings.cfg_per_sample else 1, generator=generator
        )
        dropped = (draws < settings.cfg_dropout).expand(self.global_batch())
        per_rank = settings.batch_size
        batch.dropped = dropped[placement.rank * per_rank : (placement.rank + 1) * per_rank].clone()
        return batch.to(placement.device)

    def backward(self, step: int) -> LossOutput:
        """Forward and backward of `step`; gradients are left on the trained parameters."""
        _seed_everything(step_seed(self.settings.seed, step, self.placement.rank))
        self.optimizer.zero_grad(set_to_none=True)
        batch = self.local_batch(step)
        with self._autocast():
            out = self.wrapped(batch)
        self.scaler.scale(out.loss).backward()
        return out

    def train_step(self) -> StepResult:
        step = self.step
        out = self.backward(step)
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.trained, self.settings.grad_clip)
        lr = self.optimizer.param_groups[0]["lr"]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step = step + 1
        self._update_ema()
        loss = distributed.mean_over_ranks(out.loss.detach().float(), self.placement)
        per_codebook = distributed.mean_over_ranks(out.per_codebook.float(), self.placement)
        return StepResult(self.step, float(loss), per_codebook.tolist(), float(norm), lr)

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.placement.device.type, dtype=self.dtype)

    @torch.no_grad()
    def _update_ema(self) -> None:
        if self.ema is None or self.step % self.settings.ema_every:
            return
        decay = self.settings.ema_decay
        for name, param in zip(self.trained_names, self.trained, strict=True):
            self.ema[name].mul_(decay).add_(param.detach(), alpha=1.0 - decay)

    # --- checkpoints ------------------------------------------------------------------------

    def state(self) -> dict:
        params = dict(zip(self.trained_names, self.trained, strict=True))
        return {
            "step": self.step,
            "settings": self.settings.to_dict(),
            "trained": {n: p.detach().cpu().clone() for n, p in params.items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": None if self.ema is None else {k: v.cpu() for k, v in self.ema.items()},
            "rng": _rng_states(),
        }

    def load_state(self, state: dict) -> None:
        params = dict(zip(self.trained_names, self.trained, strict=True))
        with torch.no_grad():
            for name, value in state["trained"].items():
                params[name].copy_(value.to(params[name].device))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        if state["ema"] is not None:
            self.ema = {k: v.to(self.placement.device) for k, v in state["ema"].items()}
        _set_rng_states(state["rng"])
        self.step = int(state["step"])

    def save_checkpoint(self) -> Path:
        folder = self.run_dir / CHECKPOINTS_DIR
        path = folder / f"step-{self.step:07d}.pt"
        with atomic_path(path) as tmp:
            torch.save(self.state(), tmp)
        for old in sorted(folder.glob("step-*.pt"))[: -self.settings.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return path

    def export(self) -> Path:
        """RUN/model: the trained weights (EMA when on) in the imported-checkpoint format."""
        from gvmgen.model.weights import save_gvmgen

        if self.ema is not None:
            params = dict(zip(self.trained_names, self.trained, strict=True))
            with torch.no_grad():
                for name, value in self.ema.items():
                    params[name].copy_(value)
        source = f"gvmgen train run (preset {self.settings.preset}, {self.step} steps)"
        return save_gvmgen(self.model.eval(), self.run_dir / MODEL_DIR, source=source)


def train(
    data_dir,
    run_dir,
    settings: TrainSettings,
    models_dir=None,
    progress: ProgressFn | None = None,
    stop_after: int | None = None,
    device: str = "auto",
) -> dict:
    """Train (or resume) a run; returns the summary written to RUN/summary.json on rank 0.

    `stop_after` ends this invocation after that many completed steps (as a kill would,
    checkpoint included) without exporting the model.
    """
    placement = distributed.start(device)
    try:
        return _train(data_dir, run_dir, settings, placement, models_dir, progress, stop_after)
    finally:
        distributed.stop(placement)


def _train(data_dir, run_dir, settings, placement, models_dir, progress, stop_after) -> dict:
    run_dir = Path(run_dir).expanduser()
    _check_run_dir(run_dir, settings)
    trainer = Trainer(data_dir, run_dir, settings, placement, models_dir)
    resumed = _resume(trainer, run_dir)
    last = min(settings.steps, stop_after or settings.steps)
    started, losses = time.monotonic(), []
    while trainer.step < last:
        result = trainer.train_step()
        losses.append(result.loss)
        if placement.is_main:
            _log(run_dir, result, settings, time.monotonic() - started, trainer.global_batch())
            _report(
                progress,
                result.step / settings.steps,
                f"train: step {result.step} loss {result.loss:.4f}",
            )
        if result.step % settings.checkpoint_every == 0 or result.step == last:
            if placement.is_main:
                trainer.save_checkpoint()
            distributed.barrier(placement)
    summary = {
        "steps": trainer.step, "resumed_from": resumed, "finished": trainer.step >= settings.steps,
        "seconds": round(time.monotonic() - started, 2), "world": placement.world,
        "windows": len(trainer.data), "last_loss": losses[-1] if losses else None,
    }  # fmt: skip
    if summary["finished"] and placement.is_main:
        summary["model"] = str(trainer.export())
        write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _check_run_dir(run_dir: Path, settings: TrainSettings) -> None:
    """A new RUN gets the settings; an existing one must have been started with the same."""
    path = run_dir / SETTINGS_FILE
    if (run_dir / MODEL_DIR).is_dir():
        raise InputError(f"{str(run_dir)!r} holds a finished run; choose a new --out")
    if path.is_file():
        old = json.loads(path.read_text())
        if old != settings.to_dict():
            changed = sorted(k for k in old if old.get(k) != settings.to_dict().get(k))
            raise InputError(
                f"{str(run_dir)!r} was started with other settings ({', '.join(changed)}); "
                "resume with the same command or choose a new --out"
            )
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(settings.to_dict(), indent=2) + "\n")


def _resume(trainer: Trainer, run_dir: Path) -> int | None:
    """Load the latest checkpoint, if any, and cut metrics.jsonl back to it."""
    checkpoints = sorted((run_dir / CHECKPOINTS_DIR).glob("step-*.pt"))
    if not checkpoints:  # killed before its first checkpoint: the curve starts again
        if trainer.placement.is_main:
            (run_dir / METRICS_FILE).unlink(missing_ok=True)
        return None
    # weights_only: a checkpoint is tensors and plain values, and loading one runs no code
    state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
    trainer.load_state(state)
    if trainer.placement.is_main:
        _truncate_metrics(run_dir / METRICS_FILE, trainer.step)
    return trainer.step


def _truncate_metrics(path: Path, step: int) -> None:
    from gvmgen.train.dataset import read_jsonl

    rows = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _log(run_dir: Path, result: StepResult, settings: TrainSettings, seconds, batch) -> None:
    if result.step % settings.log_every and result.step != settings.steps:
        return
    row = {
        "step": result.step, "loss": result.loss, "loss_per_codebook": result.per_codebook,
        "lr": result.lr, "grad_norm": result.grad_norm, "seconds": round(seconds, 3),
        "windows_per_step": batch,
    }  # fmt: skip
    from gvmgen.train.dataset import append_jsonl

    append_jsonl(run_dir / METRICS_FILE, row)


def check_dataset_fits(meta: dict, model) -> None:
    """The dataset's codes and cached CLIP outputs must come from this model's frozen parts."""
    found = model_fingerprint(model)
    wanted = meta.get("fingerprint", {})
    parts = ["codec"] + (["clip"] if meta.get("cache_clip") else [])
    wrong = [p for p in parts if wanted.get(p) != found[p]]
    if wrong or meta.get("image_size") != model.config.vision.image_size:
        what = ", ".join(wrong) or "image size"
        raise InputError(
            f"the dataset was prepared with another model ({what} differs); prepare it with "
            "the same --preset / --init as this run"
        )


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16" and device.type != "cuda":
        raise InputError(
            "--precision fp16 needs a GPU (its grad scaler is CUDA's); use bf16 or fp32"
        )
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _rng_states() -> dict:
    # numpy's key array goes in as a tensor so the checkpoint loads with weights_only=True
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss)
    states = {"python": random.getstate(), "numpy": numpy_state}
    states["torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _report(progress: ProgressFn | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress(fraction, message)
