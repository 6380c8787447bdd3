"""The menu commands as an editor runs them: the clip placed, read back from the timeline."""

from __future__ import annotations

import soundfile

from tests.plugin.conftest import client_calls, errors_in
from tests.plugin.fake_resolve import RATES


def score_clips(timeline):
    return [
        (index + 1, item)
        for index, track in enumerate(timeline.audio)
        if track.name.startswith("GVMGen Score")
        for item in track.items
    ]


def wav_frames(item, timeline) -> float:
    info = soundfile.info(item.mpi.path)
    return info.frames * RATES[timeline.rate_text] / info.samplerate


def test_score_marked_range_places_one_clip_exactly_on_the_range(editor, tmp_path):
    tl = editor.timeline
    tl.set_marks(217, 217 + 30 * 24 - 1)  # In at frame 217, Out inclusive
    lines = editor.run("Score Marked Range")
    assert errors_in(lines) == []
    ((_track, item),) = score_clips(tl)
    assert item.start == tl.start + 217
    assert item.duration == 30 * 24
    assert abs(wav_frames(item, tl) - item.duration) < 1  # the WAV is as long as the clip
    assert item.color == "Purple"
    (marker,) = item.markers.values()
    assert marker["customData"]  # the job id
    assert item.mpi in editor.resolve.project.media_pool.root.subfolders[0].clips
    call = client_calls(tmp_path)[-1]
    assert call[call.index("--range") + 1] == "f217-f937"
