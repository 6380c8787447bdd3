"""A timeline's preview: the scored range flattened at the timeline's rate from its start, each
frame the source frame that shows there (judged by the frame counter burnt into the source),
missing media black with a "MEDIA OFFLINE" title, and the mix as its sound."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest

from gvmgen.media.preview import render_timeline_preview
from gvmgen.media.synth import make_test_clip, read_counter
from gvmgen.timeline import read_edit

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
R = 25.0
SR = 48_000


def _clip(name, path, start, frames):
    ref = otio.schema.ExternalReference(target_url=str(path))
    return otio.schema.Clip(
        name=name, media_reference=ref, source_range=TR(RT(start, R), RT(frames, R))
    )


@pytest.fixture(scope="module")
def counter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preview")
    path = make_test_clip(
        folder / "counter.mp4", rate=Fraction(25), duration=8.0, kind="counter", size=(320, 180)
    )
    return path, folder


def _decoded(path):
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        rate = video.average_rate
        container.seek(0)
        audio = [f.to_ndarray() for f in container.decode(container.streams.audio[0])]
    return frames, rate, np.concatenate(audio, axis=1)


def test_a_timeline_with_an_offline_clip_previews_as_the_viewer_shows_it(counter):
    path, folder = counter
    v1 = otio.schema.Track(name="V1")
    v1.append(_clip("A", path, 100, 25))  # source frames 100-124
    v1.append(_clip("gone", folder / "missing.mov", 0, 25))
    v1.append(otio.schema.Gap(source_range=TR(RT(0, R), RT(10, R))))
    v1.append(_clip("B", path, 10, 30))  # source frames 10-39
    tl = otio.schema.Timeline(name="t")
    tl.tracks.append(v1)
    edit = read_edit(tl, "f5-f90", allow_missing_media=True)  # 85 frames, starting inside A
    music = np.zeros((2, round(85 / R * SR)), np.float32)
    music[:, : SR // 2] = 0.1  # something to hear back at the start
    out = render_timeline_preview(edit, music, SR, folder / "preview.mp4")
    frames, rate, audio = _decoded(out)
    assert rate == 25 and len(frames) == 85
    assert [read_counter(f) for f in frames[:20]] == list(range(105, 125))
    offline = frames[20:45]
    middle = offline[0][75:105].astype(int)
    assert middle[..., 0].mean() > 60 and middle[..., 1].mean() < 80  # the red title band
    assert max(f[:30].mean() for f in offline) < 10  # black above it
    assert max(f.mean() for f in frames[45:55]) < 10  # the gap: black
    assert [read_counter(f) for f in frames[55:85]] == list(range(10, 40))
    assert audio.shape[0] == 2 and abs(audio.shape[1] / SR - 85 / R) < 0.05
    assert np.abs(audio[:, 2000:20000]).mean() > 0.05
