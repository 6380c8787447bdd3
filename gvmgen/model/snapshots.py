"""Where weights live on disk: our models directory and the offline Hugging Face cache.

Nothing here downloads or imports torch. Kinds of snapshot found:

- `gvmgen`  — our format (`config.json` with `"format": "gvmgen"` + `model.safetensors`),
  written by `gvmgen models import`;
- `musicgen` / `encodec` / `clip` — Hugging Face snapshots (`config.json` + weights) of the
  MusicGen decoder and its EnCodec, and CLIP ViT-L/14@336, in the models directory or the cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR_ENV = "GVMGEN_MODELS_DIR"
DEFAULT_MODELS_DIR = Path("~/.cache/gvmgen/models")
GVMGEN_SUBDIR = "gvmgen"  # where `models import` writes by default
FORMAT_NAME = "gvmgen"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

_KINDS = {
    "musicgen": "musicgen",
    "musicgen_decoder": "musicgen",
    "encodec": "encodec",
    "clip": "clip",
    "clip_vision_model": "clip",
}


@dataclass(frozen=True)
class Snapshot:
    kind: str  # gvmgen | musicgen | encodec | clip
    name: str  # repo id or directory name
    path: Path
    source: str  # "models dir" | "hf cache"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "path": str(self.path), "source": self.source}


def models_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The models directory: the argument, else $GVMGEN_MODELS_DIR, else ~/.cache/gvmgen/models."""
    chosen = explicit or os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR
    return Path(chosen).expanduser()


def hf_cache_dirs() -> list[Path]:
    """Candidate Hugging Face hub caches, most specific first (only those that exist)."""
    candidates = []
    if os.environ.get("HF_HUB_CACHE"):
        candidates.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        candidates.append(Path(os.environ["HF_HOME"]) / "hub")
    candidates.append(Path("~/.cache/huggingface/hub"))
    seen, found = set(), []
    for path in (p.expanduser() for p in candidates):
        if path.is_dir() and path.resolve() not in seen:
            seen.add(path.resolve())
            found.append(path)
    return found


def snapshot_kind(path: Path) -> str | None:
    """The kind of snapshot at `path`, or None when it is not one (reads config.json only)."""
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        return None
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    if config.get("format") == FORMAT_NAME:
        return "gvmgen" if (path / WEIGHTS_FILE).is_file() else None
    if not _has_weights(path):
        return None
    return _KINDS.get(str(config.get("model_type", "")))


def _has_weights(path: Path) -> bool:
    return any(path.glob("*.safetensors")) or any(path.glob("*.bin"))


def find_snapshots(explicit_dir: str | os.PathLike | None = None) -> list[Snapshot]:
    """Every snapshot in the models directory (two levels deep) and the HF caches."""
    found = []
    root = models_dir(explicit_dir)
    if root.is_dir():
        for path in [root, *_subdirs(root), *(s for d in _subdirs(root) for s in _subdirs(d))]:
            kind = snapshot_kind(path)
            if kind:
                found.append(Snapshot(kind, path.name, path, "models dir"))
    for cache in hf_cache_dirs():
        found.extend(_cache_snapshots(cache))
    return found


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def _cache_snapshots(cache: Path) -> list[Snapshot]:
    """`models--org--name/snapshots/<rev>/` entries of a hub cache."""
    found = []
    for repo in cache.glob("models--*"):
        name = repo.name[len("models--") :].replace("--", "/")
        for revision in _subdirs(repo / "snapshots"):
            kind = snapshot_kind(revision)
            if kind:
                found.append(Snapshot(kind, name, revision, "hf cache"))
    return found


def find_kind(kind: str, explicit_dir: str | os.PathLike | None = None) -> Snapshot | None:
    """The first snapshot of `kind`, preferring the models directory over the cache."""
    return next((s for s in find_snapshots(explicit_dir) if s.kind == kind), None)


def codec_included(gvmgen_dir: Path) -> bool:
    """True when our format's config says its safetensors hold the EnCodec weights too."""
    try:
        config = json.loads((gvmgen_dir / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return False
    return bool(config.get("codec_included"))


# Where the GVMGen authors publish `state_dict.bin`: the Google Drive folder that the official
# repository's README links (§7 "Dataset and Model weights", github.com/chouliuzuo/GVMGen).
CHECKPOINT_URL = "https://drive.google.com/drive/folders/1OKVQlz7TPKEGTPEK-BiH1tJ3FYT11GON"
CHECKPOINT_PAGE = "https://github.com/chouliuzuo/GVMGen"


def install_hint(root: Path) -> str:
    """One actionable line: where the published weights are, and the exact import command."""
    return (
        f"no GVMGen weights in {root} (set ${MODELS_DIR_ENV} to change it): download the "
        f"official state_dict.bin from the GVMGen authors' folder {CHECKPOINT_URL} (linked from "
        f"{CHECKPOINT_PAGE}), then run `gvmgen models import /path/to/state_dict.bin --out "
        f"{root / GVMGEN_SUBDIR}`; EnCodec comes from a facebook/encodec_32khz or "
        f"facebook/musicgen-small snapshot in {root} or the Hugging Face cache"
    )


def codec_hint(root: Path) -> str:
    """One line: no EnCodec 32 kHz to import with, and where to put one."""
    return (
        f"no EnCodec 32 kHz snapshot found, so nothing was imported: put a "
        f"facebook/encodec_32khz (or facebook/musicgen-small) snapshot in {root} or the Hugging "
        f"Face cache, or name one with --codec DIR"
    )


def weights_status(explicit_dir: str | os.PathLike | None = None) -> tuple[bool, str]:
    """(ready, why) for the gvmgen engine, cheaply: config files only, no torch."""
    root = models_dir(explicit_dir)
    model = find_kind("gvmgen", explicit_dir)
    if model is None:
        return False, install_hint(root)
    if codec_included(model.path):
        return True, f"GVMGen weights at {model.path}"
    codec = find_codec(explicit_dir)
    if codec is None:
        return False, (
            f"GVMGen weights at {model.path} but no EnCodec 32 kHz: put a facebook/encodec_32khz "
            f"snapshot in {root} or the Hugging Face cache, or re-import with --codec DIR"
        )
    return True, f"GVMGen weights at {model.path}, EnCodec at {codec.path}"


def find_codec(explicit_dir: str | os.PathLike | None = None) -> Snapshot | None:
    """An EnCodec snapshot, or a MusicGen snapshot (whose audio encoder is EnCodec 32 kHz)."""
    return find_kind("encodec", explicit_dir) or find_kind("musicgen", explicit_dir)
