"""Atomic file writes: a reader never sees a half-written output file.

A write goes to a temporary file beside its target, named `.<stem>.partial-<hex><suffix>` so
that anything cleaning a folder can tell it from a real file (`is_temp_name`), and is renamed
onto the target only once it is complete.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

TEMP_MARK = ".partial-"  # in every temporary file's name, and in no finished file's


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it onto `target`.

    On any exception the temporary file is removed and `target` is left as it was. The temp
    name keeps the target's suffix so writers that pick a format from it still work. The file
    gets the mode a plain `open(target, "w")` would (0666 less the umask), so colleagues and
    render nodes can read what we write.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_temp(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of `atomic_path`'s temporary files."""
    return name.startswith(".") and TEMP_MARK in name


def _new_temp(target: Path) -> Path:
    """Create an empty, uniquely named file beside `target` (the kernel applies the umask)."""
    while True:
        path = target.parent / f".{target.stem}{TEMP_MARK}{secrets.token_hex(4)}{target.suffix}"
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue


def write_text_atomic(target: str | os.PathLike, text: str, durable: bool = False) -> None:
    """`text` into `target` in one step; `durable` also flushes it to the disk before the
    rename (for a file that records a decision, such as a commit)."""
    with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    if durable:
        fsync_folder(Path(target).parent)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a finished file's data to the disk (before a rename makes it visible)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(path: str | os.PathLike) -> None:
    """Flush a folder's entries (the names a rename made) to the disk; a no-op on Windows."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
