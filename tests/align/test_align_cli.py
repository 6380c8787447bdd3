"""`gvmgen align` as other tools call it: the WAV, the report, and exit 2 on bad input."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
import soundfile as sf
from align_music import make_music
from conftest import RATE

from gvmgen.cli import main

CUTS = "2.37,4.94,7.94"


@pytest.fixture(scope="module")
def music_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("music") / "music.wav"
    sf.write(path, make_music(97, 9.0, RATE).T, RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def aligned_run(music_wav, tmp_path_factory):
    folder = tmp_path_factory.mktemp("out")
    out, report = folder / "aligned.wav", folder / "report.json"
    code = main(["align", str(music_wav), "--cuts", CUTS, "-o", str(out), "--report", str(report)])
    return code, out, report


def test_writes_exact_length_24_bit_wav_at_the_music_rate(aligned_run, music_wav):
    code, out, _ = aligned_run
    assert code == 0
    info, source = sf.info(out), sf.info(music_wav)
    assert (info.samplerate, info.frames, info.subtype) == (RATE, source.frames, "PCM_24")


def test_report_holds_the_contract_fields(aligned_run):
    _, _, report = aligned_run
    data = json.loads(report.read_text())
    for key in ("hit_rate_50ms", "hit_rate_1frame", "max_stretch", "splices", "duration"):
        assert key in data
    assert data["hit_rate_1frame"] == 1.0
    assert data["max_stretch"] <= 0.06 + 1e-9
    assert data["duration"] == pytest.approx(9.0)
    assert [c["time"] for c in data["per_cut"]] == [2.37, 4.94, 7.94]
    assert all({"time", "hit", "offset_ms"} <= set(c) for c in data["per_cut"])


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory):
    from gvmgen.media.synth import make_test_clip

    path = tmp_path_factory.mktemp("video") / "silent.mp4"
    return make_test_clip(path, rate=Fraction(24), duration=2.0, size=(64, 36))


BAD = {
    "missing-music": (["{tmp}/nope.wav", "--cuts", "1"], "not found"),
    "no-audio": (["{silent}", "--cuts", "1"], "no audio"),
    "cut-not-a-number": (["{music}", "--cuts", "1,abc"], "'abc'"),
    "negative-cut": (["{music}", "--cuts", "1,-2"], "'-2'"),
    "cut-beyond-end": (["{music}", "--cuts", "1,30"], "beyond the end"),
    "no-cuts": (["{music}", "--cuts", ","], "no cut times"),
    "stretch-zero": (["{music}", "--cuts", "1", "--max-stretch", "0"], "--max-stretch"),
    "stretch-huge": (["{music}", "--cuts", "1", "--max-stretch", "0.7"], "--max-stretch"),
    "missing-out-folder": (["{music}", "--cuts", "1", "-o", "{tmp}/no/such/x.wav"], "not found"),
    "not-a-wav": (["{music}", "--cuts", "1", "-o", "{tmp}/out.mp3"], ".wav"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_and_no_output(
    case, music_wav, silent_video, tmp_path, capsys
):
    argv, needle = BAD[case]
    names = {"tmp": tmp_path, "music": music_wav, "silent": silent_video}
    argv = [a.format(**names) for a in argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out.wav")]
    code = main(["align", *argv, "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and needle in err[0], err
    assert not any(p.suffix in (".wav", ".json", ".mp3") for p in tmp_path.rglob("*"))


def test_cuts_from_a_video_uses_its_cuts_and_frame_rate(tmp_path):
    pytest.importorskip("gvmgen.analysis")
    from gvmgen.media import cuts as cut_module

    if not hasattr(cut_module, "merge_cuts"):
        pytest.skip("gvmgen.media.cuts is still being built (no merge_cuts yet)")
    from gvmgen.media.synth import make_test_clip

    audio = make_music(97, 8.0, 48000)
    video = make_test_clip(
        tmp_path / "clip.mp4",
        rate=Fraction(25),
        duration=8.0,
        cut_frames=(59, 123, 198),
        size=(96, 64),
        audio=audio,
        audio_rate=48000,
    )
    out, report = tmp_path / "o.wav", tmp_path / "r.json"
    code = main(
        ["align", str(video), "--cuts-from", str(video), "-o", str(out), "--report", str(report)]
    )
    data = json.loads(report.read_text())
    assert code == 0
    assert data["fps"] == pytest.approx(25.0)
    hard = [
        c for c in data["per_cut"] if any(abs(c["time"] - f / 25) < 0.021 for f in (59, 123, 198))
    ]
    assert len(hard) == 3  # the detector may add gradual transitions; the hard cuts must be there
    assert all(c["hit_1frame"] for c in hard), hard
