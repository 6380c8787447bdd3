"""`gvmgen models import`: official checkpoint (+ an EnCodec snapshot) → our format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from gvmgen.errors import WeightsError
from gvmgen.model import snapshots
from gvmgen.model.config import ENCODEC_32KHZ
from gvmgen.model.model import GVMGenModel, build_empty_model
from gvmgen.model.official import (
    load_official,
    official_config,
    official_generation,
    remap_official,
)
from gvmgen.model.weights import CODEC_PREFIX, VerifyReport, codec_state, save_gvmgen, verify


@dataclass
class ImportReport:
    out: Path
    consumed: int
    unconsumed: list[str]
    codec: str  # where the EnCodec weights came from, or why they are absent
    verify: VerifyReport

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "consumed": self.consumed,
            "unconsumed": self.unconsumed,
            "codec": self.codec,
            "verify": self.verify.to_dict(),
        }


def codec_snapshot(codec_dir: str | Path | None, models_dir) -> snapshots.Snapshot | None:
    """The EnCodec source: `codec_dir` when given (must be a snapshot), else one found offline."""
    if codec_dir is None:
        return snapshots.find_codec(models_dir)
    path = Path(codec_dir).expanduser()
    kind = snapshots.snapshot_kind(path)
    if kind not in ("encodec", "musicgen"):
        raise WeightsError(f"--codec {path} is not an EnCodec or MusicGen snapshot")
    return snapshots.Snapshot(kind, path.name, path, "argument")


def codec_config(snapshot: snapshots.Snapshot | None, card: int = 2048) -> dict:
    """EnCodec architecture kwargs from the snapshot's config.json.

    Without a snapshot: EnCodec 32 kHz, with the LM's codebook size (2048 for real weights).
    """
    if snapshot is None:
        return dict(ENCODEC_32KHZ, codebook_size=card)
    raw = json.loads((snapshot.path / snapshots.CONFIG_FILE).read_text())
    if snapshot.kind == "musicgen":
        raw = raw.get("audio_encoder", {})
    return {key: raw[key] for key in ENCODEC_32KHZ if key in raw}


def import_official(
    checkpoint: str | Path,
    out_dir: str | Path,
    codec_dir: str | Path | None = None,
    models_dir: str | Path | None = None,
    trust_pickle: bool = False,
) -> ImportReport:
    """Remap the official checkpoint onto `GVMGenModel` and write it to `out_dir`.

    Raises WeightsError when a checkpoint tensor is not used or a model tensor is not filled.
    """
    official = load_official(checkpoint, trust_pickle)
    remapped = remap_official(official.state)
    if remapped.unconsumed:
        raise WeightsError(
            f"{len(remapped.unconsumed)} checkpoint tensors have no place in the model, e.g. "
            f"{remapped.unconsumed[:3]}"
        )
    codec = codec_snapshot(codec_dir, models_dir)
    card = official.state["emb.0.weight"].shape[0] - 1 if "emb.0.weight" in official.state else 2048
    config = official_config(official.state, official.xp, codec_config(codec, card))
    model = build_empty_model(config)
    state = dict(remapped.state)
    if codec is not None:
        state.update(codec_state(codec))
    _load_checked(model, state, include_codec=codec is not None)
    out = save_gvmgen(
        model,
        out_dir,
        official_generation(official.xp),
        include_codec=codec is not None,
        source=str(checkpoint),
        dtype=_source_dtype(official.state),
    )
    where = f"{codec.kind} snapshot {codec.path}" if codec else "not included (no snapshot found)"
    return ImportReport(
        out, len(official.state), remapped.unconsumed, where, verify(out, models_dir)
    )


def _load_checked(model: GVMGenModel, state: dict, include_codec: bool) -> None:
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if include_codec or not k.startswith(CODEC_PREFIX)]
    if missing or result.unexpected_keys:
        raise WeightsError(
            f"checkpoint does not fill the model: missing {missing[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )


def _source_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    """Keep the checkpoint's float precision (fp16 for the official file)."""
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    return torch.float16 if dtypes == {torch.float16} else torch.float32
