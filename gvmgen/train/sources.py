"""What to learn from: pairs of picture and music found in a folder, a file or a manifest.

SRC may be:

- a folder of videos: each video's own audio track is its music, unless a music file with
  the same name (stem) sits beside it (`clip.mp4` + `clip.wav`), which then wins;
- a single video file;
- a JSONL manifest, one object per line: `{"video": PATH, "music": PATH?}` (paths relative to
  the manifest's folder; `music` absent = the video's own track).

Problems found here (a manifest line that is not JSON, a music file without a video) become
`Skipped` entries, never exceptions: one bad item must not stop a long preparation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gvmgen.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mxf")
MUSIC_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".aif", ".aiff", ".opus")


@dataclass(frozen=True)
class Pair:
    """One video and where its music is (None: the video's own audio track)."""

    name: str  # stable id: the path relative to SRC (or the manifest line)
    video: Path
    music: Path | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "video": str(self.video), "music": _str(self.music)}


@dataclass(frozen=True)
class Skipped:
    """An item left out, and why (one line of DATA/skipped.jsonl)."""

    name: str
    path: str
    reason: str

    def to_dict(self) -> dict:
        return {"item": self.name, "path": self.path, "reason": self.reason}


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def find_pairs(src: str | Path) -> tuple[list[Pair], list[Skipped]]:
    """Pairs in SRC, sorted by name, and the entries that could not become pairs."""
    src = Path(src).expanduser()
    if not src.exists():
        raise InputError(f"SRC {str(src)!r} does not exist (expected a folder, video or .jsonl)")
    if src.is_dir():
        return _folder_pairs(src)
    if src.suffix.lower() == ".jsonl":
        return _manifest_pairs(src)
    if src.suffix.lower() in VIDEO_SUFFIXES:
        return [Pair(src.name, src)], []
    raise InputError(
        f"SRC {str(src)!r} is neither a folder, a video ({', '.join(VIDEO_SUFFIXES)}) "
        "nor a .jsonl manifest"
    )


def _folder_pairs(root: Path) -> tuple[list[Pair], list[Skipped]]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    music = {}
    for path in files:
        if path.suffix.lower() in MUSIC_SUFFIXES:
            music.setdefault(path.with_suffix(""), path)
    pairs = [Pair(str(v.relative_to(root)), v, music.get(v.with_suffix(""))) for v in videos]
    matched = {p.music for p in pairs}
    skipped = [
        Skipped(str(m.relative_to(root)), str(m), "music file with no video of the same name")
        for m in music.values()
        if m not in matched
    ]
    return pairs, skipped


def _manifest_pairs(manifest: Path) -> tuple[list[Pair], list[Skipped]]:
    pairs, skipped = [], []
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the manifest {str(manifest)!r}: {error}") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name = f"{manifest.name}:{number}"
        try:
            pairs.append(_manifest_pair(json.loads(line), manifest.parent, name))
        except (ValueError, TypeError, KeyError) as error:
            skipped.append(Skipped(name, str(manifest), f"bad manifest line: {error}"))
    return pairs, skipped


def _manifest_pair(entry: dict, base: Path, name: str) -> Pair:
    if not isinstance(entry, dict) or not isinstance(entry.get("video"), str):
        raise ValueError('expected an object with a "video" path (and optionally "music")')
    music = entry.get("music")
    if music is not None and not isinstance(music, str):
        raise ValueError('"music" must be a path string')
    return Pair(
        entry.get("name") or name,
        base / entry["video"],
        None if music is None else base / music,
    )
