"""The scored range's own sound, as the editor hears it: dialogue, effects, production audio.

The audio tracks' clips, summed (audio tracks mix; none hides another); where the timeline has
no audio in the range, the visible video clips' embedded audio instead (a camera file's sound,
or a bare video's). Each clip is decoded from its file offset for its length with PyAV
(seeking, so a long source file is not decoded from its start), resampled to 48 kHz stereo and
laid at its record position. A clip whose media is missing or has no sound is silence there,
and is listed in `offline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gvmgen.media.audio import DELIVERY_RATE

SEEK_PREROLL = 0.5  # s decoded before a clip's in point: AAC and MP3 need a few frames to settle


@dataclass(frozen=True)
class RangeAudio:
    """The range's own sound, `[2, N]` float32 at `sample_rate`, N the range's length.

    Attributes:
        source: "audio tracks", "video clips" (embedded audio) or "none".
        offline: names of the clips that played silence (media missing or soundless).
    """

    audio: np.ndarray
    sample_rate: int
    source: str
    offline: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.audio.shape[1] / self.sample_rate


def read_range_audio(edit, sample_rate: int = DELIVERY_RATE) -> RangeAudio:
    """The sound of `edit`'s range (a `gvmgen.timeline.Edit`)."""
    from gvmgen.timeline.edit import audio_track_segments

    length = round(edit.duration.to_seconds() * sample_rate)
    out = np.zeros((2, length), np.float32)
    tracks = audio_track_segments(edit)
    source = "audio tracks"
    if not tracks:
        tracks = [[s for s in edit.segments if s.media_path is not None]]
        source = "video clips" if tracks[0] else "none"
    offline = []
    for segments in tracks:
        for segment in segments:
            if not _lay(out, segment, sample_rate):
                offline.append(segment.clip_name)
    return RangeAudio(out, sample_rate, source, offline)


def _lay(out: np.ndarray, segment, sample_rate: int) -> bool:
    """Add the segment's sound at its record position; False when there is none to add."""
    start = round(segment.record_range.start_time.to_seconds() * sample_rate)
    length = round(segment.record_range.duration.to_seconds() * sample_rate)
    length = min(length, out.shape[1] - start)
    if segment.media_path is None or length <= 0:
        return False
    audio = decode_span(segment.media_path, segment.file_offset, length / sample_rate, sample_rate)
    if audio is None:
        return False
    take = min(length, audio.shape[1])
    out[:, start : start + take] += audio[:, :take]
    return True


def decode_span(
    path: Path, start: float, duration: float, sample_rate: int = DELIVERY_RATE
) -> np.ndarray | None:
    """`[2, ~duration * sample_rate]` of `path`'s first audio stream from `start` seconds, or
    None when the file is missing, unreadable or has no audio."""
    import av

    if not Path(path).is_file():
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            return _decoded(container, container.streams.audio[0], start, duration, sample_rate)
    except (av.FFmpegError, OSError):
        return None


def _decoded(container, stream, start: float, duration: float, sample_rate: int) -> np.ndarray:
    import av

    origin = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
    if start > SEEK_PREROLL:
        target = int((start + origin - SEEK_PREROLL) / stream.time_base)
        container.seek(target, stream=stream, backward=True)
    mono = stream.codec_context.channels == 1  # spread to both sides at full level, as NLEs do
    layout = "mono" if mono else "stereo"
    resampler = av.AudioResampler(format="fltp", layout=layout, rate=sample_rate)
    chunks, first_time = [], None
    want_end = start + duration
    for frame in container.decode(stream):
        time = None if frame.time is None else frame.time - origin
        for out in resampler.resample(frame):
            if first_time is None:
                first_time = time if time is not None else 0.0
            chunks.append(out.to_ndarray())
        if time is not None and time > want_end:
            break
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray())
    if not chunks:
        return np.zeros((2, 0), np.float32)
    audio = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    if mono:
        audio = np.repeat(audio, 2, axis=0)
    skip = max(0, round((start - (first_time or 0.0)) * sample_rate))
    return audio[:, skip : skip + round(duration * sample_rate)]
