"""The range's own sound: audio tracks' clips where the timeline has them, else the visible
video clips' embedded audio; each clip from its file offset, at its record position; a missing
clip is silence, named. Judged on the audio read back (where the speech is, how loud)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest
from controls_fixtures import SPEECH_WAV

from gvmgen.media.range_audio import read_range_audio
from gvmgen.media.synth import make_test_clip
from gvmgen.timeline import read_edit

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
R = 25.0
SR = 48_000


def _clip(name: str, path, start: int, frames: int, rate: float = R) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(target_url=str(path))
    return otio.schema.Clip(
        name=name, media_reference=ref, source_range=TR(RT(start, rate), RT(frames, rate))
    )


def _envelope_db(audio: np.ndarray, frame: float = 0.05) -> np.ndarray:
    n = int(frame * SR)
    count = audio.shape[1] // n
    rms = np.sqrt((audio[0, : count * n].reshape(count, n) ** 2).mean(axis=1) + 1e-12)
    return 20 * np.log10(rms)


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    """12 s of picture whose embedded sound is a 440 Hz tone."""
    folder = tmp_path_factory.mktemp("range_audio")
    t = np.arange(12 * SR) / SR
    tone = (0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    return make_test_clip(folder / "pic.mp4", rate=Fraction(25), duration=12.0, audio=tone)


def _timeline(video_clips, audio_clips=()) -> otio.schema.Timeline:
    tl = otio.schema.Timeline(name="t")
    v1 = otio.schema.Track(name="V1")
    v1.extend(video_clips)
    tl.tracks.append(v1)
    if audio_clips:
        a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        a1.extend(audio_clips)
        tl.tracks.append(a1)
    return tl


def test_audio_tracks_are_read_at_their_record_positions(picture, tmp_path):
    # A1: 2 s gap, the speech (10.5 s, its first 8 s), then a clip whose media is gone
    gap = otio.schema.Gap(source_range=TR(RT(0, R), RT(50, R)))
    speech = _clip("dialogue", SPEECH_WAV, 0, 200)
    gone = _clip("lost wild track", tmp_path / "missing.wav", 0, 50)
    tl = _timeline([_clip("pic", picture, 0, 300)], [gap, speech, gone])
    edit = read_edit(tl, "f25-f300")  # 1 s in: the speech starts 1 s into the range
    heard = read_range_audio(edit)
    assert heard.source == "audio tracks"
    assert heard.offline == ["lost wild track"]
    assert heard.audio.shape == (2, 11 * SR)
    # the speech file's own first word starts 1.01 s in: 2.01 s into the range
    env = _envelope_db(heard.audio)
    first_loud = np.flatnonzero(env > -40)[0] * 0.05
    assert first_loud == pytest.approx(1.0 + 1.01, abs=0.06)
    assert env[: int(0.9 / 0.05)].max() < -100  # the gap is silence, not the picture's tone
    assert env[int(9.1 / 0.05) :].max() < -100  # after the speech's 8 s: the missing clip


def test_without_audio_tracks_the_video_clips_sound_is_read(picture):
    tl = _timeline([_clip("A", picture, 0, 100), _clip("B", picture, 200, 100)])
    heard = read_range_audio(read_edit(tl))
    assert heard.source == "video clips"
    assert heard.offline == []
    env = _envelope_db(heard.audio)
    level = 20 * np.log10(0.25 / np.sqrt(2))
    assert np.median(env) == pytest.approx(level, abs=1.0)  # the tone throughout, both clips
    assert heard.audio.shape[1] == 8 * SR


def test_music_we_placed_before_is_not_the_timelines_sound(picture):
    from gvmgen.timeline.score_track import SCORE_TRACK_NAME

    tl = _timeline([_clip("A", picture, 0, 100)], [_clip("GVMGen cue 1", SPEECH_WAV, 0, 100)])
    tl.tracks[1].name = SCORE_TRACK_NAME
    heard = read_range_audio(read_edit(tl))
    assert heard.source == "video clips"
