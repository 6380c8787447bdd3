"""Mixed-rate timelines: a timeline at another rate than its project. A WAV keeps the project rate
it was imported at, and Resolve floors a range in another rate onto the timeline, so the source
frames the scripts ask for must fill exactly the wanted timeline frames (or, where no whole
number of source frames can, the nearest length below: never one over the next cue)."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
from gvmgen_plugin import installer
from lupa import luajit21

from tests.plugin.conftest import errors_in, make_editor
from tests.plugin.fake_resolve import RATES, FakeResolve, MediaPoolItem

CORE = Path(installer.__file__).parent / "resolve" / installer.CORE
LENGTHS = (1, 2, 23, 24, 25, 47, 599, 600, 601, 999, 1000, 1001, 1439, 2002, 3001, 7207)
SAMPLE_RATE = 48000


def reachable_length(wanted: int, timeline: Fraction, media: Fraction) -> int:
    """The longest clip, not over `wanted`, that a whole number of source frames gives when
    Resolve floors them onto the timeline: found by trying every source length."""
    ceiling = math.ceil(wanted * media / timeline) + 2
    lengths = {math.floor(n * timeline / media) for n in range(ceiling + 1)}
    return max(length for length in lengths if length <= wanted)


class Placer:
    """gvmgen_placement.place() from the real Lua against one fake project and timeline."""

    def __init__(self, project_rate: str, timeline_rate: str, version=(21, 1, 0)):
        self.lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
        self.lua.execute('collectgarbage("stop")')  # scoder/lupa#294, see conftest
        self.resolve = FakeResolve(
            self.lua, rate=timeline_rate, project_rate=project_rate, version=version
        )
        self.core = self.lua.eval(f"dofile({json.dumps(str(CORE))})")
        self.session = self.core.api.session(self.resolve, self.lua.table_from({}))
        self.cursor = 0

    def place(self, frames: int):
        """Place one cue of `frames` timeline frames; returns the clip read back."""
        tl = self.resolve.timeline
        samples = round(frames * SAMPLE_RATE / tl.rate)  # what the backend writes
        path = f"/scores/cue-{frames}.wav"
        mpi = MediaPoolItem(path, self.resolve.project.rate_text, samples, SAMPLE_RATE, path)
        record = tl.start + self.cursor
        self.cursor += frames + 10
        cue = {"mpi": mpi, "wav": path, "record": record, "frames": frames, "name": "cue 1"}
        self.core.placement.place(self.session, self.lua.table_from([self.lua.table_from(cue)]))
        (clip,) = [i for t in tl.audio for i in t.items if i.start == record]
        return clip


@pytest.mark.parametrize(("project", "timeline"), list(itertools.product(RATES, RATES)))
def test_every_rate_pair_places_the_wanted_length(project, timeline):
    placer = Placer(project, timeline)
    for wanted in LENGTHS:
        clip = placer.place(wanted)
        assert clip.mpi.fps == project  # the WAV counts in the project's rate
        expected = reachable_length(wanted, RATES[timeline], RATES[project])
        assert clip.duration == expected, f"{wanted} frames of {project} on {timeline}"
    assert len(placer.resolve.timeline.audio) == 2  # all on one score track, nothing left over


@pytest.mark.parametrize(
    ("project", "timeline"), [("23.976", "24"), ("24", "23.976"), ("25", "50")]
)
def test_resolve_18_counts_the_end_frame_inclusively_at_mixed_rates_too(project, timeline):
    placer = Placer(project, timeline, version=(18, 6, 4))
    for wanted in LENGTHS:
        expected = reachable_length(wanted, RATES[timeline], RATES[project])
        assert placer.place(wanted).duration == expected


def test_where_the_project_rate_matches_every_length_is_exact():
    for rate in RATES:
        assert all(reachable_length(n, RATES[rate], RATES[rate]) == n for n in LENGTHS)


def test_a_23_976_project_with_a_24_fps_timeline_scores_the_range_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, "24", project_rate="23.976")
    tl = editor.timeline
    tl.set_marks(100, 699)  # 600 frames: round(600 * 23.976 / 24) = 599 lands one short
    assert errors_in(editor.run("Score Marked Range")) == []
    (track,) = [t for t in tl.audio if t.name.startswith("GVMGen Score")]
    ((start, duration),) = [(i.start, i.duration) for i in track.items]
    assert (start, duration) == (tl.start + 100, 600)
    assert len(tl.audio) == 2


def test_a_batch_on_a_faster_timeline_leaves_no_cue_over_the_next(tmp_path, monkeypatch):
    """25 fps project, 50 fps timeline: a 25 fps WAV fills only even lengths there."""
    monkeypatch.setenv("FAKE_GVMGEN_LOG", str(tmp_path / "client-calls.jsonl"))
    editor = make_editor(tmp_path, "50", project_rate="25")
    tl = editor.timeline
    tl.AddMarker(501, "Blue", "cue B", "", 1, "")
    tl.AddMarker(901, "Blue", "cue C", "", 1, "")
    lines = editor.run("Score Whole Timeline")
    assert errors_in(lines) == []
    (track,) = [t for t in tl.audio if t.name.startswith("GVMGen Score")]
    clips = [(i.start - tl.start, i.duration) for i in sorted(track.items, key=lambda i: i.start)]
    assert clips == [(0, 500), (501, 400), (901, tl.length - 901 - 1)]  # 501 and 559: odd
    short = [line for line in lines if "1 frame short" in line]
    assert len(short) == 2 and "501" in short[0] and "50 fps" in short[0]
