"""The prepared dataset on disk, and the fixed order in which training reads it.

DATA/ holds:

- `dataset.json`   what the windows are (length, frame rate, codec rate) and which frozen
                   EnCodec / CLIP made them (fingerprints), plus the model config;
- `shards/<hash>.pt`  one shard per source item (the hash of its name): `{"item",
                   "windows": [{"start", "codes" int16 [K, T_a], "frame_times" float32 [T],
                   "pixels" fp16 [T, 3, S, S] | "image_tokens" fp16 [T, N_tok, D]}]}`,
                   written atomically;
- `index.jsonl`    one line per finished item (`{"item", "shard", "windows"}`), appended after
                   its shard is on disk, so a killed run resumes where it stopped;
- `skipped.jsonl`  one line per item left out, with the reason.

Reading order is a pure function of (seed, step): epoch e is a permutation of all windows drawn
from `seed + e`, and step s of a global batch B takes positions `[s·B, (s+1)·B)` of the
epochs laid end to end; rank r of w takes its slice. Resuming needs nothing but the step.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from gvmgen.atomic import atomic_path, write_text_atomic
from gvmgen.errors import InputError
from gvmgen.model.training import TrainingBatch

DATASET_FILE = "dataset.json"
INDEX_FILE = "index.jsonl"
SKIPPED_FILE = "skipped.jsonl"
SUMMARY_FILE = "summary.json"
SHARDS_DIR = "shards"
FORMAT_NAME = "gvmgen-train"
SHARD_CACHE = 8  # shards kept in memory while reading


@dataclass(frozen=True)
class WindowRef:
    shard: str
    index: int


def read_jsonl(path: Path) -> list[dict]:
    """Objects of a JSONL file; a line cut short by a kill is ignored."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def append_jsonl(path: Path, row: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
        handle.flush()


def shard_name(item: str) -> str:
    """A shard's file name from its item's name: stable when SRC gains or loses files."""
    return hashlib.sha1(item.encode("utf-8")).hexdigest()[:16] + ".pt"


def write_shard(data_dir: Path, item: str, windows: list[dict]) -> str:
    """Write one item's windows as a shard (atomically); returns its name under shards/."""
    name = shard_name(item)
    with atomic_path(data_dir / SHARDS_DIR / name) as tmp:
        torch.save({"item": item, "windows": windows}, tmp)
    return name


def write_meta(data_dir: Path, meta: dict) -> None:
    write_text_atomic(data_dir / DATASET_FILE, json.dumps(meta, indent=2) + "\n")


def read_meta(data_dir: str | Path) -> dict:
    path = Path(data_dir).expanduser() / DATASET_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InputError(
            f"{str(path.parent)!r} is not a prepared dataset (no readable {DATASET_FILE}); "
            "run `gvmgen train prepare SRC --out DATA` first"
        ) from error
    if meta.get("format") != FORMAT_NAME:
        raise InputError(f"{path}: 'format' is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    return meta


class WindowDataset:
    """The windows of a prepared dataset, read lazily, in the fixed order described above."""

    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir).expanduser()
        self.meta = read_meta(self.root)
        self.refs = [
            WindowRef(row["shard"], i)
            for row in read_jsonl(self.root / INDEX_FILE)
            if (self.root / SHARDS_DIR / row["shard"]).is_file()
            for i in range(int(row["windows"]))
        ]
        if not self.refs:
            raise InputError(f"the dataset {str(self.root)!r} has no windows (see skipped.jsonl)")

    def __len__(self) -> int:
        return len(self.refs)

    @functools.lru_cache(maxsize=SHARD_CACHE)  # noqa: B019 (one dataset per run)
    def _shard(self, name: str) -> dict:
        return torch.load(self.root / SHARDS_DIR / name, map_location="cpu", weights_only=True)

    def window(self, position: int) -> dict:
        ref = self.refs[position]
        return self._shard(ref.shard)["windows"][ref.index]

    def positions(self, step: int, global_batch: int, seed: int) -> list[int]:
        """Window indices of the global batch at `step` (epochs of seeded permutations)."""
        n = len(self.refs)
        out = []
        for flat in range(step * global_batch, (step + 1) * global_batch):
            epoch, offset = divmod(flat, n)
            out.append(int(_permutation(n, seed + epoch)[offset]))
        return out

    def batch(self, positions: list[int]) -> TrainingBatch:
        windows = [self.window(p) for p in positions]
        tokens = "image_tokens" in windows[0]
        return TrainingBatch(
            codes=torch.stack([w["codes"].long() for w in windows]),
            frame_times=torch.stack([w["frame_times"].float() for w in windows]),
            pixels=None if tokens else torch.stack([w["pixels"].float() for w in windows]),
            image_tokens=torch.stack([w["image_tokens"] for w in windows]) if tokens else None,
        )


@functools.lru_cache(maxsize=4)
def _permutation(n: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)


def rank_slice(positions: list[int], rank: int, world: int) -> list[int]:
    """The consecutive part of a global batch that process `rank` of `world` trains on."""
    per_rank = len(positions) // world
    return positions[rank * per_rank : (rank + 1) * per_rank]
