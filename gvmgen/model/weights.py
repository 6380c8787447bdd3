"""Our weight format (safetensors + JSON config), verification, and loading for inference.

A GVMGen directory holds `config.json` (`{"format": "gvmgen", "model": GVMGenConfig,
"generation": GenerationConfig, "codec_included": bool, ...}`) and `model.safetensors` with the
state dict of `GVMGenModel`. When the EnCodec weights are not included they come from an
EnCodec or MusicGen snapshot found offline (`gvmgen.model.snapshots`). Nothing downloads.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gvmgen.atomic import atomic_path, write_text_atomic
from gvmgen.errors import WeightsError
from gvmgen.model import snapshots
from gvmgen.model.config import GenerationConfig, GVMGenConfig
from gvmgen.model.model import GVMGenModel, build_empty_model

FORMAT_VERSION = 1
CODEC_PREFIX = "codec."


@dataclass
class VerifyReport:
    """What `gvmgen models verify` prints; `ok` only when nothing is missing or wrong."""

    path: str
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.error)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "path": self.path,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "mismatched": self.mismatched,
            "notes": self.notes,
            "error": self.error,
        }


def save_gvmgen(
    model: GVMGenModel,
    out_dir: str | Path,
    generation: GenerationConfig | None = None,
    include_codec: bool = True,
    source: str = "",
    dtype: torch.dtype | None = None,
    provenance: list[dict] | None = None,
) -> Path:
    """Write `model` to `out_dir` in our format (atomically per file); returns the directory.

    `dtype` (e.g. fp16, the official checkpoint's) applies to every float tensor but EnCodec's.
    `provenance`: each weight's source and licence (`gvmgen.model.provenance`).
    """
    state = {
        key: value
        for key, value in model.state_dict().items()
        if include_codec or not key.startswith(CODEC_PREFIX)
    }
    return save_state(
        state, model.config, out_dir, generation, include_codec, source, dtype, provenance
    )


def save_state(
    state: dict[str, torch.Tensor],
    config: GVMGenConfig,
    out_dir: str | Path,
    generation: GenerationConfig | None = None,
    include_codec: bool = True,
    source: str = "",
    dtype: torch.dtype | None = None,
    provenance: list[dict] | None = None,
) -> Path:
    """Write a `GVMGenModel` state dict and its config to `out_dir` (see `save_gvmgen`) without
    building the model: the importer's way, holding little more than the checkpoint itself.

    Files get the mode a plain `open()` would give them (0666 less the umask), so a shared
    models folder works for everyone it is shared with.
    """
    from safetensors.torch import save_file

    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    tensors = {key: _storable(key, value, dtype) for key, value in state.items()}
    with atomic_path(out / snapshots.WEIGHTS_FILE) as tmp:
        mode = stat.S_IMODE(tmp.stat().st_mode)  # the umask's, from atomic_path
        save_file(tensors, str(tmp), metadata={"format": snapshots.FORMAT_NAME})
        os.chmod(tmp, mode)  # safetensors writes its own file, owner-only, in place of ours
    del tensors
    meta = {
        "format": snapshots.FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "model": config.to_dict(),
        "generation": (generation or GenerationConfig()).to_dict(),
        "codec_included": include_codec,
        "source": source,
    }
    if provenance is not None:
        meta["provenance"] = provenance
    write_text_atomic(out / snapshots.CONFIG_FILE, json.dumps(meta, indent=2) + "\n")
    return out


def _storable(key: str, value: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """`value` on the host, in `dtype` (float tensors but EnCodec's), owning all its storage:
    safetensors refuses tensors that share one, as fused decoding views and split q/k/v do."""
    value = value.detach().to("cpu")
    if dtype is not None and value.is_floating_point() and not key.startswith(CODEC_PREFIX):
        value = value.to(dtype)
    whole = value.untyped_storage().nbytes() == value.numel() * value.element_size()
    if not (whole and value.is_contiguous() and value.storage_offset() == 0):
        value = value.clone(memory_format=torch.contiguous_format)
    return value


def read_config(directory: str | Path) -> tuple[GVMGenConfig, GenerationConfig, dict]:
    """(model config, generation config, raw meta) of a GVMGen directory; WeightsError if bad."""
    path = Path(directory).expanduser() / snapshots.CONFIG_FILE
    try:
        meta = json.loads(path.read_text())
        if meta.get("format") != snapshots.FORMAT_NAME:
            raise ValueError(f"'format' is {meta.get('format')!r}, expected 'gvmgen'")
        config = GVMGenConfig.from_dict(meta["model"])
        generation = GenerationConfig(**meta.get("generation", {}))
        generation.validate()
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WeightsError(f"{path} is not a GVMGen config: {error}") from error
    return config, generation, meta


def expected_shapes(config: GVMGenConfig) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of a model with `config` and its shape (built on the meta device)."""
    with torch.device("meta"):
        model = GVMGenModel(config)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def stored_shapes(weights_file: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes in a safetensors file, read from its header only."""
    from safetensors import safe_open

    with safe_open(str(weights_file), framework="pt") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118


def verify(directory: str | Path, models_dir: str | Path | None = None) -> VerifyReport:
    """Compare a GVMGen directory's tensors with what its config needs."""
    directory = Path(directory).expanduser()
    report = VerifyReport(path=str(directory))
    try:
        config, _, meta = read_config(directory)
        stored = stored_shapes(directory / snapshots.WEIGHTS_FILE)
    except (WeightsError, OSError) as error:
        report.error = str(error)
        return report
    except Exception as error:  # a corrupt safetensors header raises library-specific errors
        report.error = f"cannot read {directory / snapshots.WEIGHTS_FILE}: {error}"
        return report
    expected = expected_shapes(config)
    if not meta.get("codec_included"):
        expected = {k: v for k, v in expected.items() if not k.startswith(CODEC_PREFIX)}
        _check_codec_source(report, models_dir)
    _compare(report, expected, stored)
    return report


def _compare(report: VerifyReport, expected: dict, stored: dict) -> None:
    report.missing += sorted(set(expected) - set(stored))
    report.unexpected += sorted(set(stored) - set(expected))
    for key in sorted(set(expected) & set(stored)):
        if expected[key] != stored[key]:
            report.mismatched.append(
                {"key": key, "expected": list(expected[key]), "found": list(stored[key])}
            )


def _check_codec_source(report: VerifyReport, models_dir) -> None:
    codec = snapshots.find_codec(models_dir)
    if codec is None:
        report.missing.append("codec (EnCodec 32 kHz: not included and no snapshot found)")
    else:
        report.notes.append(f"EnCodec from {codec.kind} snapshot {codec.path}")


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_gvmgen(
    directory: str | Path, device: str = "auto", models_dir: str | Path | None = None
) -> tuple[GVMGenModel, GenerationConfig]:
    """A GVMGen directory → (model in eval mode on `device`, its generation config)."""
    from safetensors.torch import load_file

    directory = Path(directory).expanduser()
    config, generation, meta = read_config(directory)
    report = verify(directory, models_dir)
    if not report.ok:
        raise WeightsError(f"{directory} fails verification: {_summary(report)}")
    model = build_empty_model(config)
    state = load_file(str(directory / snapshots.WEIGHTS_FILE))
    if not meta.get("codec_included"):
        state.update(codec_state(snapshots.find_codec(models_dir)))
    _load_state(model, state, directory)
    return model.to(resolve_device(device)).eval(), generation


def _load_state(model: GVMGenModel, state: dict, source) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise WeightsError(f"weights in {source} do not fit the config: {first}") from error


def _summary(report: VerifyReport) -> str:
    if report.error:
        return report.error
    parts = [f"{len(report.missing)} missing", f"{len(report.unexpected)} unexpected"]
    parts.append(f"{len(report.mismatched)} mismatched")
    first = (report.missing or report.unexpected or [m["key"] for m in report.mismatched])[:1]
    return ", ".join(parts) + (f" (e.g. {first[0]})" if first else "")


def codec_state(snapshot: snapshots.Snapshot | None) -> dict[str, torch.Tensor]:
    """EnCodec weights from a snapshot, keyed for `GVMGenModel` (`codec.*`)."""
    if snapshot is None:
        raise WeightsError(snapshots.install_hint(snapshots.models_dir()))
    if snapshot.kind == "encodec":
        from transformers import EncodecModel

        codec = EncodecModel.from_pretrained(str(snapshot.path), local_files_only=True)
        return {CODEC_PREFIX + k: v for k, v in codec.state_dict().items()}
    return _codec_from_musicgen(snapshot.path)


def _codec_from_musicgen(path: Path) -> dict[str, torch.Tensor]:
    """The `audio_encoder.*` tensors of a MusicGen snapshot (legacy weight-norm names mapped)."""
    from safetensors.torch import load_file

    state = {}
    for file in sorted(path.glob("*.safetensors")):
        for key, value in load_file(str(file)).items():
            if key.startswith("audio_encoder."):
                name = key[len("audio_encoder.") :]
                name = name.replace(".weight_g", ".parametrizations.weight.original0")
                name = name.replace(".weight_v", ".parametrizations.weight.original1")
                state[CODEC_PREFIX + name] = value
    if not state:
        raise WeightsError(f"no EnCodec (audio_encoder.*) tensors in the snapshot {path}")
    return state
