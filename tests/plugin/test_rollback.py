"""A placement that Resolve does not take as asked is taken back whole: every clip the append
added, whatever its length, and every track the placement added, read back from the track item
lists before and after (issue 18 item 5)."""

from __future__ import annotations

import pytest

from tests.plugin.conftest import errors_in
from tests.plugin.fake_resolve import FakeTimeline, MediaPoolItem
from tests.plugin.test_mixed_rates import Placer

# the source-frame count the scripts used before they knew about mixed rates: round(), which
# lands a 23.976 WAV one frame short on a 24 fps timeline (600 frames -> 599)
ROUNDED_SOURCE_FRAMES = """
function(wanted, timeline, media)
  local n = math.floor(wanted * media.num * timeline.den / (media.den * timeline.num) + 0.5)
  return n, wanted
end
"""


def audio_tracks(placer: Placer) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """What an editor sees on the audio tracks: each track's name and clips."""
    tl = placer.resolve.timeline
    tracks = []
    for index in range(1, tl.GetTrackCount("audio") + 1):
        items = placer.core.api.list_of(tl.GetItemListInTrack("audio", index))
        clips = [(items[i].GetStart(), items[i].GetDuration(), items[i].GetName()) for i in items]
        tracks.append((tl.GetTrackName("audio", index), sorted(clips)))
    return tracks


def failed_placement(placer: Placer, cues: list[dict], track=None) -> str:
    """Run place() expecting it to stop; returns the sentence the editor is told."""
    lua = placer.lua
    table = lua.table_from([lua.table_from(cue) for cue in cues])
    ok, failure = lua.eval("pcall")(placer.core.placement.place, placer.session, table, track)
    assert ok is False, "the placement was expected to fail"
    assert placer.core.console.is_failure(failure), str(failure)
    return failure.message


def cue(placer: Placer, record_rel: int, frames: int, name: str = "cue 1") -> dict:
    """A cue whose WAV (imported in the project's rate) is `frames` long on the timeline."""
    tl = placer.resolve.timeline
    path = f"/scores/{name.replace(' ', '-')}.wav"
    samples = round(frames * 48000 / tl.rate)
    mpi = MediaPoolItem(path, placer.resolve.project.rate_text, samples, 48000, path)
    record = tl.start + record_rel
    return {"mpi": mpi, "wav": path, "record": record, "frames": frames, "name": name}


@pytest.fixture
def mixed():
    """Project 23.976, timeline 24, production sound on A1; the old rounding put back."""
    placer = Placer("23.976", "24")
    placer.resolve.timeline.add_audio_item(1, 0, 2000, name="production sound")
    placer.core.frames.source_frames = placer.lua.eval(ROUNDED_SOURCE_FRAMES)
    return placer


def test_a_clip_one_frame_short_on_two_new_tracks_is_taken_back_with_both(mixed):
    before = audio_tracks(mixed)
    message = failed_placement(mixed, [cue(mixed, 100, 600)])
    assert audio_tracks(mixed) == before  # no stray clip on A2 or A3, no extra track
    assert message.endswith("try again.") and "the timeline is unchanged" in message


def test_a_partly_dropped_batch_on_a_given_track_is_taken_back_whole():
    placer = Placer("24", "24")
    tl = placer.resolve.timeline
    tl.add_audio_item(2, 0, 10, name="score")  # A2 exists; an editor's clip sits at 500
    tl.add_audio_item(2, 500, 48, name="editor's sting")
    before = audio_tracks(placer)
    cues = [cue(placer, 100, 300, "cue 1"), cue(placer, 400, 200, "cue 2"), cue(placer, 600, 90)]
    message = failed_placement(placer, cues, track=2)  # cue 2 overlaps: Resolve drops it
    assert audio_tracks(placer) == before  # cues 1 and 3 landed, and went again
    assert "did not place 1 of 3" in message and "unchanged" in message


def test_when_resolve_keeps_what_it_added_the_editor_is_not_told_it_is_unchanged(
    mixed, monkeypatch
):
    monkeypatch.setattr(FakeTimeline, "DeleteClips", lambda self, items, ripple=False: False)
    message = failed_placement(mixed, [cue(mixed, 100, 600)])
    assert "unchanged" not in message
    assert "2 clips and 2 tracks that Resolve would not take back" in message
    assert "by hand" in message


def test_a_placement_that_lands_returns_the_tracks_it_added():
    placer = Placer("24", "24")
    lua = placer.lua
    cues = lua.table_from([lua.table_from(cue(placer, 0, 48))])
    _, track, added = placer.core.placement.place(placer.session, cues)
    assert track == 2 and list(added.values()) == [2]
    _, track, added = placer.core.placement.place(
        placer.session, lua.table_from([lua.table_from(cue(placer, 100, 48, "cue 2"))])
    )
    assert track == 2 and list(added.values()) == []  # the score track had room


def test_regenerate_says_so_when_neither_take_goes_back(one_editor, monkeypatch):
    tl = one_editor.timeline
    tl.set_marks(0, 479)
    one_editor.run("Score Marked Range")
    (track,) = [t for t in tl.audio if t.name == "GVMGen Score"]
    tl.selected = list(track.items)
    monkeypatch.setattr(FakeTimeline, "append", lambda self, infos: one_editor.lua.table())
    (message,) = errors_in(one_editor.run("Regenerate Selected Clip"))
    assert "took neither the new take nor the old one back" in message
    assert "unchanged" not in message
    bin_paths = [m.path for m in one_editor.resolve.project.media_pool.all_clips()]
    assert len(bin_paths) == 2  # both takes are in the bin to drag back
