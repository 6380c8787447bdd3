"""The output folder under a service: concurrent jobs, a corrupt report, unwritable folders,
file modes."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from service_helpers import snapshot

from gvmgen.cli import main
from gvmgen.errors import OutputError
from gvmgen.pipeline import score

BARRIER_SECONDS = 60.0


def test_two_concurrent_jobs_into_one_folder_make_two_complete_takes(cut_clip, tmp_path):
    out = tmp_path / "shared"
    both_rendering = threading.Barrier(2, timeout=BARRIER_SECONDS)
    results, errors = {}, []

    def job(name: str) -> None:
        waited = False

        def on_event(event) -> None:
            nonlocal waited
            if event.stage == "generate" and not waited:  # both have reserved their take
                waited = True
                both_rendering.wait()

        try:
            results[name] = score(
                {"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger"},
                on_event=on_event,
            )
        except Exception as error:  # reported below, on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=job, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.take for r in results.values()) == [1, 2]
    last = max(results.values(), key=lambda r: len(r.takes))
    assert [t.take for t in last.takes] == [1, 2]
    assert len({t.seed for t in last.takes}) == 2
    one, two = (sf.read(t.wavs[0])[0] for t in last.takes)
    assert one.shape == two.shape and not np.allclose(one, two)
    for result in results.values():  # each job's own WAVs are where its result says
        (take,) = [t for t in last.takes if t.take == result.take]
        assert take.wavs == result.takes[[t.take for t in result.takes].index(result.take)].wavs
        assert all(Path(w).exists() for w in take.wavs)
    assert not list(out.glob(".staging-*"))


def test_a_corrupt_report_is_an_error_and_nothing_changes(cut_clip, tmp_path, capsys):
    out = tmp_path / "out"
    score({"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger", "range": "0-6"})
    (out / "report.json").write_text('{"takes": [ {"take": 1,', encoding="utf-8")
    before = snapshot(out)
    code = main(["score", str(cut_clip[0]), "--out", str(out), "--range", "0-6"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "report.json" in err and "unreadable" in err
    assert snapshot(out) == before


def test_an_out_path_under_a_file_is_one_line(cut_clip, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code = main(["score", str(cut_clip[0]), "--out", str(blocker / "out"), "--range", "0-6"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "must be a folder" in err and "a-file" in err
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    "raised",
    [
        pytest.param(PermissionError(errno.EACCES, "Permission denied"), id="permission"),
        pytest.param(OSError(errno.EROFS, "Read-only file system"), id="read-only"),
        pytest.param(FileNotFoundError(errno.ENOENT, "No such file or directory"), id="gone"),
    ],
)
def test_a_folder_that_refuses_writes_is_an_output_error(cut_clip, tmp_path, monkeypatch, raised):
    out = tmp_path / "locked" / "out"
    real_mkdir = Path.mkdir

    def refusing_mkdir(self, *args, **kwargs):
        if self == out.parent.resolve():  # a parent that must be made first
            raised.filename = str(self)
            raise raised
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refusing_mkdir)
    with pytest.raises(OutputError, match="cannot write to --out") as caught:
        score({"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger"})
    assert caught.value.to_dict()["field"] == "out_dir"
    assert caught.value.code == "output_not_writable"
    assert not out.exists()


def test_outputs_follow_the_umask(cut_clip, tmp_path):
    old = os.umask(0o022)
    try:
        score({"input": str(cut_clip[0]), "out_dir": str(tmp_path / "o"), "engine": "arranger"})
    finally:
        os.umask(old)
    modes = {
        p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in (tmp_path / "o").rglob("*")
        if p.is_file()
    }
    assert modes and set(modes.values()) == {0o644}, modes


TONE_HZ = 3000.0  # the source's own sound: a tone the arranger's music hardly has


def _amplitude_at(audio: np.ndarray, hz: float, rate: int = 48000) -> float:
    """Peak amplitude of the sinusoid at `hz` in mono `audio` (Hann-windowed FFT)."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) / (len(audio) / 4)
    return float(spectrum[round(hz * len(audio) / rate)])


def test_score_preview_has_picture_music_and_the_original_sound_ducked(media_dir, tmp_path):
    import av

    from gvmgen.media.synth import make_test_clip
    from gvmgen.report import PREVIEW_DUCK_DB

    t = np.arange(6 * 48000) / 48000
    tone = np.repeat((0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)[None], 2, 0)
    clip = make_test_clip(media_dir / "with-sound.mp4", duration=6.0, cut_frames=(53,), audio=tone)
    out = tmp_path / "p"
    assert main(["score", str(clip), "--out", str(out), "--preview", "--engine", "arranger"]) == 0
    with av.open(str(out / "preview.mp4")) as container:
        assert container.streams.video and container.streams.audio
        duration = float(container.duration) / av.time_base
        heard = np.concatenate(
            [f.to_ndarray() for f in container.decode(container.streams.audio[0])], axis=1
        ).mean(axis=0)[48000 : 5 * 48000]
    music = sf.read(out / "takes" / "take-01" / "cue-01.wav")[0].mean(axis=1)[48000 : 5 * 48000]
    assert abs(duration - 6.0) < 0.2
    assert np.sqrt(np.mean(heard**2)) > 0.05  # the music is there
    ducked = 0.5 * 10 ** (PREVIEW_DUCK_DB / 20)
    assert _amplitude_at(music, TONE_HZ) < 0.01 * ducked  # the tone is not the music's
    assert abs(20 * np.log10(_amplitude_at(heard, TONE_HZ) / ducked)) < 1.5


def test_an_extra_timeline_that_cannot_be_written_is_a_warning(
    three_cue_timeline, tmp_path, monkeypatch
):
    import json

    import opentimelineio as otio

    from gvmgen import timeline as tl
    from gvmgen.errors import TimelineError

    xml = tmp_path / "cut.xml"
    otio.adapters.write_to_file(
        otio.adapters.read_from_file(str(three_cue_timeline)), str(xml), adapter_name="fcp_xml"
    )
    write_timeline = tl.write_timeline

    def no_xml(timeline, target, *args, **kwargs):
        if Path(target).suffix == ".xml":
            raise TimelineError("fcp_xml cannot hold this timeline")
        return write_timeline(timeline, target, *args, **kwargs)

    monkeypatch.setattr(tl, "write_timeline", no_xml)
    out = tmp_path / "x"
    result = score(
        {"input": str(xml), "out_dir": str(out), "engine": "arranger", "range": "f0-f200"}
    )
    assert result.extra_timelines == [] and not (out / "score.xml").exists()
    (warning,) = result.warnings
    assert warning.startswith("score.xml not written")
    assert json.loads((out / "report.json").read_text())["warnings"] == [warning]
