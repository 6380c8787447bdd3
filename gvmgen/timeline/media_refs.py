"""Where a clip's media file is, whatever the NLE wrote.

Resolve writes bare paths (`/Volumes/x/a.mov`, `D:\\x\\a.mov`), the OTIO spec and Premiere's
FCP7 XML write URLs (`file:///x/a.mov`, `file://localhost/D%3a/x/a.mov`), EDL comments carry
Windows paths, and hand-made timelines use paths relative to the timeline file.
"""

from __future__ import annotations

import os.path
import re
from pathlib import Path, PureWindowsPath
from urllib.parse import quote, unquote, urlsplit

import opentimelineio as otio

# `D:/x`, `D:\x`, `/D:/x` (a drive letter after a URL path's leading slash)
_WINDOWS_DRIVE = re.compile(r"^/?([A-Za-z]):[\\/]")
_LOCAL_HOSTS = ("", "localhost", "127.0.0.1")


def media_url(clip: otio.schema.Clip) -> str | None:
    """The URL or path the clip's active media reference names; None without a file reference.

    Generators (titles, solids) and missing references have no file. An image sequence is
    named by its first frame.
    """
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference):
        return ref.target_url or None
    if isinstance(ref, otio.schema.ImageSequenceReference):
        return ref.target_url_for_image_number(0)
    return None


def path_from_url(url: str, base_dir: Path | None = None) -> Path:
    """The absolute local path a media URL or bare path points at.

    :param url: `file://` URL (percent-encoded, `localhost` or UNC host, Windows drive letters)
        or a bare path, absolute or relative.
    :param base_dir: folder that relative paths are resolved against (the timeline's folder);
        the current directory when None.
    """
    url = url.strip()
    path_text = _path_text_of_file_url(url) if url.lower().startswith("file:") else url
    if _WINDOWS_DRIVE.match(path_text):
        # Keep the drive letter absolute: on POSIX it can only be missing media, and the error
        # should name the path the editor knows.
        return Path(PureWindowsPath(path_text.lstrip("/")).as_posix())
    if path_text.startswith("\\\\"):
        return Path(PureWindowsPath(path_text).as_posix())
    path = Path(path_text).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    return Path(_normalised(path))


def file_url(path_or_url: str) -> str:
    """A `file://localhost/…` URL for a bare path, as FCP7 and Premiere write `pathurl`s
    (`file://localhost/D%3a/x/a.mov` for a Windows drive); URLs are returned as they are."""
    text = path_or_url.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", text):
        return text
    if text.startswith("\\\\"):  # a UNC share → file://server/share/a.mov
        return "file:" + quote(PureWindowsPath(text).as_posix(), safe="/")
    if _WINDOWS_DRIVE.match(text):
        posix = PureWindowsPath(text.lstrip("/")).as_posix()
    else:
        posix = os.path.abspath(text)
    return "file://localhost/" + quote(posix.lstrip("/"), safe="/")


def _path_text_of_file_url(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc.lower() not in _LOCAL_HOSTS:
        return f"//{parts.netloc}{path}"  # a UNC share: file://server/share/a.mov
    return path  # `file:a.mov` stays relative


def _normalised(path: Path) -> str:
    """`path` with `..` and `.` removed but symlinks kept (they are how editors mount media)."""
    return os.path.normpath(str(path))
