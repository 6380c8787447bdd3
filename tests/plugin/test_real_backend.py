"""End to end: the menu scripts in the fake Resolve, the real `gvmgen client`, a real
`gvmgen serve` on the arranger, real media — the clip placed and read back."""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import soundfile
from gvmgen_plugin import installer

from tests.plugin.backend_process import running_backend
from tests.plugin.conftest import Editor, errors_in

SHOTS = (100, 80, 60)  # frames at 24 fps: three shots cut from one synthetic clip


def real_editor(tmp_path: Path, media: Path, data_dir: Path) -> Editor:
    from lupa import luajit21

    from tests.plugin.fake_resolve import FakeResolve

    target = installer.plan(scripts_dir=tmp_path / "Scripts")
    installer.install(target, say=lambda _: None)
    config = json.loads((target.folder / installer.CONFIG).read_text())
    assert config["gvmgen"] == installer.gvmgen_command(sys.platform)  # this venv's client
    config.update(scores_dir=str(tmp_path / "scores"), data_dir=str(data_dir), engine="arranger")
    (target.folder / installer.CONFIG).write_text(json.dumps(config))
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    lua.execute('collectgarbage("stop")')  # scoder/lupa#294, see conftest
    resolve = FakeResolve(lua, rate="24", scripts_root=tmp_path / "Scripts")
    offset = 0
    for i, frames in enumerate(SHOTS):
        resolve.timeline.add_video_clip(f"S{i + 1}", frames, str(media), source_start=offset)
        offset += frames
    return Editor(lua, resolve, tmp_path / "Scripts", target.folder)


@pytest.mark.slow
def test_score_and_regenerate_through_the_real_backend(tmp_path, media_dir):
    from gvmgen.media.synth import make_test_clip

    media = make_test_clip(
        media_dir / "three-shots.mp4", rate=Fraction(24), duration=10.0, cut_frames=(100, 180)
    )
    data_dir = tmp_path / "data"
    editor = real_editor(tmp_path, media, data_dir)
    tl = editor.timeline
    tl.set_marks(24, 215)  # 192 frames = 8 s, across both cuts
    with running_backend(data_dir):
        assert errors_in(editor.run("Score Marked Range")) == []
        ((item,),) = [t.items for t in tl.audio if t.name == "GVMGen Score"]
        assert (item.start, item.duration) == (86400 + 24, 192)
        info = soundfile.info(item.mpi.path)
        assert info.samplerate == 48000 and info.frames == 192 * 2000  # exactly the range
        report = json.loads(Path(item.mpi.path).parents[2].joinpath("report.json").read_text())
        (marker,) = item.markers.values()
        assert marker["customData"] == report["job_id"]

        status = editor.run("GVMGen Status")
        assert any("backend up" in line and "engine=arranger" in line for line in status)
        assert any(f"job_id={report['job_id']}" in line for line in status)

        tl.selected = [item]
        assert errors_in(editor.run("Regenerate Selected Clip")) == []
        ((again,),) = [t.items for t in tl.audio if t.name == "GVMGen Score"]
        assert (again.start, again.duration) == (item.start, item.duration)
        assert "take-02" in again.mpi.path and Path(item.mpi.path).exists()


def test_with_no_backend_running_the_editor_is_told_how_to_start_it(tmp_path):
    editor = real_editor(tmp_path, tmp_path / "missing.mp4", tmp_path / "no-server")
    editor.timeline.set_marks(0, 47)
    before = editor.timeline.snapshot()
    (message,) = errors_in(editor.run("Score Marked Range"))
    assert "gvmgen serve" in message and "\n" not in message
    assert editor.timeline.snapshot() == before
