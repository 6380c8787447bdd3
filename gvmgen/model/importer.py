"""`gvmgen models import`: official checkpoint (+ an EnCodec snapshot) → our format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from gvmgen.errors import WeightsError
from gvmgen.model import snapshots
from gvmgen.model.config import ENCODEC_32KHZ, OFFICIAL_SEGMENT_SECONDS, GenerationConfig
from gvmgen.model.official import (
    checkpoint_file,
    load_official,
    official_config,
    official_generation,
    remap_official,
)
from gvmgen.model.provenance import import_record
from gvmgen.model.weights import VerifyReport, codec_state, expected_shapes, save_state, verify


@dataclass
class ImportReport:
    out: Path
    consumed: int
    unconsumed: list[str]
    codec: str  # where the EnCodec weights came from
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
    licence: str | None = None,
    windows: str = "per-window",
) -> ImportReport:
    """Remap the official checkpoint onto `GVMGenModel` and write it to `out_dir`.

    Everything that can fail is checked before a byte is written: the codec (found, loadable,
    matching the LM's codebooks and frame rate), every checkpoint tensor used and every model
    tensor filled. `licence` is recorded for the checkpoint's weights (default: the one known
    for the official checkpoint); `windows` is the long-cue policy the engine will use.
    """
    checkpoint_file(checkpoint)
    codec = codec_snapshot(codec_dir, models_dir)
    if codec is None:
        raise WeightsError(snapshots.codec_hint(snapshots.models_dir(models_dir)))
    official = load_official(checkpoint, trust_pickle)
    remapped = remap_official(official.state)
    if remapped.unconsumed:
        raise WeightsError(
            f"{len(remapped.unconsumed)} checkpoint tensors have no place in the model, e.g. "
            f"{remapped.unconsumed[:3]}"
        )
    card = official.state["emb.0.weight"].shape[0] - 1 if "emb.0.weight" in official.state else 2048
    config = official_config(official.state, official.xp, codec_config(codec, card))
    generation = _generation(official.xp, windows)
    state = dict(remapped.state)
    state.update(codec_state(codec))
    _check_fills(config, state)
    out = save_state(  # the tensors as they are: no model built, no fp32 copy held
        state,
        config,
        out_dir,
        generation,
        include_codec=True,
        source=str(checkpoint),
        dtype=_source_dtype(official.state),
        provenance=import_record(str(checkpoint), licence, codec),
    )
    where = f"{codec.kind} snapshot {codec.path}"
    return ImportReport(
        out, len(official.state), remapped.unconsumed, where, verify(out, models_dir)
    )


def _generation(xp: dict, windows: str) -> GenerationConfig:
    """The checkpoint's sampling settings with the window policy; `official` windows are the
    checkpoint's training segment (`dataset.segment_duration`), as the official code's."""
    segment = float((xp.get("dataset") or {}).get("segment_duration") or OFFICIAL_SEGMENT_SECONDS)
    try:
        return official_generation(xp).with_windows(windows, segment)
    except ValueError as error:
        raise WeightsError(f"cannot use --windows {windows}: {error}", field="windows") from error


def _check_fills(config, state: dict) -> None:
    """Every tensor of a model with `config` is in `state`, in its shape, and nothing else."""
    expected = expected_shapes(config)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"checkpoint does not fill the model: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    wrong = [k for k in sorted(expected) if tuple(state[k].shape) != expected[k]]
    if wrong:
        key = wrong[0]
        raise WeightsError(
            f"{len(wrong)} checkpoint tensors do not fit the model, e.g. {key} is "
            f"{list(state[key].shape)}, the model needs {list(expected[key])}"
        )


def _source_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    """Keep the checkpoint's float precision (fp16 for the official file)."""
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    return torch.float16 if dtypes == {torch.float16} else torch.float32
