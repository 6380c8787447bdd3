"""Broadcast WAV: a `bext` chunk (EBU Tech 3285 v2) in a delivered WAV, so an NLE or DAW places
the file at its cue's record in point on import (`TimeReference`) and says who made it.

The chunk goes right after `WAVE`, before `fmt `, where every reader looks first; the RIFF size
is rewritten. Text fields are ASCII (the standard's character set), cut to their widths.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gvmgen.atomic import atomic_path

ORIGINATOR = "GVMGen Scoring"
BEXT_VERSION = 2  # v2 carries loudness (EBU R128 values)
_FIXED = struct.Struct("<256s32s32s10s8sIIH64shhhhh180s")  # 602 bytes, then CodingHistory
_UNKNOWN_LOUDNESS = 0x7FFF  # "not measured" in the v2 loudness fields


@dataclass(frozen=True)
class BextInfo:
    """What the `bext` chunk says about one delivered file.

    Attributes:
        description: up to 256 ASCII characters (engine, seed, take, licence).
        time_reference: the first sample's position, samples since midnight at the file's rate.
        originator_reference: up to 32 characters (the job id).
        loudness_lufs, true_peak_dbtp: measured values, or None.
        created: when the file was made (OriginationDate/Time); now when None.
    """

    description: str
    time_reference: int
    originator_reference: str = ""
    loudness_lufs: float | None = None
    true_peak_dbtp: float | None = None
    coding_history: str = ""
    created: datetime | None = None


def samples_since_midnight(frame: int, rate: float, sample_rate: int = 48_000) -> int:
    """`TimeReference` for a record frame counted from 00:00:00:00 at timeline `rate` (NTSC
    rates as n*1000/1001, as an NLE converts it back)."""
    from gvmgen.timeline.ranges import rate_fraction

    return round(frame * sample_rate / rate_fraction(rate))


def bext_chunk(info: BextInfo) -> bytes:
    """The chunk's bytes: id, size, body (padded to an even length)."""
    created = info.created or datetime.now()
    fixed = _FIXED.pack(
        _ascii(info.description, 256),
        _ascii(ORIGINATOR, 32),
        _ascii(info.originator_reference, 32),
        created.strftime("%Y-%m-%d").encode(),
        created.strftime("%H:%M:%S").encode(),
        info.time_reference & 0xFFFFFFFF,
        info.time_reference >> 32,
        BEXT_VERSION,
        bytes(64),  # no UMID
        _centi(info.loudness_lufs),
        _UNKNOWN_LOUDNESS,  # loudness range
        _centi(info.true_peak_dbtp),
        _UNKNOWN_LOUDNESS,  # max momentary
        _UNKNOWN_LOUDNESS,  # max short-term
        bytes(180),
    )
    body = fixed + info.coding_history.encode("ascii", "replace")
    body += b"\0" * (len(body) % 2)
    return b"bext" + struct.pack("<I", len(body)) + body


def add_bext(path: str | os.PathLike, info: BextInfo) -> Path:
    """Rewrite the WAV at `path` with `info`'s `bext` chunk first (replacing any), atomically."""
    path = Path(path)
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{str(path)!r} is not a RIFF WAVE file")
    chunks = [c for c in _chunks(data[12:]) if c[:4] != b"bext"]
    body = b"WAVE" + bext_chunk(info) + b"".join(chunks)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def coding_history(sample_rate: int, bits: int, channels: int, version: str) -> str:
    """One CodingHistory line (EBU R98): how the file was made."""
    mode = {1: "mono", 2: "stereo"}.get(channels, f"{channels}ch")
    return f"A=PCM,F={sample_rate},W={bits},M={mode},T={ORIGINATOR} {version}\r\n"


def _chunks(data: bytes) -> list[bytes]:
    """Each chunk of a RIFF body (after `WAVE`) as its bytes, padding included."""
    out, at = [], 0
    while at + 8 <= len(data):
        size = struct.unpack_from("<I", data, at + 4)[0]
        end = min(at + 8 + size + (size % 2), len(data))
        out.append(data[at:end])
        at = end
    return out


def _ascii(text: str, width: int) -> bytes:
    return text.encode("ascii", "replace")[:width]


def _centi(value: float | None) -> int:
    """A v2 loudness field: hundredths, or 'unknown'."""
    if value is None or value != value or abs(value) > 327:
        return _UNKNOWN_LOUDNESS
    return round(value * 100)
